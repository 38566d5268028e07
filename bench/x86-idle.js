#!/usr/bin/env node
// `npm run bench -- x86-idle [--window S] [--rounds N] [--previous REV] [--previous-wait old|now] [--write]`: host CPU of one
// idle x86-busybox guest on the v86 engine (dist/engines/v86/engine.js, as a VM host runs it),
// against the previous version in the same run. "now" is the image and engine as built; "previous"
// is the kernel of images/x86-busybox/bzImage at git REV (default 33f36aa, the tree this work
// started from), booted without ACPI and with the previous idle wait (setTimeout with the fraction
// v86 asks for, 1 ms under 1 ms; `--previous-wait now` gives it today's wait, so that only the
// kernel differs). Both guests boot once in this process; windows alternate between
// them (N rounds each, the other one paused), so both see the same host load. Reports process CPU
// (process.cpuUsage(), all threads), v86 ticks and guest instructions per window. --write puts the
// section into bench/RESULTS.md (between its x86-idle markers).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { writeSection } from './_sections.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const WINDOW_S = Number(opt('--window', '8'));
const ROUNDS = Number(opt('--rounds', '4'));
const PREVIOUS = opt('--previous', '33f36aa');
const WRITE = args.includes('--write');
const PREVIOUS_WAIT = opt('--previous-wait', 'old');
const WARMUP_S = 8;
const fail = (msg) => { process.stderr.write(`x86-idle: ${msg}\n`); process.exit(2); };
if (!(WINDOW_S > 0) || !(ROUNDS >= 1)) fail('--window and --rounds need positive numbers');
if (PREVIOUS_WAIT !== 'old' && PREVIOUS_WAIT !== 'now') fail('--previous-wait takes old or now');
if (!existsSync(join(root, 'dist', 'engines', 'v86', 'engine.js'))) fail('dist/ is not built; run `npm run build:ts` first');
let previousKernel;
try {
  previousKernel = execFileSync('git', ['-C', root, 'show', `${PREVIOUS}:images/x86-busybox/bzImage`], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
} catch {
  fail(`cannot read images/x86-busybox/bzImage at git revision '${PREVIOUS}' (--previous REV)`);
}
const { V86Engine } = await import(join(root, 'dist', 'engines', 'v86', 'engine.js'));
const { NodeAssetLoader } = await import(join(root, 'dist', 'engines', 'assets-node.js'));
const { bootConfigFromImage } = await import(join(root, 'dist', 'worker', 'image-files.js'));
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));
const image = manifest.images.find((i) => i.name === 'x86-busybox');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const assets = new NodeAssetLoader(root);
const load0 = loadavg()[0];

/** The idle wait before this change: the fraction v86 asked for, 1 ms under 1 ms. */
const previousSleep = (t) => (t > 0 && t < 1 ? 1 : t);

/** Boots one guest to its shell; counts v86 ticks and the halted CPU's wake-ups by interrupt. */
async function boot(label, config, sleepPolicy) {
  const engine = new V86Engine(config, assets);
  let text = '';
  engine.onConsole((d) => { text += Buffer.from(d).toString('latin1'); });
  await engine.start();
  const deadline = Date.now() + 300_000;
  while (!text.includes(image.readyMarker)) {
    if (Date.now() > deadline) fail(`${label}: no ready marker; console:\n${text.slice(-800)}`);
    await sleep(100);
  }
  engine.sendConsole('dmesg -n 1\n');
  const main = engine.emulator.v86;
  const proto = Object.getPrototypeOf(main);
  const counts = { ticks: 0 };
  const ours = main.yield; // the engine's wrapper (own property)
  main.yield = sleepPolicy
    ? (t, tick) => { counts.ticks++; proto.yield.call(main, sleepPolicy(t), tick); }
    : (t, tick) => { counts.ticks++; ours(t, tick); };
  return { label, engine, counts, text: () => text };
}

