#!/usr/bin/env node
// `npm run fuzz -- NAME --count N [--seed S] [--from I]` runs fuzz/targets/NAME.ts over inputs
// I..I+N-1 of seed S in a worker thread; `npm run fuzz -- soak --minutes M [--seed S]` runs the soak.
// This process watches the worker: no progress for the target's hang limit (plus a margin) is a
// hang, a worker that dies is a host crash; either way the run goes on from the next input. It
// samples the RSS of the whole process. Exit status 1 when anything failed, 2 for bad arguments.
import { Worker } from 'node:worker_threads';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const names = [...readdirSync(join(here, 'targets')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)), 'soak'].sort();

function usage(msg) {
  if (msg) process.stderr.write(`fuzz: ${msg}\n`);
  process.stderr.write(`usage: npm run fuzz -- NAME --count N [--seed S] [--from I] [--rss-mib M]\n       npm run fuzz -- soak --minutes M [--seed S]\nfuzzers: ${names.join(', ')}\n`);
  process.exit(msg ? 2 : 0);
}

const argv = process.argv.slice(2);
const name = argv.shift();
if (!name || name === '--help' || name === '-h') usage();
if (!names.includes(name)) usage(`no fuzzer named '${name}'`);
if (name === 'soak') {
  // The soak runs VMs in worker hosts built from dist/: its own script, in its own process.
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [join(here, 'soak.mjs'), ...argv], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const opts = { seed: 1, from: 0, count: undefined, rssMib: undefined };
while (argv.length) {
  const flag = argv.shift();
  const value = argv.shift();
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < 0) usage(`${flag} needs a number, got ${value}`);
  if (flag === '--seed') opts.seed = Math.floor(n);
  else if (flag === '--from') opts.from = Math.floor(n);
  else if (flag === '--count') opts.count = Math.floor(n);
  else if (flag === '--rss-mib') opts.rssMib = n;
  else usage(`unknown option ${flag}`);
}
if (opts.count === undefined) usage('--count is required');

const mib = (b) => Math.round(b / 2 ** 20);
let maxRss = process.memoryUsage.rss();
const startRss = maxRss;
setInterval(() => { maxRss = Math.max(maxRss, process.memoryUsage.rss()); }, 20).unref();

const total = {
  inputs: 0, accepted: 0, refused: 0, crashes: 0, defects: 0, hangs: 0, memory: 0, kinds: {}, failures: [], ms: 0,
};
function add(s) {
  for (const k of ['inputs', 'accepted', 'refused', 'crashes', 'defects', 'hangs', 'memory', 'ms']) total[k] += s[k];
  for (const [k, n] of Object.entries(s.kinds)) total.kinds[k] = (total.kinds[k] ?? 0) + n;
  total.failures.push(...s.failures);
}

/** The worker running now and its last full summary (for an early stop). */
let current = { worker: undefined, progress: undefined };

/** Runs inputs [from, end) in one worker; resolves with the next input to run (end when done). */
function segment(from, end) {
  return new Promise((resolve) => {
    const w = new Worker(join(here, 'worker.mjs'), {
      workerData: { name, seed: opts.seed, from, count: end - from, rssAllowanceBytes: opts.rssMib ? opts.rssMib * 2 ** 20 : undefined },
    });
    let hangMs = 120_000; // loading the target
    let lastBeat = performance.now();
    let index = from - 1; // last input finished
    let progress; // last full summary
    let settled = false;
    current = { worker: w, progress: undefined };
    const finish = (next) => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      resolve(next);
    };
    const lost = (what, message) => {
      // The inputs after the last full summary finished without failures (a failure sends one at once).
      if (progress) add(progress);
      const unrecorded = index - (progress ? progress.from + progress.inputs - 1 : from - 1);
      total.inputs += unrecorded + 1;
      if (unrecorded > 0) total.kinds['ok (outcome not recorded)'] = (total.kinds['ok (outcome not recorded)'] ?? 0) + unrecorded;
      total[what === 'hang' ? 'hangs' : 'crashes']++;
      total.failures.push({ index: index + 1, what, message });
      finish(index + 2);
    };
    const watch = setInterval(() => {
      if (performance.now() - lastBeat > hangMs + 10_000) {
        const msg = `no progress for ${Math.round((performance.now() - lastBeat) / 1000)} s (limit ${hangMs} ms): worker stopped`;
        void w.terminate();
        lost('hang', msg);
      }
    }, 500);
    w.on('message', (m) => {
      lastBeat = performance.now();
      if (m.type === 'ready') hangMs = m.hangMs;
      else if (m.type === 'beat') index = m.index;
      else if (m.type === 'progress') {
        index = m.index;
        progress = m.summary;
        current.progress = m.summary;
        if (performance.now() - lastPrint > 60_000) {
          lastPrint = performance.now();
          const p = m.summary;
          console.log(`  ... input ${m.index}: accepted ${p.accepted}, refused ${p.refused}, defects ${p.defects}, crashes ${p.crashes}, hangs ${p.hangs}, memory ${p.memory} (this worker), max RSS ${mib(maxRss)} MiB`);
        }
      } else if (m.type === 'log') console.log(m.line);
      else if (m.type === 'done') {
        current.progress = undefined;
        add(m.summary);
        finish(end);
      }
    });
    w.on('error', (e) => lost('crash', `worker died: ${e && e.message ? e.message.split('\n')[0] : String(e)}`));
    w.on('exit', (code) => { if (!settled) lost('crash', `worker exited with code ${code}`); });
  });
}

let lastPrint = performance.now();
let next = opts.from;
let end = opts.from + opts.count;
// Ctrl-C / SIGTERM: stop after what the worker reported and print the summary of the inputs run.
let stopEarly;
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (stopping) process.exit(130); // a second signal: give up at once
    stopping = true;
    console.log(`(${sig}: stopping early)`);
    stopEarly();
  });
}
while (next < end) {
  const stopped = new Promise((resolve) => { stopEarly = () => resolve('stop'); });
  const result = await Promise.race([segment(next, end), stopped]);
  if (result === 'stop') {
    if (current.progress) add(current.progress);
    end = current.progress ? current.progress.from + current.progress.inputs : next;
    void current.worker.terminate();
    break;
  }
  next = result;
}

const kinds = (cls) => {
  const parts = Object.entries(total.kinds).filter(([k]) => k.startsWith(cls + ' '))
    .sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k.slice(cls.length + 1)} ${n}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
};
console.log(`${name} seed ${opts.seed} inputs ${opts.from}..${opts.from + total.inputs - 1}: ${total.inputs} tried in ${(total.ms / 1000).toFixed(1)} s`);
console.log(`accepted ${total.accepted}${kinds('accepted')}, refused ${total.refused}${kinds('refused')}, ` +
  `defects ${total.defects}${kinds('defect')}, crashes ${total.crashes}${kinds('crash')}, hangs ${total.hangs}, memory ${total.memory}, ` +
  `max RSS ${mib(maxRss)} MiB (start ${mib(startRss)} MiB)`);
for (const f of total.failures.slice(0, 40)) {
  console.log(`  ${f.what} at input ${f.index}: ${f.message}`);
  console.log(`    reproduce: npm run fuzz -- ${name} --seed ${opts.seed} --from ${f.index} --count 1`);
}
const bad = total.crashes + total.defects + total.hangs + total.memory;
process.exit(bad > 0 ? 1 : 0);
