#!/usr/bin/env node
// Launcher for the `tabvisor` command line; the code lives in src/cli (compiled to dist/cli).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('tabvisor: not built yet; run `npm run build` in ' + root + '\n');
  process.exit(2);
}
await import(main);