const nowConfig = await bootConfigFromImage(image, assets);
const sameKernel = Buffer.compare(Buffer.from(nowConfig.kernel), previousKernel) === 0;
const now = await boot('now', nowConfig);
await now.engine.pause();
const prevConfig = { ...(await bootConfigFromImage(image, assets)), kernel: new Uint8Array(previousKernel), acpi: false };
const previous = await boot('previous', prevConfig, PREVIOUS_WAIT === 'old' ? previousSleep : undefined);
await previous.engine.pause();

async function window(vm) {
  await vm.engine.resume();
  await sleep(1500);
  vm.counts.ticks = 0;
  const i0 = vm.engine.stats().instructions;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const c = process.cpuUsage(c0);
  const wallS = (performance.now() - t0) / 1000;
  const r = { pct: (c.user + c.system) / 1e4 / wallS, ticksPerS: vm.counts.ticks / wallS, insnMPerS: (vm.engine.stats().instructions - i0) / 1e6 / wallS };
  await vm.engine.pause();
  process.stderr.write(`x86-idle: ${vm.label}: ${r.pct.toFixed(2)}% of a core, ${r.ticksPerS.toFixed(0)} ticks/s, ${r.insnMPerS.toFixed(3)} M insn/s\n`);
  return r;
}

// Warm-up (not measured): right after a boot V8's background threads still compile (wasm tier-up),
// which would land in the first windows.
for (const vm of [previous, now]) {
  await vm.engine.resume();
  await sleep(WARMUP_S * 1000);
  await vm.engine.pause();
}
const runs = { now: [], previous: [] };
for (let i = 0; i < ROUNDS; i++) {
  runs.previous.push(await window(previous));
  runs.now.push(await window(now));
}
await now.engine.destroy();
await previous.engine.destroy();
const load1 = loadavg()[0];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const row = (name, rs) => `| ${name} | ${rs.map((r) => r.pct.toFixed(2)).join(', ')} | **${median(rs.map((r) => r.pct)).toFixed(2)}%** | ${median(rs.map((r) => r.ticksPerS)).toFixed(0)} | ${median(rs.map((r) => r.insnMPerS)).toFixed(3)} |`;
const ratio = median(runs.previous.map((r) => r.pct)) / median(runs.now.map((r) => r.pct));
const section = [
  `## x86-idle: host CPU of one idle x86 guest, now against the previous kernel${PREVIOUS_WAIT === 'old' ? ' and wait' : ''} (bench/x86-idle.js)`,
  '',
  `One x86-busybox guest (${image.memoryMiB} MiB) on the v86 engine in the bench's own thread, idle at its shell, and the ` +
    `previous version booted beside it (the kernel at ${PREVIOUS}${sameKernel ? ', the same bytes as now' : ''}, no ACPI/APIC, ${PREVIOUS_WAIT === 'old' ? 'the previous idle wait' : 'the same idle wait as now'}); ${ROUNDS} ` +
    `alternating ${WINDOW_S} s windows (the other guest paused), after ${WARMUP_S} s of warm-up each. ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores ` +
    `(${cpus()[0]?.model.trim()}), Node ${process.version}, load average ${load0.toFixed(1)} at the start and ${load1.toFixed(1)} at the end.`,
  '',
  '| version | % of one core per window | median | v86 ticks/s | guest M insn/s |',
  '|---|---|---:|---:|---:|',
  row(`now: sleeps to the whole ms past the deadline${nowConfig.acpi ? ', APIC timer' : ''}`, runs.now),
  row(`previous (${PREVIOUS}): ${PREVIOUS_WAIT === 'old' ? 'fractional sleeps, 1 ms under 1 ms' : 'PIT timer, the same wait'}`, runs.previous),
  '',
  `Previous / now: ${ratio.toFixed(1)}x.`,
  '',
  `Command: \`npm run build:ts && npm run bench -- x86-idle --window ${WINDOW_S} --rounds ${ROUNDS} --previous ${PREVIOUS} --previous-wait ${PREVIOUS_WAIT}${WRITE ? ' --write' : ''}\``,
  '',
].join('\n');
process.stdout.write(section);
if (WRITE) writeSection('x86-idle', section);
process.exit(0);
