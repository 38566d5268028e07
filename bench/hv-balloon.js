#!/usr/bin/env node
// `npm run bench -- hv-balloon [--mib N] [--fill N] [--write]`: does memory a guest used and freed go
// back to the host? A riscv64-busybox VM of --mib MiB (512) in a worker_threads host, booted to
// its shell, writes --fill MiB (300) of data into /tmp (tmpfs: guest RAM), removes it, and
// free page reporting zeroes what the guest reports free. Measured at each step: the process's
// RSS, the resident part of the wasm memories (from /proc/self/smaps: mappings of at least
// 256 MiB, the cores' memories), and the size of a snapshot of the VM. The reference, in the
// same run, is the same VM before `hv.reclaimMemory` (the pages are zero but still resident: a
// wasm memory never shrinks); then `hv.reclaimMemory` moves the machine into a new core that
// holds only the non-zero pages.
// Prints a Markdown section; --write also puts it into bench/RESULTS.md (this section only).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { writeSection } from './_sections.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'hypervisor', 'node-hosts.js'))) {
  process.stderr.write('hv-balloon: dist/ is not built; run `npm run build:ts` first\n');
  process.exit(2);
}
const { Hypervisor } = await import(join(dist, 'hypervisor', 'hypervisor.js'));
const { nodeWorkerHosts } = await import(join(dist, 'hypervisor', 'node-hosts.js'));
const { runInGuest } = await import(join(dist, 'hypervisor', 'guest-command.js'));

const args = process.argv.slice(2);
const num = (flag, dflt) => {
  const at = args.indexOf(flag);
  if (at < 0) return dflt;
  const v = Number(args[at + 1]);
  if (!Number.isInteger(v) || v <= 0) {
    process.stderr.write(`hv-balloon: ${flag} needs a positive whole number of MiB\n`);
    process.exit(2);
  }
  return v;
};
const MEM = num('--mib', 512);
const FILL = num('--fill', 300);
const WRITE = args.includes('--write');
if (FILL > MEM - 128) {
  process.stderr.write(`hv-balloon: --fill ${FILL} leaves the guest too little of its ${MEM} MiB (keep 128 MiB)\n`);
  process.exit(2);
}
const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));

/**
 * Process RSS and the resident part of the cores' wasm memories, in MiB: the mappings of
 * /proc/self/smaps whose size is the VM's RAM plus the core's own area (under 4 MiB more).
 */
function memory() {
  let size = 0;
  let wasm = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    let m;
    if ((m = /^Size:\s+(\d+) kB/.exec(line))) size = Number(m[1]);
    else if ((m = /^Rss:\s+(\d+) kB/.exec(line)) && size >= MEM * 1024 && size < (MEM + 4) * 1024) wasm += Number(m[1]);
  }
  return { rss: process.memoryUsage().rss / MiB, wasm: wasm / 1024 };
}

