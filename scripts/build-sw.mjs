#!/usr/bin/env node
// Writes the service worker into a built app: DIR/sw.js = the build's file list + the compiled
// src/sw/service-worker.ts (dist/sw/service-worker.js, from `npm run build:ts`). The build id is
// a hash of every file's path and bytes, so any change to the build (code, images, templates)
// makes a new sw.js, which the browser installs in place of the old one with a fresh cache.
// Run after vite and build-templates (npm run build does). Usage: node scripts/build-sw.mjs [--dir DIR]

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const dirIndex = args.indexOf('--dir');
const dir = dirIndex >= 0 ? args[dirIndex + 1] : join(root, 'web-dist');
const source = join(root, 'dist', 'sw', 'service-worker.js');

function fail(message) {
  process.stderr.write(`build-sw: ${message}\n`);
  process.exit(2);
}
if (!dir || !existsSync(join(dir, 'index.html'))) fail(`${dir ?? '(no --dir)'} is not a built app (no index.html; run npm run build)`);
if (!existsSync(source)) fail(`${relative(root, source)} is missing (run npm run build:ts)`);

/** Every file below `dir`, as URL paths relative to it, sorted. */
function listFiles(base, at = base) {
  const out = [];
  for (const entry of readdirSync(at)) {
    const path = join(at, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(base, path));
    else out.push(relative(base, path).split(sep).join('/'));
  }
  return out.sort();
}

const files = listFiles(dir).filter((path) => path !== 'sw.js' && !path.endsWith('.map'));
const hash = createHash('sha256');
for (const path of files) hash.update(`${path}\0`).update(readFileSync(join(dir, path))).update('\0');
// The worker's own code is part of the build too.
const code = readFileSync(source, 'utf8')
  .replace(/^\/\/# sourceMappingURL=.*$/m, '')
  .replace(/^export \{\};$/m, '');
hash.update(code);
const build = hash.digest('hex').slice(0, 16);

// Image files (kernels, initrds, disks) are needed only to boot or reset a VM: kept when used.
const onUse = files.filter((path) => path.startsWith('images/') && path !== 'images/manifest.json');
const precache = files.filter((path) => !onUse.includes(path));
const list = { build, precache, onUse };
writeFileSync(join(dir, 'sw.js'), `// Tabvisor service worker, build ${build} (scripts/build-sw.mjs)\nself.TABVISOR_BUILD = ${JSON.stringify(list)};\n${code}`);
const size = (paths) => paths.reduce((sum, path) => sum + statSync(join(dir, path)).size, 0);
console.log(`build-sw: build ${build}: ${precache.length} files precached (${(size(precache) / 2 ** 20).toFixed(1)} MiB), ${onUse.length} kept on use`);
