#!/usr/bin/env node
// `node scripts/lab-profile.js [--lab NAME] [--dir WEB_DIST] [--top N] [--trace FILE]`: where the CPU goes while a lab
// loads, in Debian's Chromium (headless), first visit and reload, as bench/lab-reload.js measures them
// (same server, same flags, same stop condition: every console answered). Two views of the same interval:
// - per thread, from /proc/PID/task (user + system time of every thread of every browser process,
//   grouped by process type and thread name): what a CPU-time figure is made of, JS or not;
// - per JS function, from a DevTools trace (V8's sampling profiler, which covers the page and every
//   worker): self time by thread and function, the top N of each thread. Sampled time is wall
//   time while the thread was not idle, so on a loaded machine it includes waiting for a core;
// - the renderer's thread-pool tasks by what posted them (trace category toplevel; thread CPU
//   time): wasm tier-up compilation, script streaming, GC, raster.
// Not a benchmark: the profiler slows JS down; use it to find the work, bench/lab-reload.js (npm run bench -- lab-reload) to time it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { launchProfile } from '../bench/_chromium.js';
import { createAppServer, webDist } from './start.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const LAB = opt('--lab', 'trio');
const DIR = opt('--dir', webDist);
const TOP = Number(opt('--top', '12'));
const TRACE = opt('--trace', undefined);
if (!existsSync(join(DIR, 'index.html'))) {
  process.stderr.write(`lab-profile: ${DIR} is not a built app (no index.html; run npm run build)\n`);
  process.exit(2);
}
if (!Number.isInteger(TOP) || TOP < 1) {
  process.stderr.write('lab-profile: --top needs a positive whole number\n');
  process.exit(2);
}

const server = createAppServer(DIR, { isolation: false });
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://localhost:${server.address().port}/?lab=${encodeURIComponent(LAB)}`;

/** Every thread of the browser using `profile`: key "process type / thread name" -> CPU ticks. */
function threadTicks(profile) {
  const procs = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(pid), { ppid: Number(fields[1]), cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
    } catch {
      // gone
    }
  }
  const mine = new Set([...procs].filter(([, p]) => p.cmd.includes(profile)).map(([pid]) => pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of procs) if (!mine.has(pid) && mine.has(p.ppid)) grew = mine.add(pid) !== undefined;
  }
  const out = new Map();
  for (const pid of mine) {
    const type = /--type=([a-z-]+)/.exec(procs.get(pid).cmd)?.[1] ?? 'browser';
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '#');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const key = `${type}:${pid} / ${name}`;
        out.set(`${key}\t${tid}`, Number(fields[11]) + Number(fields[12]));
      } catch {
        // gone
      }
    }
  }
  return out;
}

function threadReport(before, after) {
  const sums = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d <= 0) continue;
    const key = k.split('\t')[0];
    sums.set(key, (sums.get(key) ?? 0) + d);
  }
  const rows = [...sums].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((s, [, v]) => s + v, 0);
  return { total: total / 100, rows: rows.filter(([, v]) => v >= 3).map(([k, v]) => `  ${(v / 100).toFixed(2).padStart(6)} s  ${k}`) };
}

/** Self time per thread and function from the trace's V8 CPU profiles. */
function jsReport(events) {
  const threadNames = new Map();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') threadNames.set(`${e.pid}:${e.tid}`, e.args.name);
  const profiles = new Map(); // id -> { thread, nodes: Map, samples: [], deltas: [] }
  for (const e of events) {
    if (e.name === 'Profile') profiles.set(`${e.pid}:${e.id}`, { thread: `${e.pid}:${e.tid}`, nodes: new Map(), samples: [], deltas: [] });
    if (e.name === 'ProfileChunk') {
      const p = profiles.get(`${e.pid}:${e.id}`);
      if (!p) continue;
      const data = e.args.data;
      for (const n of data.cpuProfile?.nodes ?? []) p.nodes.set(n.id, n);
      p.samples.push(...(data.cpuProfile?.samples ?? []));
      p.deltas.push(...(data.timeDeltas ?? []));
    }
  }
  const lines = [];
  for (const p of profiles.values()) {
    const self = new Map();
    let total = 0;
    for (let i = 0; i < p.samples.length; i++) {
      const n = p.nodes.get(p.samples[i]);
      const dt = Math.max(0, p.deltas[i + 1] ?? 0) / 1000;
      if (!n) continue;
      const f = n.callFrame;
      const name = f.functionName || '(anonymous)';
      const where = f.url ? ` ${f.url.replace(/^.*\//, '')}:${f.lineNumber + 1}` : '';
      const key = name.startsWith('(') && !where ? name : `${name}${where}`;
      self.set(key, (self.get(key) ?? 0) + dt);
      if (key !== '(idle)') total += dt;
    }
    if (total < 20) continue;
    lines.push(`  thread ${threadNames.get(p.thread) ?? p.thread}: ${(total / 1000).toFixed(2)} s sampled busy`);
    for (const [k, ms] of [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, TOP)) lines.push(`    ${ms.toFixed(0).padStart(6)} ms  ${k}`);
  }
  return lines;
}