const load0 = loadavg()[0];
const hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 2 * MEM * MiB, poolSize: 1, hosts: nodeWorkerHosts({ root }) });
const rows = [];
let reclaim;
const snapshots = {};
try {
  const vm = (await hv.create({ image: 'riscv64-busybox', name: 'balloon', memoryMiB: MEM })).id;
  await hv.start(vm);
  await hv.waitUntilReady(vm, 300_000);
  await runInGuest(hv, vm, 'true', { timeoutMs: 120_000 });
  const step = async (label) => {
    const m = memory();
    const stats = await hv.stats(vm);
    rows.push({ label, ...m, reported: stats.freedReportedBytes ?? 0 });
    process.stderr.write(`hv-balloon: ${label}: RSS ${m.rss.toFixed(0)} MiB, wasm resident ${m.wasm.toFixed(0)} MiB\n`);
  };
  const fill = () => runInGuest(hv, vm, `dd if=/dev/urandom of=/tmp/a bs=1M count=1 2>/dev/null; for i in $(seq ${FILL}); do cat /tmp/a; done > /tmp/big; rm /tmp/a`, { timeoutMs: 600_000 });
  const removeAndReport = async () => {
    const before = (await hv.stats(vm)).freedReportedBytes ?? 0;
    await runInGuest(hv, vm, 'rm /tmp/big');
    const end = Date.now() + 120_000;
    while (((await hv.stats(vm)).freedReportedBytes ?? 0) - before < FILL * MiB * 0.9 && Date.now() < end) await sleep(500);
    await sleep(2000);
  };
  // Pass 1, memory only (no snapshot buffers around to blur the figures).
  await sleep(3000);
  await step('booted, idle');
  await fill(); // 1 MiB of random bytes repeated: incompressible, quick to write
  await step(`${FILL} MiB written to /tmp`);
  await removeAndReport();
  await step('removed and reported free (the reference: before the reclaim)');
  reclaim = await hv.reclaimMemory(vm);
  await sleep(2000);
  await step('after hv.reclaimMemory');
  const answer = await runInGuest(hv, vm, 'echo alive-$((6*7))');
  if (answer.output !== 'alive-42') throw new Error(`the guest did not answer after the reclaim: ${JSON.stringify(answer.output)}`);
  // Pass 2, snapshot sizes: the same data written again, then freed.
  await fill();
  snapshots.filled = (await hv.snapshot(vm)).length;
  await removeAndReport();
  snapshots.freed = (await hv.snapshot(vm)).length;
} finally {
  await hv.shutdown();
}
const load1 = loadavg()[0];

const [, , freed, after] = rows;
const lines = [];
lines.push('## hv-balloon: memory a guest used and freed goes back to the host (bench/hv-balloon.js)');
lines.push('');
lines.push(
  `riscv64-busybox, ${MEM} MiB, in one worker_threads host through the Hypervisor; the guest writes ${FILL} MiB to /tmp ` +
    `(tmpfs), removes it, and free page reporting zeroes what it reports free; then \`hv.reclaimMemory\`. RSS: the whole ` +
    `process (main thread and worker); wasm resident: the resident part of the core's memory (its mapping in /proc/self/smaps). ` +
    `Snapshot sizes come from a second pass on the same VM (the data written again, a whole \`hv.snapshot()\` file with it ` +
    `and after it was freed), so no snapshot buffer is in the memory figures. ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores ` +
    `(${cpus()[0]?.model.trim()}), Node ${process.version}, load average ${load0.toFixed(2)} at the start and ${load1.toFixed(2)} at the end.`,
);
lines.push('');
lines.push('| step | process RSS MiB | wasm resident MiB | reported free by this machine (cumulative) MiB |');
lines.push('|---|---:|---:|---:|');
for (const r of rows) lines.push(`| ${r.label} | ${r.rss.toFixed(0)} | ${r.wasm.toFixed(0)} | ${(r.reported / MiB).toFixed(0)} |`);
lines.push('');
lines.push(
  `- Reclaim against the reference (freed but resident): RSS ${freed.rss.toFixed(0)} -> ${after.rss.toFixed(0)} MiB ` +
    `(**${(freed.rss - after.rss).toFixed(0)} MiB** back to the host), wasm resident ${freed.wasm.toFixed(0)} -> ${after.wasm.toFixed(0)} MiB; ` +
    `the guest paused ${reclaim.pauseMs.toFixed(1)} ms; the new memory holds ${reclaim.pagesKept} of ${reclaim.pagesTotal} pages.`,
);
lines.push(
  `- Snapshot: ${(snapshots.filled / MiB).toFixed(1)} MiB with the data in RAM, ${(snapshots.freed / MiB).toFixed(1)} MiB once it was freed ` +
    `(**${(snapshots.filled / snapshots.freed).toFixed(1)}x** smaller).`,
);
lines.push('');
lines.push(`Command: \`npm run build:ts && npm run bench -- hv-balloon --mib ${MEM} --fill ${FILL}${WRITE ? ' --write' : ''}\``);
lines.push('');
const section = lines.join('\n');
process.stdout.write(section);
if (WRITE) writeSection('hv-balloon', section);
