#!/usr/bin/env node
// `npm run bench -- lab-reload [--runs N] [--lab NAME] [--baseline DIR] [--write]`: in Debian's
// Chromium (headless), how long from opening or reloading the page until every console of the lab
// has answered a command. Cold: a fresh browser profile (a first visit: the VMs restore the
// pre-booted templates the build serves). Cached: a reload of the same page once the first visit
// has settled (its service worker installed, templates kept), so nothing comes from the network.
// Served by a plain static server (no COOP/COEP). --baseline DIR: a build of the previous version,
// measured in the same run, alternating with the current web-dist/. Prints a Markdown section;
// --write also puts it into bench/RESULTS.md (replacing this benchmark's previous section only).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, chromiumVersion, launchProfile } from './_chromium.js';
import { buildApp, createAppServer, needsBuild, webDist } from '../scripts/start.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const RUNS = Number(opt('--runs', '3'));
const LAB = opt('--lab', 'trio');
const BASELINE = opt('--baseline', undefined);
const RETYPE_MS = 500;
const WRITE = args.includes('--write');
if (!Number.isInteger(RUNS) || RUNS < 1) {
  process.stderr.write('lab-reload: --runs needs a positive whole number\n');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  process.stderr.write(`lab-reload: ${CHROMIUM} is missing (scripts/setup-system.sh test installs it)\n`);
  process.exit(2);
}
if (BASELINE !== undefined && !existsSync(join(BASELINE, 'index.html'))) {
  process.stderr.write(`lab-reload: --baseline ${BASELINE} is not a built app (no index.html)\n`);
  process.exit(2);
}
if (needsBuild()) buildApp();