/** Thread-pool work (ThreadPool_RunTask, thread time) by the source that posted it, top N. */
function poolReport(events) {
  const threadNames = new Map();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') threadNames.set(`${e.pid}:${e.tid}`, e.args.name);
  const sums = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || e.name !== 'ThreadPool_RunTask' || !/ThreadPool/.test(threadNames.get(`${e.pid}:${e.tid}`) ?? '')) continue;
    const key = `${(e.args?.src_file ?? '?').replace(/^.*\//, '')}: ${e.args?.src_func ?? '?'}`;
    sums.set(key, (sums.get(key) ?? 0) + (e.tdur ?? e.dur ?? 0) / 1000);
  }
  return [...sums].sort((a, b) => b[1] - a[1]).slice(0, TOP).filter(([, ms]) => ms >= 10).map(([k, ms]) => `  ${ms.toFixed(0).padStart(6)} ms  ${k}`);
}

async function untilAnswered(page, t0) {
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.querySelector('tv-app')?.lab?.view.phase ?? ''), undefined, { timeout: 300_000, polling: 10 });
  const readyMs = performance.now() - t0;
  const names = await page.evaluate(() => {
    const app = document.querySelector('tv-app');
    const view = app.lab.view;
    if (view.phase !== 'ready') throw new Error(`the lab failed: ${view.message}`);
    for (const vm of view.vms) if (vm.id) app.lab.sendConsole(vm.id, 'echo answer-$((20+22))\r');
    return view.vms.map((vm) => vm.name);
  });
  await page.waitForFunction(
    (ns) => ns.every((n) => document.querySelector('tv-app').consoleText(n).split('\n').some((line) => line.trim() === 'answer-42')),
    names,
    { timeout: 120_000, polling: 10 },
  );
  return { readyMs, ms: performance.now() - t0 };
}

async function traced(cdp, profile, label, go) {
  const events = [];
  const onData = (d) => events.push(...d.value);
  cdp.on('Tracing.dataCollected', onData);
  await cdp.send('Tracing.start', {
    transferMode: 'ReportEvents',
    traceConfig: { includedCategories: ['disabled-by-default-v8.cpu_profiler', 'v8', '__metadata', 'devtools.timeline', 'toplevel', 'v8.wasm'] },
  });
  const before = threadTicks(profile);
  const t0 = performance.now();
  const times = await go(t0);
  const after = threadTicks(profile);
  const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
  await cdp.send('Tracing.end');
  await done;
  cdp.off('Tracing.dataCollected', onData);
  if (TRACE) writeFileSync(`${TRACE}.${label.split(' ')[0]}.json`, JSON.stringify({ traceEvents: events }));
  const threads = threadReport(before, after);
  process.stdout.write(`\n== ${label}: lab ready ${(times.readyMs / 1000).toFixed(2)} s, all answered ${(times.ms / 1000).toFixed(2)} s, browser CPU ${threads.total.toFixed(2)} s (load ${loadavg()[0].toFixed(2)})\n`);
  process.stdout.write(` per thread (/proc, >= 0.03 s):\n${threads.rows.join('\n')}\n`);
  process.stdout.write(` thread-pool tasks (thread CPU time, by who posted them):\n${poolReport(events).join('\n')}\n`);
  process.stdout.write(` per JS function (self time, V8 sampling profiler):\n${jsReport(events).join('\n')}\n`);
}

const profile = mkdtempSync(join(tmpdir(), 'tabvisor-profile-'));
const context = await launchProfile(profile);
try {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await traced(cdp, profile, 'cold', async (t0) => {
    await page.goto(url);
    return untilAnswered(page, t0);
  });
  await page.evaluate(async () => {
    const registration = await navigator.serviceWorker?.getRegistration();
    if (registration) {
      await Promise.race([navigator.serviceWorker.ready, new Promise((r) => setTimeout(r, 60_000))]);
      while (registration.installing || registration.waiting) await new Promise((r) => setTimeout(r, 100));
    }
  });
  await new Promise((r) => setTimeout(r, 2000));
  await traced(cdp, profile, 'settled lab, 3 s without input', async (t0) => {
    await new Promise((r) => setTimeout(r, 3000));
    return { readyMs: performance.now() - t0, ms: performance.now() - t0 };
  });
  await traced(cdp, profile, 'reload', async (t0) => {
    await page.reload();
    return untilAnswered(page, t0);
  });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  server.close();
}
