#!/usr/bin/env node
// `npm run bench -- hv-idle [--image NAME | --mixed] [--window S] [--write]`: host CPU used by idle VMs. Boots
// the image (default riscv64-busybox; x86-busybox runs on v86) to its shell in 1 and in 8 VMs through the Hypervisor (two worker_threads
// hosts, nodeWorkerHosts; the VMs time-sliced in their host's loop), lets them settle, then
// measures over a fixed window: CPU time of the whole process (process.cpuUsage(): every thread,
// workers included), each worker's event-loop utilisation (worker.performance), and the guest
// instructions retired. References in the same run: 1 idle VM, and 1 VM running a busy shell loop.
// --mixed: 1 idle riscv64-busybox VM, 1 idle x86-busybox VM, and 8 idle VMs mixed (4 of each, so
// each worker time-slices rv64 and v86 guests); the reference is the sum of the single-VM cases.
// Prints a Markdown section; --write also puts it into bench/RESULTS.md (this section only).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { writeSection } from './_sections.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'hypervisor', 'node-hosts.js'))) {
  process.stderr.write('hv-idle: dist/ is not built; run `npm run build:ts` first\n');
  process.exit(2);
}
const { Hypervisor } = await import(join(dist, 'hypervisor', 'hypervisor.js'));
const { nodeWorkerHosts } = await import(join(dist, 'hypervisor', 'node-hosts.js'));

const args = process.argv.slice(2);
const windowAt = args.indexOf('--window');
const WINDOW_S = windowAt >= 0 ? Number(args[windowAt + 1]) : 10;
const WRITE = args.includes('--write');
const imageAt = args.indexOf('--image');
const IMAGE = imageAt >= 0 ? args[imageAt + 1] : 'riscv64-busybox';
const MIXED = args.includes('--mixed');
if (MIXED && imageAt >= 0) {
  process.stderr.write('hv-idle: --mixed runs both images; leave out --image\n');
  process.exit(2);
}
if (!(WINDOW_S > 0)) {
  process.stderr.write('hv-idle: --window needs a positive number of seconds\n');
  process.exit(2);
}
const SETTLE_MS = 2000;
const POOL = 2;

const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));
const findImage = (name) => {
  const found = manifest.images.find((i) => i.name === name);
  if (!found) {
    process.stderr.write(`hv-idle: no image '${name}' in images/manifest.json\n`);
    process.exit(2);
  }
  return found;
};
const image = findImage(IMAGE);
const MIX = ['riscv64-busybox', 'x86-busybox'];
if (MIXED) MIX.forEach(findImage);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One case: `count` VMs booted to the shell; `busy` starts a shell loop in the first one. VM i
 * runs images[i % images.length].
 */
async function measure(label, count, busy, images = [image.name]) {
  const workers = [];
  const hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 2048 * 1024 * 1024,
    hosts: nodeWorkerHosts({ root }, (connection) => workers.push(connection.worker)),
    poolSize: POOL,
  });
  try {
    const names = Array.from({ length: count }, (_, i) => `idle-${i + 1}`);
    for (const [i, name] of names.entries()) await hv.create({ image: images[i % images.length], name });
    await Promise.all(names.map((name) => hv.start(name)));
    await Promise.all(names.map((name) => hv.waitUntilReady(name, 180_000)));
    for (const name of names) {
      const from = hv.consoleOffset(name);
      await hv.sendConsole(name, 'echo up-$((1+1))\n');
      await hv.waitForConsole(name, 'up-2\r\n', { from, timeoutMs: 60_000 });
    }
    if (busy) await hv.sendConsole(names[0], 'while :; do :; done\n');
    await sleep(SETTLE_MS);
    const insn0 = await Promise.all(names.map(async (n) => (await hv.stats(n)).instructions));
    const elu0 = workers.map((w) => w.performance.eventLoopUtilization());
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(WINDOW_S * 1000);
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - t0) / 1000;
    const elu = workers.map((w, i) => w.performance.eventLoopUtilization(elu0[i]).utilization);
    const insn1 = await Promise.all(names.map(async (n) => (await hv.stats(n)).instructions));
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const guestM = insn1.reduce((s, x, i) => s + x - insn0[i], 0) / 1e6;
    const r = { label, count, workers: workers.length, wallS, cpuS, elu, guestM };
    process.stderr.write(`hv-idle: ${label}: ${cpuS.toFixed(3)} s CPU over ${wallS.toFixed(2)} s, ${guestM.toFixed(2)} M guest instructions, worker ELU ${elu.map((e) => e.toFixed(3)).join(', ')}\n`);
    return r;
  } finally {
    await hv.shutdown();
  }
}