/** A plain static server (no isolation headers) for a built app; resolves with its lab URL. */
async function serve(dir) {
  const server = createAppServer(dir, { isolation: false });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${server.address().port}/?lab=${encodeURIComponent(LAB)}` };
}
const versions = [
  ...(BASELINE ? [{ label: 'previous', ...(await serve(BASELINE)) }] : []),
  { label: 'current', ...(await serve(webDist)) },
];
const load0 = loadavg()[0];

/** Waits for the lab line to say ready, then types a command in every console and waits for all answers. */
async function untilAnswered(page, t0) {
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.querySelector('tv-app')?.lab?.view.phase ?? ''), undefined, { timeout: 300_000, polling: 10 });
  const labReadyMs = performance.now() - t0;
  const vms = await page.evaluate(() => {
    const app = document.querySelector('tv-app');
    const view = app.lab.view;
    if (view.phase !== 'ready') throw new Error(`the lab failed: ${view.message}`);
    for (const vm of view.vms) if (vm.id) app.lab.sendConsole(vm.id, 'echo answer-$((20+22))\r');
    return view.vms.map((vm) => ({ name: vm.name, running: Boolean(vm.id), message: vm.message }));
  });
  if (vms.some((vm) => !vm.running)) throw new Error(`not every VM runs: ${JSON.stringify(vms)}`);
  // A VM that boots (a lab with disks after its first visit) is not at its shell when the lab is
  // ready, and its screen is cleared once the shell is up: type again every RETYPE_MS into a
  // console that has not answered yet.
  const answered = () => page.evaluate((names) => names.filter((name) => !document.querySelector('tv-app').consoleText(name).split('\n').some((line) => line.trim() === 'answer-42')), vms.map((vm) => vm.name));
  const deadline = performance.now() + 120_000;
  let typed = performance.now();
  for (let left = await answered(); left.length > 0; left = await answered()) {
    if (performance.now() > deadline) throw new Error(`no answer from ${left.join(', ')} within 120 s`);
    if (performance.now() - typed >= RETYPE_MS) {
      typed = performance.now();
      await page.evaluate((names) => {
        const app = document.querySelector('tv-app');
        for (const vm of app.lab.view.vms) if (vm.id && names.includes(vm.name)) app.lab.sendConsole(vm.id, 'echo answer-$((20+22))\r');
      }, left);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { ms: performance.now() - t0, labReadyMs, vms };
}

const TICKS = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on Linux
/** CPU seconds so far of the browser that uses `profile` and all its processes (renderer, GPU, utility). */
function browserCpuSeconds(profile) {
  const procs = new Map(); // pid -> { ppid, ticks, cmd }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(pid), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
    } catch {
      // the process ended while we looked
    }
  }
  const mine = new Set([...procs].filter(([, p]) => p.cmd.includes(profile)).map(([pid]) => pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of procs) if (!mine.has(pid) && mine.has(p.ppid)) grew = mine.add(pid) !== undefined;
  }
  let ticks = 0;
  for (const pid of mine) ticks += procs.get(pid).ticks;
  return ticks / TICKS;
}

/** After a first visit: its service worker (if the build has one) installed and in charge, writes done. */
async function settle(page) {
  await page.evaluate(async () => {
    const registration = await navigator.serviceWorker?.getRegistration();
    if (registration) {
      await Promise.race([navigator.serviceWorker.ready, new Promise((r) => setTimeout(r, 60_000))]);
      while (registration.installing || registration.waiting) await new Promise((r) => setTimeout(r, 100));
    }
  });
  await new Promise((r) => setTimeout(r, 2000)); // the page's background template copies
}

/** One run of one version: a new profile, first visit, settle, reload. */
async function measure(version) {
  const profile = mkdtempSync(join(tmpdir(), 'tabvisor-bench-'));
  const context = await launchProfile(profile);
  try {
    const page = await context.newPage();
    let cpu0 = browserCpuSeconds(profile);
    let t0 = performance.now();
    await page.goto(version.url);
    const cold = await untilAnswered(page, t0);
    cold.cpuS = browserCpuSeconds(profile) - cpu0;
    await settle(page);
    cpu0 = browserCpuSeconds(profile);
    t0 = performance.now();
    await page.reload();
    const cached = await untilAnswered(page, t0);
    cached.cpuS = browserCpuSeconds(profile) - cpu0;
    return { cold, cached };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

for (const version of versions) Object.assign(version, { cold: [], cached: [], lastVms: undefined });
for (let run = 0; run < RUNS; run++) {
  for (const version of run % 2 ? [...versions].reverse() : versions) {
    const { cold, cached } = await measure(version);
    version.cold.push(cold);
    version.cached.push(cached);
    version.lastVms = { cold: cold.vms, cached: cached.vms };
    process.stderr.write(`run ${run + 1} ${version.label}: cold ${(cold.ms / 1000).toFixed(2)} s (CPU ${cold.cpuS.toFixed(2)} s), cached ${(cached.ms / 1000).toFixed(2)} s (CPU ${cached.cpuS.toFixed(2)} s)\n`);
  }
}
for (const version of versions) version.server.close();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sec = (ms) => (ms / 1000).toFixed(2);
const row = (label, rs) => `| ${label} | ${sec(median(rs.map((r) => r.ms)))} | ${sec(Math.min(...rs.map((r) => r.ms)))} | ${sec(Math.max(...rs.map((r) => r.ms)))} | ${sec(median(rs.map((r) => r.labReadyMs)))} | ${median(rs.map((r) => r.cpuS)).toFixed(2)} |`;
const browserVersion = await chromiumVersion();
const current = versions.at(-1);
const previous = BASELINE ? versions[0] : undefined;
const cpuRatio = (a, b) => (median(a.map((r) => r.cpuS)) / median(b.map((r) => r.cpuS))).toFixed(1);
const ratio = (a, b) => (median(a.map((r) => r.ms)) / median(b.map((r) => r.ms))).toFixed(1);
const section = `<!-- lab-reload:begin -->
## lab-reload: page load until every console of lab \`${LAB}\` answers, first visit vs. reload (bench/lab-reload.js)

Chromium ${browserVersion} headless (Debian's /usr/bin/chromium), the built app served on localhost by
scripts/start.js's server **without** COOP/COEP (\`createAppServer(dir, { isolation: false })\`, as a plain
static host). The clock starts before \`page.goto\` (cold: a fresh profile, a first visit; the VMs restore the
pre-booted templates the build serves) or \`page.reload()\` (cached: the same profile after the first visit
settled: service worker installed, template copies written) and stops when each console has printed the
answer to \`echo answer-$((20+22))\`, typed once the lab line says ready and again every ${RETYPE_MS} ms into a console that has not answered (a booting VM is not at its shell yet). Browser CPU s: user + system time
of all the browser's processes over the same interval (/proc; a measure the machine's load does not stretch).
${RUNS} runs${previous ? ' of each version, alternating' : ''}, each a new profile; ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores
(${cpus()[0]?.model ?? 'unknown CPU'}), load average ${load0.toFixed(2)} at the start and ${loadavg()[0].toFixed(2)} at the end
(a shared machine, loaded by other jobs: wall times vary).

| version | load | median s to all answers | min s | max s | median s to "lab ready" | median browser CPU s |
|---|---|---:|---:|---:|---:|---:|
${versions.flatMap((v) => [row(`${v.label} | cold (first visit)`, v.cold), row(`${v.label} | reload`, v.cached)]).join('\n')}

${previous ? `- previous / current (medians): cold **${ratio(previous.cold, current.cold)}x**, reload **${ratio(previous.cached, current.cached)}x**; browser CPU: cold ${cpuRatio(previous.cold, current.cold)}x, reload ${cpuRatio(previous.cached, current.cached)}x (previous: ${BASELINE})\n` : ''}- how each VM started (current, last run): cold: ${current.lastVms.cold.map((v) => `${v.name}: ${v.message}`).join('; ')}; reload: ${current.lastVms.cached.map((v) => `${v.name}: ${v.message}`).join('; ')}

Command: \`npm run bench -- lab-reload --runs ${RUNS}${LAB !== 'trio' ? ` --lab ${LAB}` : ''}${previous ? ` --baseline ${BASELINE}` : ''} --write\`
<!-- lab-reload:end -->`;
process.stdout.write(section + '\n');
if (WRITE) {
  const file = join(root, 'bench', 'RESULTS.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const begin = text.indexOf('<!-- lab-reload:begin -->');
  const end = text.indexOf('<!-- lab-reload:end -->');
  const next = begin >= 0 && end > begin ? text.slice(0, begin) + section + text.slice(end + '<!-- lab-reload:end -->'.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
