#!/usr/bin/env node
// `npm run bench -- lab-reload [--runs N] [--lab NAME] [--write]`: in Debian's Chromium (headless),
// how long from opening or reloading the page until every console of the lab has answered a
// command. Cold: a fresh browser profile, so no template snapshots are in OPFS and every VM boots
// from its image (the page saves the templates before it calls the lab ready). Cached: a reload of
// the same page, so every VM is restored from its template. Each run opens its own profile (cold)
// then reloads it (cached). Prints a Markdown section; --write also puts it into bench/RESULTS.md
// (replacing this benchmark's previous section only).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildApp, createAppServer, needsBuild } from '../scripts/start.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const RUNS = Number(opt('--runs', '3'));
const LAB = opt('--lab', 'default');
const WRITE = args.includes('--write');
const CHROMIUM = '/usr/bin/chromium';
if (!Number.isInteger(RUNS) || RUNS < 1) {
  process.stderr.write('lab-reload: --runs needs a positive whole number\n');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  process.stderr.write(`lab-reload: ${CHROMIUM} is missing (scripts/setup-system.sh test installs it)\n`);
  process.exit(2);
}
if (needsBuild()) buildApp();

const server = createAppServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://localhost:${server.address().port}/?lab=${encodeURIComponent(LAB)}`;
const load0 = loadavg()[0];

/** Waits for the lab line to say ready, then types a command in every console and waits for all answers. */
async function untilAnswered(page, t0) {
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.querySelector('tv-app')?.lab?.view.phase ?? ''), undefined, { timeout: 300_000, polling: 20 });
  const labReadyMs = performance.now() - t0;
  const vms = await page.evaluate(() => {
    const app = document.querySelector('tv-app');
    const view = app.lab.view;
    if (view.phase !== 'ready') throw new Error(`the lab failed: ${view.message}`);
    for (const vm of view.vms) if (vm.id) app.lab.sendConsole(vm.id, 'echo answer-$((20+22))\r');
    return view.vms.map((vm) => ({ name: vm.name, running: Boolean(vm.id), message: vm.message }));
  });
  if (vms.some((vm) => !vm.running)) throw new Error(`not every VM runs: ${JSON.stringify(vms)}`);
  await page.waitForFunction(
    (names) => names.every((name) => document.querySelector('tv-app').consoleText(name).split('\n').some((line) => line.trim() === 'answer-42')),
    vms.map((vm) => vm.name),
    { timeout: 120_000, polling: 20 },
  );
  return { ms: performance.now() - t0, labReadyMs, vms };
}

const cold = [];
const cached = [];
let lastVms = [];
for (let run = 0; run < RUNS; run++) {
  const profile = mkdtempSync(join(tmpdir(), 'tabvisor-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    let t0 = performance.now();
    await page.goto(url);
    const c = await untilAnswered(page, t0);
    cold.push(c);
    t0 = performance.now();
    await page.reload();
    const w = await untilAnswered(page, t0);
    cached.push(w);
    lastVms = { cold: c.vms, cached: w.vms };
    process.stderr.write(`run ${run + 1}: cold ${(c.ms / 1000).toFixed(2)} s, cached ${(w.ms / 1000).toFixed(2)} s\n`);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
server.close();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sec = (ms) => (ms / 1000).toFixed(2);
const row = (label, rs) => `| ${label} | ${sec(median(rs.map((r) => r.ms)))} | ${sec(Math.min(...rs.map((r) => r.ms)))} | ${sec(Math.max(...rs.map((r) => r.ms)))} | ${sec(median(rs.map((r) => r.labReadyMs)))} |`;
const chromiumVersion = (await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox'] }).then(async (b) => { const v = b.version(); await b.close(); return v; }));
const section = `<!-- lab-reload:begin -->
## lab-reload: page load until every console of lab \`${LAB}\` answers, cold vs. templates cached (bench/lab-reload.js)

Chromium ${chromiumVersion} headless (Debian's /usr/bin/chromium), the app built by vite and served by
scripts/start.js's server on localhost. The clock starts before \`page.goto\` (cold: a fresh profile, no
templates in OPFS, every VM boots from its image and the page saves a template of each before it calls
the lab ready) or \`page.reload()\` (cached: every VM is restored from its template) and stops when each
console has printed the answer to \`echo answer-$((20+22))\`, typed once the lab line says ready.
${RUNS} runs, each a new profile (cold) and then one reload (cached); ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores
(${cpus()[0]?.model ?? 'unknown CPU'}), load average ${load0.toFixed(2)} at the start and ${loadavg()[0].toFixed(2)} at the end
(a shared machine: wall times vary).

| load | median s to all answers | min s | max s | median s to "lab ready" |
|---|---:|---:|---:|---:|
${row('cold (boot + save templates)', cold)}
${row('reload, templates cached', cached)}

- cold / cached (medians): **${(median(cold.map((r) => r.ms)) / median(cached.map((r) => r.ms))).toFixed(1)}x**
- how each VM started (last run): cold: ${lastVms.cold.map((v) => `${v.name}: ${v.message}`).join('; ')}; cached: ${lastVms.cached.map((v) => `${v.name}: ${v.message}`).join('; ')}

Command: \`npm run bench -- lab-reload --runs ${RUNS}${LAB !== 'default' ? ` --lab ${LAB}` : ''} --write\`
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
