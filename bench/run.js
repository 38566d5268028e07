#!/usr/bin/env node
// `npm run bench -- NAME [args]` runs bench/NAME.js; without NAME it lists the benchmarks.
// Each benchmark measures against a reference in the same run and prints a Markdown section
// that belongs in bench/RESULTS.md together with the command that produced it.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...rest] = process.argv.slice(2);
if (!name) {
  console.log('benchmarks: ' + (names.join(', ') || '(none yet)'));
  console.log('usage: npm run bench -- NAME [args]');
  process.exit(0);
}
if (!names.includes(name)) {
  process.stderr.write(`bench: no benchmark named '${name}' (have: ${names.join(', ')})\n`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [join(here, name + '.js'), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
