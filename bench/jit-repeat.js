#!/usr/bin/env node
// `npm run bench -- jit-repeat [--reps N] [--rounds N] [--only PREFIX] [--previous DIR]`: what the
// JIT gives a workload on its first run and once warm. Boots riscv64-busybox on Rv64Machine
// (real-time, the JIT as the environment sets it: TABVISOR_JIT, TABVISOR_JIT_THRESHOLD, ...),
// types each workload of bench/_workloads.js --reps times at its shell and takes the wall time
// from typing to the end marker. --previous DIR: another build of the project (its dist/ and
// build/, e.g. a `git worktree` of the previous commit after `npm run build:core && npx tsc`)
// measured in the same run, one process per round and version, alternating. Prints a Markdown
// table (medians over the rounds). A process of its own per measurement: `--child ROOT`.
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { WORKLOADS } from './_workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const fail = (line) => {
  process.stderr.write(`jit-repeat: ${line}\n`);
  process.exit(2);
};
const REPS = Number(opt('--reps', '3'));
const ROUNDS = Number(opt('--rounds', '2'));
const ONLY = opt('--only', '');
const PREVIOUS = opt('--previous', undefined);
const CHILD = opt('--child', undefined);
const workloads = WORKLOADS.filter((w) => w.name.startsWith(ONLY));

if (CHILD !== undefined) {
  // One measurement: the build at CHILD, the image of this tree.
  const { Rv64Machine } = await import(join(CHILD, 'dist', 'engines', 'rv64', 'machine.js'));
  const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));
  const e = manifest.images.find((i) => i.name === 'riscv64-busybox');
  const files = { firmware: readFileSync(join(root, e.firmware)), kernel: readFileSync(join(root, e.kernel)), initrd: readFileSync(join(root, e.initrd)) };
  const module = await WebAssembly.compile(readFileSync(join(CHILD, 'build', 'rv64.wasm')));
  let out = '';
  const m = new Rv64Machine({ module, memoryBytes: 128 << 20, ...files, cmdline: 'console=ttyS0', output: (d) => (out += Buffer.from(d).toString('latin1')) });
  const until = async (needle, from = 0) => {
    const deadline = performance.now() + 600_000;
    for (;;) {
      const r = m.runSlice(100_000);
      if (out.includes(needle, from)) return;
      if (r.exit) throw new Error(`the machine stopped: ${JSON.stringify(r.exit)}`);
      if (performance.now() > deadline) throw new Error(`no '${needle}' within 600 s`);
      await new Promise((res) => (r.idle ? setTimeout(res, Math.max(0, Math.ceil(r.idle.msUntilTimer ?? 1))) : setImmediate(res)));
    }
  };
  const t0 = performance.now();
  await until('tabvisor-guest-ready');
  await until('# ');
  const result = { bootMs: performance.now() - t0, runs: {} };
  let n = 0;
  for (const w of workloads) {
    result.runs[w.name] = [];
    for (let r = 0; r < REPS; r++) {
      const from = out.length;
      const t = performance.now();
      n++;
      m.sendSerial(new TextEncoder().encode(`${w.cmd}; echo "@@E""${n}@@"\n`));
      await until(`@@E${n}@@`, from);
      result.runs[w.name].push(performance.now() - t);
    }
  }
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

if (!Number.isInteger(REPS) || REPS < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) fail('--reps and --rounds need positive whole numbers');
if (workloads.length === 0) fail(`no workload starts with '${ONLY}' (have: ${WORKLOADS.map((w) => w.name).join('; ')})`);
for (const dir of [root, ...(PREVIOUS ? [resolve(PREVIOUS)] : [])]) {
  if (!existsSync(join(dir, 'dist', 'engines', 'rv64', 'machine.js')) || !existsSync(join(dir, 'build', 'rv64.wasm'))) {
    fail(`${dir} has no dist/ and build/rv64.wasm (npm run build:core && npm run build:ts there)`);
  }
}
const versions = [...(PREVIOUS ? [{ label: 'previous', dir: resolve(PREVIOUS) }] : []), { label: 'current', dir: root }];
const load0 = loadavg()[0];
const results = new Map(versions.map((v) => [v.label, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const v of versions) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', v.dir, '--reps', String(REPS), '--only', ONLY], { encoding: 'utf8', env: process.env });
    if (r.status !== 0) fail(`${v.label} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
    results.get(v.label).push(JSON.parse(r.stdout));
    process.stderr.write(`jit-repeat: round ${round + 1}/${ROUNDS}, ${v.label} done\n`);
  }
}
const load1 = loadavg()[0];
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const env = Object.entries(process.env).filter(([k]) => k.startsWith('TABVISOR_JIT')).map(([k, v]) => `${k}=${v}`).join(' ');
const lines = [];
lines.push(`Wall ms from typing to the end marker, run 1..${REPS} of each workload in one VM (median of ${ROUNDS} round(s), one process each${PREVIOUS ? ', versions alternating' : ''});`);
lines.push(`${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, load average ${load0.toFixed(2)} at the start and ${load1.toFixed(2)} at the end${env ? `; ${env}` : ''}.`);
lines.push('');
const runCols = Array.from({ length: REPS }, (_, i) => `run ${i + 1}`);
lines.push(`| workload | version | ${runCols.join(' | ')} |${PREVIOUS ? ' previous / current (last run) |' : ''}`);
lines.push(`|---|---|${runCols.map(() => '---:').join('|')}|${PREVIOUS ? '---:|' : ''}`);
const med = (label, name, i) => median(results.get(label).map((r) => r.runs[name][i]));
for (const w of workloads) {
  for (const v of versions) {
    const cells = runCols.map((_, i) => med(v.label, w.name, i).toFixed(0));
    const ratio = PREVIOUS && v.label === 'current' ? ` **${(med('previous', w.name, REPS - 1) / med('current', w.name, REPS - 1)).toFixed(2)}x** |` : PREVIOUS ? ' |' : '';
    lines.push(`| ${w.name} | ${v.label} | ${cells.join(' | ')} |${ratio}`);
  }
}
for (const v of versions) lines.push(`\nBoot to the shell (${v.label}): ${median(results.get(v.label).map((r) => r.bootMs)).toFixed(0)} ms (median).`);
lines.push('');
lines.push(`Command: \`${env ? env + ' ' : ''}node bench/jit-repeat.js --reps ${REPS} --rounds ${ROUNDS}${ONLY ? ` --only '${ONLY}'` : ''}${PREVIOUS ? ` --previous ${PREVIOUS}` : ''}\``);
process.stdout.write(lines.join('\n') + '\n');
