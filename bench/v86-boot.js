#!/usr/bin/env node
// `npm run bench -- v86-boot [--runs N] [--write]`: how long x86-busybox on v86 takes to give a
// usable shell when booted from its kernel, against when restored from a snapshot taken at the
// shell prompt. Both clocks stop when the shell has answered its first command. Runs alternate
// (boot, restore, boot, ...) in one Node process, as the hypervisor runs them, so load from
// other processes hits both alike. Prints a Markdown section; --write also puts it into
// bench/RESULTS.md (replacing this benchmark's previous section only).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg, cpus } from 'node:os';
import { writeSection } from './_sections.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'engines', 'create.js'))) {
  process.stderr.write('v86-boot: dist/ is not built; run `npm run build:ts` first\n');
  process.exit(2);
}
const { NodeAssetLoader } = await import(join(dist, 'engines', 'assets-node.js'));
const { createEngine } = await import(join(dist, 'engines', 'create.js'));
const { SnapshotWriter, readSnapshot } = await import(join(dist, 'snapshot', 'format.js'));

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const WRITE = args.includes('--write');
if (!Number.isInteger(RUNS) || RUNS < 1) {
  process.stderr.write('v86-boot: --runs needs a positive whole number\n');
  process.exit(2);
}
const WAIT_MS = 180_000;

const assets = new NodeAssetLoader();
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));
const image = manifest.images.find((i) => i.name === 'x86-busybox');
if (!image) {
  process.stderr.write('v86-boot: no x86-busybox image in images/manifest.json\n');
  process.exit(2);
}

/** Console text of one engine, with a way to wait for a string in it. */
function watch(engine) {
  let text = '';
  const waiters = [];
  engine.onConsole((bytes) => {
    text += Buffer.from(bytes).toString('latin1');
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (text.includes(waiters[i].needle, waiters[i].from)) waiters.splice(i, 1)[0].resolve(performance.now());
    }
  });
  return {
    get length() { return text.length; },
    waitFor(needle, from = 0) {
      if (text.includes(needle, from)) return Promise.resolve(performance.now());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${needle}' on the console`)), WAIT_MS);
        waiters.push({ needle, from, resolve: (t) => { clearTimeout(timer); resolve(t); } });
      });
    },
  };
}

async function bootConfig() {
  return {
    engine: 'v86',
    memoryMiB: image.memoryMiB,
    firmware: await assets.load(image.firmware),
    vgaBios: image.vgaBios ? await assets.load(image.vgaBios) : undefined,
    kernel: await assets.load(image.kernel),
    initrd: image.initrd ? await assets.load(image.initrd) : undefined,
    cmdline: image.cmdline,
  };
}

let probe = 0;
/** Types a command and returns when its answer is on the console. */
async function answered(engine, log) {
  const n = ++probe;
  const from = log.length;
  // The typed line (echoed back) reads shell-up-$((0+n)); only the answer reads shell-up-n.
  engine.sendConsole(`echo shell-up-$((0+${n}))\n`);
  return log.waitFor(`shell-up-${n}\r`, from);
}

async function bootOnce() {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const engine = await createEngine(await bootConfig(), assets);
  const log = watch(engine);
  await engine.start();
  const marker = await log.waitFor(image.readyMarker);
  await log.waitFor('/ # ');
  const done = await answered(engine, log);
  const cpu = process.cpuUsage(cpu0);
  return { engine, log, seconds: (done - t0) / 1000, markerSeconds: (marker - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function restoreOnce(file) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const snapshot = await readSnapshot(file);
  const engine = await createEngine({ engine: 'v86', memoryMiB: snapshot.metadata.memoryMiB, state: snapshot.section('engine-state') }, assets);
  const log = watch(engine);
  await engine.start();
  const done = await answered(engine, log);
  const cpu = process.cpuUsage(cpu0);
  await engine.destroy();
  return { seconds: (done - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

// The snapshot every restore starts from: a booted guest at its shell prompt.
const load0 = loadavg()[0];
const first = await bootOnce();
await first.engine.pause();
const state = await first.engine.saveState();
await first.engine.destroy();
const snapshotFile = await new SnapshotWriter({ engine: 'v86', image: image.name, memoryMiB: image.memoryMiB })
  .addSection('engine-state', state).encode();

const boots = [];
const restores = [];
for (let i = 0; i < RUNS; i++) {
  const b = await bootOnce();
  await b.engine.destroy();
  boots.push(b);
  restores.push(await restoreOnce(snapshotFile));
  process.stderr.write(`run ${i + 1}/${RUNS}: boot ${b.seconds.toFixed(2)} s, restore ${restores[i].seconds.toFixed(2)} s\n`);
}
const load1 = loadavg()[0];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (x) => x.toFixed(3);
const row = (name, xs, cpu) =>
  `| ${name} | ${f(median(xs))} | ${f(Math.min(...xs))} | ${f(Math.max(...xs))} | ${f(median(cpu))} |`;
const bootS = boots.map((b) => b.seconds);
const restoreS = restores.map((r) => r.seconds);
const section = `## v86-boot: x86-busybox boot-to-shell vs restore-to-shell (v86 engine, Node)

Both clocks start when the engine is created (restore: when the snapshot file's bytes are decoded)
and stop when the shell has answered \`echo\`. The snapshot was taken at the shell prompt.
${RUNS} runs each, alternating, in one Node ${process.version} process; ${cpus().length} cores, load average
${load0.toFixed(1)} at the start and ${load1.toFixed(1)} at the end (the machine is shared, so wall times vary).

| | median s | min s | max s | median CPU s |
|---|---|---|---|---|
${row('boot to shell', bootS, boots.map((b) => b.cpuSeconds))}
${row('restore to shell', restoreS, restores.map((r) => r.cpuSeconds))}

- boot / restore (medians): **${(median(bootS) / median(restoreS)).toFixed(1)}x** faster to restore
- boot to the ready marker (median): ${f(median(boots.map((b) => b.markerSeconds)))} s
- snapshot file: ${(snapshotFile.length / 1024 / 1024).toFixed(2)} MiB (v86 state ${(state.length / 1024 / 1024).toFixed(2)} MiB before compression)

Command: \`npm run bench -- v86-boot${RUNS !== 5 ? ` --runs ${RUNS}` : ''}\`
`;
process.stdout.write('\n' + section);

if (WRITE) writeSection('v86-boot', section);
