#!/usr/bin/env node
// `npm start`: builds the app when its sources are newer than web-dist/, then serves web-dist/
// on localhost (port $PORT, default 8080; PORT=0 picks a free one) with cross-origin isolation
// headers (optional for the page: it runs from any static host), and prints the URL.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const webDist = join(repoRoot, 'web-dist');

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Headers on every response by default: they make the page cross-origin isolated (precise timers).
 * Nothing in the app needs it (no SharedArrayBuffer): the build also runs from a plain host.
 */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Newest modification time (ms) of a file, or of any file below a directory. */
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** The files a build reads: page, config, sources, the image manifest and the files it names. */
function buildInputs() {
  const inputs = ['index.html', 'vite.config.ts', 'package-lock.json', 'src', 'public', 'labs', 'images/manifest.json'].map((p) => join(repoRoot, p));
  try {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8'));
    for (const image of manifest.images ?? []) for (const file of Object.keys(image.sha256 ?? {})) inputs.push(join(repoRoot, file));
  } catch {
    // No readable manifest: the build itself will say what is wrong.
  }
  return inputs;
}

/** True when web-dist/ is missing or older than anything it is built from. */
export function needsBuild() {
  const built = join(webDist, 'index.html');
  // sw.js is written last: without it the build did not finish (or predates the service worker).
  if (!existsSync(built) || !existsSync(join(webDist, 'sw.js'))) return true;
  const builtAt = statSync(built).mtimeMs;
  return buildInputs().some((input) => newestMtime(input) > builtAt);
}

/** Runs `vite build`; throws when it fails. */
export function buildApp() {
  const vite = join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`vite build failed (exit status ${result.status ?? result.signal})`);
  // vite empties web-dist/: put the pre-booted lab templates back (cached by key, so cheap).
  const templates = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-templates.mjs')], { cwd: repoRoot, stdio: 'inherit' });
  if (templates.status !== 0) throw new Error(`building the lab templates failed (exit status ${templates.status ?? templates.signal})`);
  // Last: the service worker lists (and hashes) every file of the build.
  const sw = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-sw.mjs')], { cwd: repoRoot, stdio: 'inherit' });
  if (sw.status !== 0) throw new Error(`writing the service worker failed (exit status ${sw.status ?? sw.signal})`);
}

/**
 * A static file server for `dir`. Only GET and HEAD. It sends the isolation headers unless
 * `isolation` is false (the page does not need them: bench/lab-reload.js measures without).
 */
export function createAppServer(dir = webDist, { isolation = true } = {}) {
  const rootDir = normalize(dir + sep);
  const headers = isolation ? ISOLATION_HEADERS : {};
  return createServer((req, res) => {
    const send = (status, text) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : text + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return send(400, 'bad request');
    }
    if (pathname.endsWith('/')) pathname += 'index.html';
    const file = normalize(join(rootDir, pathname));
    if (!file.startsWith(rootDir)) return send(403, 'forbidden');
    let stat;
    try {
      stat = statSync(file);
    } catch {
      return send(404, 'not found');
    }
    if (!stat.isFile()) return send(404, 'not found');
    res.writeHead(200, {
      ...headers,
      'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      // Hashed bundles could be cached forever; a small local server keeps it simple and fresh.
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
}

async function main() {
  const port = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`start: PORT must be a port number, not "${process.env.PORT}"\n`);
    process.exit(2);
  }
  if (needsBuild()) {
    process.stdout.write('Building the app (vite build) ...\n');
    buildApp();
  }
  const server = createAppServer();
  server.on('error', (err) => {
    const hint =
      err.code === 'EADDRINUSE'
        ? `port ${port} is in use (another Tabvisor or another server?); pick another with PORT, e.g. PORT=${port === 8080 ? 8081 : port + 1} npm start, or PORT=0 for any free port`
        : err.message;
    process.stderr.write(`start: cannot serve on port ${port}: ${hint}\n`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    process.stdout.write(`Tabvisor is running at http://localhost:${actual}/  (Ctrl+C to stop)\n`);
  });
  // A static server has nothing to flush: stop at once, open connections or not.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
