#!/usr/bin/env node
// `npm run bench -- hv-snapshot [--runs N] [--write]`: how long an RV64 VM (riscv64-busybox
// booted to its shell, 64 MiB and 128 MiB) is paused when the Hypervisor snapshots it and when
// it restores a snapshot into it, and how big the snapshot file is. Real worker_threads hosts
// (nodeWorkerHosts), the VM time-sliced by its host. The pause is timed around the host calls
// the hypervisor makes (a HostFactory wrapper records them): from the moment `pause` is sent to
// the moment `resume` has returned, comlink round trips included. The whole snapshot() and
// restore() calls are timed too (they also encode, compress and hash the file outside the pause).
// Prints a Markdown section; --write also puts it into bench/RESULTS.md (this section only).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'hypervisor', 'node-hosts.js'))) {
  process.stderr.write('hv-snapshot: dist/ is not built; run `npm run build:ts` first\n');
  process.exit(2);
}
const { Hypervisor } = await import(join(dist, 'hypervisor', 'hypervisor.js'));
const { nodeWorkerHosts } = await import(join(dist, 'hypervisor', 'node-hosts.js'));

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const WRITE = args.includes('--write');
if (!Number.isInteger(RUNS) || RUNS < 1) {
  process.stderr.write('hv-snapshot: --runs needs a positive whole number\n');
  process.exit(2);
}
const SIZES = [64, 128];

const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));
const image = manifest.images.find((i) => i.name === 'riscv64-busybox');
if (!image) {
  process.stderr.write('hv-snapshot: no riscv64-busybox image in images/manifest.json\n');
  process.exit(2);
}

/** Host calls as the hypervisor makes them, with their start and end times. */
const calls = [];
function timedHosts(factory) {
  return async (index) => {
    const connection = await factory(index);
    const port = connection.port;
    const timed = { ...port };
    for (const name of ['pause', 'resume', 'saveState', 'loadState']) {
      timed[name] = async (...a) => {
        const start = performance.now();
        const result = await port[name](...a);
        calls.push({ name, start, end: performance.now() });
        return result;
      };
    }
    return { ...connection, port: timed };
  };
}

/** From the first `pause` sent to the last `resume` returned, among calls made since `from`. */
function pauseSpan(from) {
  const mine = calls.slice(from);
  const pause = mine.find((c) => c.name === 'pause');
  const resume = mine.findLast((c) => c.name === 'resume');
  if (!pause || !resume) throw new Error(`no pause/resume pair among ${mine.map((c) => c.name).join(', ')}`);
  const part = (name) => mine.filter((c) => c.name === name).reduce((ms, c) => ms + (c.end - c.start), 0);
  return { pauseMs: resume.end - pause.start, saveMs: part('saveState'), loadMs: part('loadState') };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

let probe = 0;
async function shellAnswers(hv, ref) {
  const n = ++probe;
  const from = hv.consoleOffset(ref);
  // The echoed command reads probe-$((0+n)); only the answer reads probe-n.
  await hv.sendConsole(ref, `echo probe-$((0+${n}))\n`);
  await hv.waitForConsole(ref, `probe-${n}\r\n`, { from, timeoutMs: 60_000 });
}

const hv = new Hypervisor({
  images: manifest.images,
  memoryBudgetBytes: 1024 * 1024 * 1024,
  hosts: timedHosts(nodeWorkerHosts({ root })),
  poolSize: 1,
});
const load0 = loadavg()[0];
const rows = [];
try {
  for (const mib of SIZES) {
    const name = `snap-${mib}`;
    await hv.create({ image: image.name, name, memoryMiB: mib });
    await hv.start(name);
    await hv.waitUntilReady(name, 120_000);
    await shellAnswers(hv, name);
    const snap = [];
    const rest = [];
    let fileBytes = 0;
    for (let i = 0; i < RUNS; i++) {
      let at = calls.length;
      let t0 = performance.now();
      const file = await hv.snapshot(name);
      snap.push({ ...pauseSpan(at), callMs: performance.now() - t0 });
      fileBytes = file.length;
      await shellAnswers(hv, name);
      at = calls.length;
      t0 = performance.now();
      await hv.restore(name, file);
      rest.push({ ...pauseSpan(at), callMs: performance.now() - t0 });
      await shellAnswers(hv, name); // the restored machine works
      process.stderr.write(
        `hv-snapshot: ${mib} MiB run ${i + 1}/${RUNS}: snapshot pause ${snap[i].pauseMs.toFixed(1)} ms, restore pause ${rest[i].pauseMs.toFixed(1)} ms, file ${fileBytes} bytes\n`,
      );
    }
    const stats = await hv.stats(name);
    rows.push({ mib, snap, rest, fileBytes, instructions: stats.instructions });
    await hv.stop(name);
    await hv.delete(name);
  }
} finally {
  await hv.shutdown();
}
const load1 = loadavg()[0];

const f1 = (x) => x.toFixed(1);
const lines = [];
lines.push('## hv-snapshot: RV64 snapshot and restore pause through the Hypervisor (bench/hv-snapshot.js)');
lines.push('');
lines.push(
  `Image: images/riscv64-busybox booted to its shell, at 64 and 128 MiB; one worker_threads host (nodeWorkerHosts, ` +
    `the VM in its host's slice loop). ${RUNS} runs each of \`hv.snapshot()\` (running VM: pause, save, resume, then ` +
    `encode the file) and \`hv.restore()\` of that file into the running VM (pause, load in place, resume); the ` +
    `shell answers after each. **Pause** = from the hypervisor sending \`pause\` to \`resume\` returning, comlink ` +
    `round trips included. ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), ` +
    `Node ${process.version}, load average ${load0.toFixed(2)} at the start and ${load1.toFixed(2)} at the end.`,
);
lines.push('');
lines.push('| guest RAM | snapshot pause ms (median) | of which saveState | snapshot() call ms | restore pause ms (median) | of which loadState | restore() call ms | snapshot file |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  lines.push(
    `| ${r.mib} MiB | **${f1(median(r.snap.map((s) => s.pauseMs)))}** (min ${f1(Math.min(...r.snap.map((s) => s.pauseMs)))}, max ${f1(Math.max(...r.snap.map((s) => s.pauseMs)))}) ` +
      `| ${f1(median(r.snap.map((s) => s.saveMs)))} | ${f1(median(r.snap.map((s) => s.callMs)))} ` +
      `| **${f1(median(r.rest.map((s) => s.pauseMs)))}** (min ${f1(Math.min(...r.rest.map((s) => s.pauseMs)))}, max ${f1(Math.max(...r.rest.map((s) => s.pauseMs)))}) ` +
      `| ${f1(median(r.rest.map((s) => s.loadMs)))} | ${f1(median(r.rest.map((s) => s.callMs)))} | ${(r.fileBytes / 1e6).toFixed(2)} MB |`,
  );
}
lines.push('');
lines.push(`Command: \`npm run build:ts && npm run bench -- hv-snapshot --runs ${RUNS}${WRITE ? ' --write' : ''}\``);
lines.push('');
const section = lines.join('\n');
process.stdout.write(section);
if (WRITE) {
  const results = join(root, 'bench', 'RESULTS.md');
  const begin = '<!-- hv-snapshot:begin -->';
  const end = '<!-- hv-snapshot:end -->';
  const block = `${begin}\n${section}${end}\n`;
  let text = readFileSync(results, 'utf8');
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length + 1) : text.trimEnd() + '\n\n' + block;
  writeFileSync(results, text);
  process.stderr.write('hv-snapshot: section written to bench/RESULTS.md\n');
}
