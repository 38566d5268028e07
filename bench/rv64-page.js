#!/usr/bin/env node
// `npm run bench -- rv64-page [--runs N] [--write]`: is the browser slower than Node? The same
// riscv64-busybox VM (128 MiB, the JIT on as every real-time machine has it) booted to its shell
// and given the same user-space workloads (bench/_workloads.js), through the same Hypervisor API:
// in Debian's Chromium (headless; the built app from `npm start`'s server, the VM in one of the
// page's Web Workers) and in Node (nodeWorkerHosts: the VM in a worker_threads worker), alternating
// in one run. Times are taken where the hypervisor runs (the page's performance.now(), Node's), from
// create to the ready marker and from typing a command to its end marker; the JIT's figures
// (hv.stats(vm).jit) are read before and after each workload. The page's own lab VMs are deleted
// before the measured VM starts. Prints a Markdown section; --write also puts it into
// bench/RESULTS.md (replacing this benchmark's previous section only).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, chromiumVersion, launchProfile } from './_chromium.js';
import { buildApp, createAppServer, needsBuild, webDist } from '../scripts/start.js';
import { writeSection } from './_sections.js';
import { WORKLOADS, answerOf } from './_workloads.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const RUNS = Number(opt('--runs', '2'));
const WRITE = args.includes('--write');
const IMAGE = 'riscv64-busybox';
const MEM_MIB = 128;
const WAIT_MS = 300_000;
const fail = (line) => {
  process.stderr.write(`rv64-page: ${line}\n`);
  process.exit(2);
};
if (!Number.isInteger(RUNS) || RUNS < 1) fail('--runs needs a positive whole number');
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing (scripts/setup-system.sh test installs it)`);
if (needsBuild()) buildApp();
if (!existsSync(join(root, 'dist', 'hypervisor', 'node-hosts.js'))) fail('dist/ is not built; run `npm run build:ts` first');
const { Hypervisor } = await import(join(root, 'dist', 'hypervisor', 'hypervisor.js'));
const { nodeWorkerHosts } = await import(join(root, 'dist', 'hypervisor', 'node-hosts.js'));
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));

/**
 * The measured session on a hypervisor `hv` (in the page or in Node: this function is sent to the
 * page as source, so it uses nothing from outside but its arguments).
 */
async function session(hv, { image, memoryMiB, workloads, waitMs }) {
  const name = 'bench-rv64';
  const jitOf = async () => {
    const j = (await hv.stats(name)).jit;
    return j ? { regions: j.regions, modules: j.modules, codeBytes: j.codeBytes, instructions: Number(j.instructions) } : undefined;
  };
  const t0 = performance.now();
  await hv.create({ image, name, memoryMiB });
  await hv.start(name);
  await hv.waitUntilReady(name, waitMs);
  const readyMs = performance.now() - t0;
  let step = 0;
  const run = async (cmd) => {
    const n = ++step;
    const marker = `@@E${n}@@`;
    const from = hv.consoleOffset(name);
    const t = performance.now();
    await hv.sendConsole(name, `${cmd}; echo "@@E""${n}@@"\n`);
    const at = await hv.waitForConsole(name, marker, { from, timeoutMs: waitMs });
    return { ms: performance.now() - t, out: hv.consoleText(name, from).slice(0, at - from) };
  };
  const first = await run('echo hi');
  const shellMs = performance.now() - t0;
  const results = [];
  for (const w of workloads) {
    const s0 = await hv.stats(name);
    const j0 = await jitOf();
    const r = await run(w.cmd);
    const s1 = await hv.stats(name);
    const j1 = await jitOf();
    results.push({
      ms: r.ms, out: r.out, insns: Number(s1.instructions) - Number(s0.instructions),
      jit: j0 && j1 ? { regions: j1.regions - j0.regions, jitInsns: j1.instructions - j0.instructions, codeBytes: j1.codeBytes } : undefined,
    });
  }
  await hv.stop(name);
  await hv.delete(name);
  return { readyMs, shellMs, firstMs: first.ms, workloads: results };
}

// --- Node -------------------------------------------------------------------------------------
async function inNode() {
  const hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 1024 * 1024 * 1024, hosts: nodeWorkerHosts({ root }), poolSize: 2 });
  try {
    return await session(hv, { image: IMAGE, memoryMiB: MEM_MIB, workloads: WORKLOADS, waitMs: WAIT_MS });
  } finally {
    await hv.shutdown();
  }
}

// --- the page -----------------------------------------------------------------------------------
const server = createAppServer(webDist);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://localhost:${server.address().port}/?lab=default`;
const browserVersion = await chromiumVersion();