const load0 = loadavg()[0];
const results = [];
if (MIXED) {
  results.push(await measure('1 idle rv64 VM', 1, false, [MIX[0]]));
  results.push(await measure('1 idle x86 VM', 1, false, [MIX[1]]));
  results.push(await measure('8 idle VMs, 4 rv64 + 4 x86', 8, false, MIX));
} else {
  results.push(await measure('1 idle VM', 1, false));
  results.push(await measure('8 idle VMs', 8, false));
  results.push(await measure('1 busy VM (shell loop)', 1, true));
}
const load1 = loadavg()[0];

const lines = [];
const isRiscv = image.name === 'riscv64-busybox';
lines.push(MIXED ? '## hv-idle --mixed: host CPU of idle rv64 and x86 VMs in the same hosts (bench/hv-idle.js --mixed)'
  : isRiscv ? '## hv-idle: host CPU of idle RV64 VMs in time-sliced hosts (bench/hv-idle.js)'
  : `## hv-idle: host CPU of idle ${image.name} VMs (${image.engine}) (bench/hv-idle.js --image ${image.name})`);
lines.push('');
lines.push(
  `${MIXED ? `Images: images/${MIX[0]} and images/${MIX[1]} (VM i runs the (i mod 2)-th), each` : `Image: images/${image.name}`} (${image.memoryMiB} MiB) booted to its shell through the Hypervisor, ${POOL} worker_threads hosts ` +
    `(nodeWorkerHosts; VMs placed least-loaded, so 8 VMs are 4 per worker, time-sliced in each worker's loop). ` +
    `After ${SETTLE_MS / 1000} s of settling, over a ${WINDOW_S} s window: process CPU time (process.cpuUsage(), all threads), ` +
    `each worker's event-loop utilisation, guest instructions retired (all VMs). ${new Date().toISOString().slice(0, 10)}, ` +
    `${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, load average ${load0.toFixed(2)} at the ` +
    `start and ${load1.toFixed(2)} at the end (a shared machine).`,
);
lines.push('');
lines.push('| case | VMs | CPU s over the window | % of one core | per VM | worker event-loop utilisation | guest M instructions |');
lines.push('|---|---:|---:|---:|---:|---|---:|');
for (const r of results) {
  const pct = (100 * r.cpuS) / r.wallS;
  lines.push(
    `| ${r.label} | ${r.count} | ${r.cpuS.toFixed(3)} | **${pct.toFixed(1)}%** | ${(pct / r.count).toFixed(2)}% | ${r.elu.map((e) => e.toFixed(3)).join(', ')} | ${r.guestM.toFixed(1)} |`,
  );
}
const [one, eight, busyRef] = results;
lines.push('');
if (MIXED) {
  const [rv, x86, mixed] = results;
  const linear = 4 * rv.cpuS / rv.wallS + 4 * x86.cpuS / x86.wallS;
  lines.push(
    `8 idle mixed VMs cost ${(100 * mixed.cpuS / mixed.wallS).toFixed(1)}% of a core, ${(100 * mixed.cpuS / mixed.wallS / 8).toFixed(2)}% per VM; ` +
      `4 x (1 idle rv64) + 4 x (1 idle x86) measured alone in the same run add up to ${(100 * linear).toFixed(1)}%. ` +
      `Both kernels are tickless (100 Hz when busy); an idle x86 guest sleeps on its local APIC timer (about 2 interrupts a second; docs/IMAGES.md). The previous run of this case (22.3% for 8 VMs, the x86 kernel on the PIT, higher load) is in git history, not comparable as a ratio.`,
  );
} else lines.push(
  `8 idle VMs cost ${(eight.cpuS / one.cpuS).toFixed(1)}x one idle VM and ${((100 * eight.cpuS) / busyRef.cpuS).toFixed(1)}% of ` +
    `one busy VM. ` + (isRiscv
      ? `An idle guest retires ${(one.guestM / one.wallS).toFixed(2)} M instructions a second (its kernel's timer interrupts); ` +
        `between them its host sleeps on a timer until the earliest deadline of its VMs.`
      : `An idle guest's CPU is halted (tickless kernel); v86 sleeps until its next timer event.`),
);
lines.push('');
lines.push(`Command: \`npm run build:ts && npm run bench -- hv-idle${MIXED ? ' --mixed' : isRiscv ? '' : ` --image ${image.name}`} --window ${WINDOW_S}${WRITE ? ' --write' : ''}\``);
lines.push('');
const section = lines.join('\n');
process.stdout.write(section);
if (WRITE) writeSection(MIXED ? 'hv-idle-mixed' : isRiscv ? 'hv-idle' : `hv-idle-${image.name}`, section, 'hv-idle');
