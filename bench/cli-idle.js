#!/usr/bin/env node
// `npm run bench -- cli-idle [--image NAME] [--window S]`: host CPU of one idle guest under the
// CLI. Runs `node bin/tabvisor.js run --image NAME` (default x86-busybox), waits for its shell to
// answer, lets it settle, then reads the CLI process's CPU time (utime + stime from /proc, Linux
// only) over the window and powers the guest off. Prints one Markdown table row.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const IMAGE = opt('--image', 'x86-busybox');
const WINDOW_S = Number(opt('--window', '10'));
const SETTLE_MS = 2000;
const BOOT_LIMIT_MS = 300_000;
if (!(WINDOW_S > 0)) {
  process.stderr.write('cli-idle: --window needs a positive number of seconds\n');
  process.exit(2);
}
if (!existsSync(join(root, 'dist', 'cli'))) {
  process.stderr.write('cli-idle: dist/ is not built; run `npm run build` first\n');
  process.exit(2);
}
if (!existsSync('/proc/self/stat')) {
  process.stderr.write('cli-idle: needs /proc (Linux)\n');
  process.exit(2);
}

const child = spawn(process.execPath, [join(root, 'bin', 'tabvisor.js'), 'run', '--image', IMAGE],
  { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d) => (out += d.toString('latin1')));
const exited = new Promise((resolve) => child.on('exit', resolve));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** CPU seconds (user + system) of the CLI process and its threads, from /proc/PID/stat. */
function cpuSeconds() {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}
async function until(test, what) {
  const end = Date.now() + BOOT_LIMIT_MS;
  while (!test()) {
    if (Date.now() > end || child.exitCode !== null) {
      process.stderr.write(`cli-idle: ${what} did not happen; console:\n${out.slice(-1000)}\n`);
      child.kill();
      process.exit(1);
    }
    await sleep(100);
  }
}

const load0 = loadavg()[0];
await until(() => out.includes('tabvisor-guest-ready'), 'the ready marker');
child.stdin.write('echo up-$((1+1))\n');
await until(() => out.includes('up-2'), 'an answer from the shell');
await sleep(SETTLE_MS);
const cpu0 = cpuSeconds();
const t0 = performance.now();
await sleep(WINDOW_S * 1000);
const cpu = cpuSeconds() - cpu0;
const wallS = (performance.now() - t0) / 1000;
child.stdin.write('poweroff -f\n');
child.stdin.end();
await Promise.race([exited, sleep(30_000)]);
if (child.exitCode === null) child.kill();
const pct = (100 * cpu) / wallS;
process.stdout.write(`| ${IMAGE} | ${cpu.toFixed(2)} s over ${wallS.toFixed(1)} s | **${pct.toFixed(1)}%** | ${load0.toFixed(1)} |\n`);
