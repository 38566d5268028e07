// The plainest static host: files of one folder with a Content-Type and nothing else (no
// cross-origin isolation headers, no cache headers, no ranges), as a student's or teacher's web
// space would serve the build. `down` makes it drop every connection, as a stopped server would.
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.css': 'text/css',
};

export interface PlainStaticServer {
  url: string;
  /** While true, every request is cut off without an answer. */
  down: boolean;
  /** Paths asked for so far (also while down). */
  requests: string[];
  /** Paths whose next request is cut off (each once), as a flaky network would. */
  failOnce: Set<string>;
  close(): Promise<void>;
}

export async function startPlainStaticServer(dir: string): Promise<PlainStaticServer> {
  const root = normalize(dir + sep);
  const state = { down: false, requests: [] as string[], failOnce: new Set<string>() };
  const server: Server = createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    state.requests.push(pathname);
    if (state.down || state.failOnce.delete(pathname)) return void req.socket.destroy();
    const file = normalize(join(root, pathname.endsWith('/') ? `${pathname}index.html` : pathname));
    if (!file.startsWith(root) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return void res.end('not found');
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return Object.assign(state, {
    url: `http://localhost:${port}/`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}