async function inPage() {
  const profile = mkdtempSync(join(tmpdir(), 'tabvisor-bench-page-'));
  const context = await launchProfile(profile);
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    await page.waitForFunction(() => ['ready', 'failed'].includes(document.querySelector('tv-app')?.lab?.view.phase ?? ''), undefined, { timeout: WAIT_MS, polling: 50 });
    // The lab's own VMs go, so the measured VM has the page's workers to itself.
    await page.evaluate(async () => {
      const hv = document.querySelector('tv-app').lab.hypervisor;
      for (const vm of hv.list()) {
        if (vm.state === 'running' || vm.state === 'paused') await hv.stop(vm.id);
        await hv.delete(vm.id);
      }
    });
    return await page.evaluate(
      async ({ source, opts }) => {
        // eslint-disable-next-line no-new-func
        const session = new Function(`return (${source})`)();
        return session(document.querySelector('tv-app').lab.hypervisor, opts);
      },
      { source: session.toString(), opts: { image: IMAGE, memoryMiB: MEM_MIB, workloads: WORKLOADS, waitMs: WAIT_MS } },
    );
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const load0 = loadavg()[0];
const nodes = [];
const pages = [];
for (let i = 0; i < RUNS; i++) {
  nodes.push(await inNode());
  pages.push(await inPage());
  process.stderr.write(`rv64-page: run ${i + 1}/${RUNS}: shell after ${(nodes[i].shellMs / 1000).toFixed(2)} s in Node, ${(pages[i].shellMs / 1000).toFixed(2)} s in the page\n`);
}
server.close();
const load1 = loadavg()[0];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f2 = (x) => x.toFixed(2);
const lines = [];
lines.push('## rv64-page: the same riscv64 VM in the page\'s worker (Chromium) and in Node (bench/rv64-page.js)');
lines.push('');
lines.push(`Image: ${IMAGE}, ${MEM_MIB} MiB, JIT on (the real-time default), created, started and typed at through the`);
lines.push(`Hypervisor API: in Chromium ${browserVersion} headless (Debian's /usr/bin/chromium, the built app from \`npm start\`'s server,`);
lines.push('the VM in a Web Worker of the page, the lab\'s own VMs deleted first) and in Node ' + process.version + ' (nodeWorkerHosts, a');
lines.push('worker_threads worker). Times taken where the hypervisor runs: from create to the ready marker and to the');
lines.push('first answer; each workload from typing to its end marker. ' + `${RUNS} run(s) of each, alternating; ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores`);
lines.push(`(${cpus()[0]?.model.trim() ?? 'unknown CPU'}), load average ${load0.toFixed(2)} at the start and ${load1.toFixed(2)} at the end.`);
lines.push('');
lines.push('| what | Node ms (median) | page ms (median) | page / Node | page min–max ms | same answer |');
lines.push('|---|---:|---:|---:|---:|---|');
const row = (label, nodeMs, pageMs, same = '') => {
  lines.push(`| ${label} | ${median(nodeMs).toFixed(0)} | ${median(pageMs).toFixed(0)} | **${f2(median(pageMs) / median(nodeMs))}x** | ${Math.min(...pageMs).toFixed(0)}–${Math.max(...pageMs).toFixed(0)} | ${same} |`);
};
row('create to ready marker', nodes.map((r) => r.readyMs), pages.map((r) => r.readyMs));
row('create to shell answer', nodes.map((r) => r.shellMs), pages.map((r) => r.shellMs));
WORKLOADS.forEach((w, i) => {
  const a = answerOf(nodes[RUNS - 1].workloads[i].out);
  const same = a !== undefined && a === answerOf(pages[RUNS - 1].workloads[i].out);
  row(w.name, nodes.map((r) => r.workloads[i].ms), pages.map((r) => r.workloads[i].ms), same ? 'yes' : 'no');
});
lines.push('');
lines.push('The JIT over each workload (last run; regions installed, M instructions run in compiled code, guest M instructions, code held after):');
lines.push('');
lines.push('| workload | Node regions | Node M compiled / M insns | page regions | page M compiled / M insns | code KiB Node / page |');
lines.push('|---|---:|---:|---:|---:|---:|');
WORKLOADS.forEach((w, i) => {
  const n = nodes[RUNS - 1].workloads[i];
  const p = pages[RUNS - 1].workloads[i];
  const jit = (x) => (x.jit ? `${(x.jit.jitInsns / 1e6).toFixed(1)} / ${(x.insns / 1e6).toFixed(1)}` : `— / ${(x.insns / 1e6).toFixed(1)}`);
  lines.push(`| ${w.name} | ${n.jit?.regions ?? '—'} | ${jit(n)} | ${p.jit?.regions ?? '—'} | ${jit(p)} | ${n.jit ? (n.jit.codeBytes / 1024).toFixed(0) : '—'} / ${p.jit ? (p.jit.codeBytes / 1024).toFixed(0) : '—'} |`);
});
lines.push('');
lines.push(`Command: \`npm run build && npm run bench -- rv64-page --runs ${RUNS}${WRITE ? ' --write' : ''}\``);
lines.push('');
const section = lines.join('\n');
process.stdout.write(section);
if (WRITE) writeSection('rv64-page', section, 'rv64-page');
