#!/usr/bin/env node
// `npm run bench -- net [--mib N] [--pings N] [--only a,b] [--previous DIR]`: round-trip time and TCP throughput
// between two guests, for each way Tabvisor connects them, against references in the same run.
// Cases (each boots two guests, pings N times, then sends N MiB of random bytes with nc and
// checks the sha256 at both ends; the time is from the send to the receiver's file being closed):
//   hv-rv64      two riscv64 VMs in two worker_threads hosts on a hypervisor network (switch + DHCP)
//   hv-mixed     a riscv64 VM and an x86 VM (v86) on a hypervisor network, riscv64 -> x86
//   hv-mixed-back  the same, x86 -> riscv64
//   cli-socket   two `tabvisor run` processes (riscv64) joined by --net-listen/--net-connect
//   qemu-socket  reference: two qemu-system-riscv64 processes with the same kernel and initramfs,
//                joined by QEMU's socket netdev (the framing --net-* copies)
//   loopback     reference: the same bytes over TCP on the host's loopback (Node), and a 64-byte
//                ping-pong for the round trip
// --previous DIR: the hv-* cases run a second time with the VM-host workers of another built tree
// (DIR/dist, e.g. a git worktree of the previous version with `npx tsc` run in it): the engines and
// devices of that version behind today's hypervisor, a reference in the same run.
// Prints a Markdown table. A shared, loaded machine slows every guest case alike.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const MIB = Number(opt('--mib', '2'));
const PINGS = Number(opt('--pings', '10'));
const ONLY = opt('--only', 'hv-rv64,hv-mixed,hv-mixed-back,cli-socket,qemu-socket,loopback').split(',');
const PREVIOUS = opt('--previous', undefined);
if (!(MIB > 0 && Number.isInteger(MIB)) || !(PINGS >= 1)) {
  process.stderr.write('net: --mib and --pings need positive whole numbers\n');
  process.exit(2);
}
if (!existsSync(join(root, 'dist', 'hypervisor', 'node-hosts.js'))) {
  process.stderr.write('net: dist/ is not built; run `npm run build` first\n');
  process.exit(2);
}
const { Hypervisor } = await import(join(root, 'dist', 'hypervisor', 'hypervisor.js'));
const { nodeWorkerHosts } = await import(join(root, 'dist', 'hypervisor', 'node-hosts.js'));
if (PREVIOUS && !existsSync(join(PREVIOUS, 'dist', 'hypervisor', 'node-hosts.js'))) {
  process.stderr.write(`net: --previous ${PREVIOUS} has no dist/hypervisor/node-hosts.js (run npx tsc there)\n`);
  process.exit(2);
}
const previousHosts = PREVIOUS ? (await import(join(PREVIOUS, 'dist', 'hypervisor', 'node-hosts.js'))).nodeWorkerHosts : undefined;
const { runInGuest } = await import(join(root, 'dist', 'hypervisor', 'guest-command.js'));
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));
const rvImage = manifest.images.find((i) => i.name === 'riscv64-busybox');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`net: ${s}\n`);

/** A guest console on a child process's stdio, shaped like the Hypervisor's (for runInGuest). */
class ProcessConsole {
  constructor(child) {
    this.child = child;
    this.text = '';
    child.stdout.on('data', (d) => { this.text += d.toString('latin1'); });
  }
  async sendConsole(_vm, data) { this.child.stdin.write(data); }
  consoleOffset() { return this.text.length; }
  consoleText(_vm, from = 0) { return this.text.slice(from); }
  async waitForConsole(_vm, needle, { from = 0, timeoutMs = 60_000 } = {}) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const at = this.text.indexOf(needle, from);
      if (at >= 0) return at + needle.length;
      if (Date.now() > end || this.child.exitCode !== null) throw new Error(`no "${needle}" on the console`);
      await sleep(20);
    }
  }
}

/** A guest: `run(script)` returns its output (throws on a non-zero status). */
function guestOn(consoleLike, vm) {
  return {
    async run(script, timeoutMs = 600_000) {
      const r = await runInGuest(consoleLike, vm, script, { timeoutMs });
      if (r.exitCode !== 0) throw new Error(`${vm}: exit ${r.exitCode}: ${r.output}`);
      return r.output;
    },
  };
}

/** ping RTT (avg ms) from a to ip, then MiB/s of an nc transfer a -> b (sha256 checked). */
async function measurePair(a, b, bIp) {
  const p = await a.run(`ping -c ${PINGS} -W 5 ${bIp}`, 120_000);
  const rtt = /= [\d.]+\/([\d.]+)\/[\d.]+ ms/.exec(p);
  const received = Number(/(\d+) packets received/.exec(p)?.[1] ?? 0);
  await b.run([
    'rm -f /tmp/recv /tmp/recv.done',
    "printf '#!/bin/sh\\ncat > /tmp/recv\\necho done > /tmp/recv.done\\n' > /tmp/rx.sh; chmod +x /tmp/rx.sh",
    'nc -l -p 5000 -e /tmp/rx.sh </dev/null >/dev/null 2>&1 &',
  ].join('\n'));
  const sent = await a.run(`dd if=/dev/urandom of=/tmp/data bs=65536 count=${MIB * 16} 2>/dev/null; sha256sum /tmp/data | cut -d" " -f1`);
  const t0 = performance.now();
  await a.run(`nc ${bIp} 5000 < /tmp/data`);
  while ((await b.run('cat /tmp/recv.done 2>/dev/null; true')) !== 'done') await sleep(200);
  const s = (performance.now() - t0) / 1000;
  const got = await b.run('sha256sum /tmp/recv | cut -d" " -f1; rm -f /tmp/recv');
  await a.run('rm -f /tmp/data');
  if (got !== sent) throw new Error(`sha256 differs: sent ${sent}, received ${got}`);
  return { rttMs: rtt ? Number(rtt[1]) : NaN, pings: `${received}/${PINGS}`, seconds: s, mibps: MIB / s };
}

async function hvCase(otherImage, { back = false, hosts = nodeWorkerHosts } = {}) {
  const hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 512 << 20, poolSize: 2, hosts: hosts({ root }) });
  try {
    hv.createNetwork('lan', { subnet: '10.0.5.0/24' });
    await hv.create({ image: 'riscv64-busybox', name: 'a', network: 'lan', ip: '10.0.5.10' });
    await hv.create({ image: otherImage, name: 'b', network: 'lan', ip: '10.0.5.11' });
    await Promise.all([hv.start('a'), hv.start('b')]);
    await Promise.all([hv.waitUntilReady('a', 300_000), hv.waitUntilReady('b', 300_000)]);
    const a = guestOn(hv, 'a');
    const b = guestOn(hv, 'b');
    for (const g of [a, b]) {
      await g.run('dmesg -n 1');
      while (!/10\.0\.5\./.test(await g.run('ip -4 addr show eth0; true'))) await sleep(500);
    }
    return back ? await measurePair(b, a, '10.0.5.10') : await measurePair(a, b, '10.0.5.11');
  } finally {
    await hv.shutdown();
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** Two processes on one wire: `argv(port, ip, listen)` gives each one's command line. */
async function processPair(command, argv, marker) {
  const port = await freePort();
  const kids = [];
  try {
    const one = spawn(command, argv(port, '10.0.6.1/24', true), { cwd: root, stdio: ['pipe', 'pipe', 'ignore'] });
    kids.push(one);
    const c1 = new ProcessConsole(one);
    await c1.waitForConsole('a', marker, { timeoutMs: 300_000 });
    const two = spawn(command, argv(port, '10.0.6.2/24', false), { cwd: root, stdio: ['pipe', 'pipe', 'ignore'] });
    kids.push(two);
    const c2 = new ProcessConsole(two);
    await c2.waitForConsole('b', marker, { timeoutMs: 300_000 });
    const a = guestOn(c2, 'b');
    const b = guestOn(c1, 'a');
    await a.run('dmesg -n 1');
    await b.run('dmesg -n 1');
    return await measurePair(a, b, '10.0.6.1');
  } finally {
    for (const k of kids) k.kill('SIGKILL');
  }
}

function cliCase() {
  return processPair(process.execPath, (port, ip, listen) => [
    join(root, 'bin', 'tabvisor.js'), 'run', '--image', 'riscv64-busybox', listen ? '--net-listen' : '--net-connect', String(port),
    '--append', `${rvImage.cmdline} tabvisor.ip=${ip}`, '--timeout', '1200',
  ], 'tabvisor-guest-ready');
}

function qemuCase() {
  const dir = join(root, 'images', 'riscv64-busybox');
  const mac = (n) => `52:54:00:00:06:0${n}`;
  return processPair('qemu-system-riscv64', (port, ip, listen) => [
    '-M', 'virt', '-m', `${rvImage.memoryMiB}M`, '-nographic', '-bios', join(dir, 'fw_jump.bin'),
    '-kernel', join(dir, 'Image'), '-initrd', join(dir, 'initrd.cpio'),
    '-append', `${rvImage.cmdline} tabvisor.ip=${ip}`,
    '-netdev', `socket,id=n0,${listen ? 'listen' : 'connect'}=127.0.0.1:${port}`,
    '-device', `virtio-net-device,netdev=n0,mac=${mac(listen ? 1 : 2)}`,
  ], 'tabvisor-guest-ready');
}

async function loopbackCase() {
  const data = randomBytes(MIB << 20);
  const server = createServer((sock) => sock.on('data', (d) => {
    if (d.length <= 64) sock.write(d); // echo pings only
  }));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.setNoDelay(true);
  const rtts = [];
  for (let i = 0; i < PINGS; i++) {
    const t = performance.now();
    sock.write(Buffer.alloc(64, 1));
    await new Promise((r) => sock.once('data', r));
    rtts.push(performance.now() - t);
  }
  sock.destroy();
  let got = 0;
  const done = new Promise((resolve) => {
    server.removeAllListeners('connection');
    server.on('connection', (s) => s.on('data', (d) => { got += d.length; if (got >= data.length) resolve(); }));
  });
  const t0 = performance.now();
  const tx = connect(port, '127.0.0.1', () => tx.end(data));
  await done;
  const s = (performance.now() - t0) / 1000;
  server.close();
  return { rttMs: rtts.reduce((x, y) => x + y) / rtts.length, pings: `${PINGS}/${PINGS}`, seconds: s, mibps: MIB / s };
}

const CASES = {
  'hv-rv64': ['riscv64 <-> riscv64, hypervisor switch (2 workers)', () => hvCase('riscv64-busybox')],
  'hv-mixed': ['riscv64 -> x86 (v86), hypervisor switch (2 workers)', () => hvCase('x86-busybox')],
  'hv-mixed-back': ['x86 (v86) -> riscv64, hypervisor switch (2 workers)', () => hvCase('x86-busybox', { back: true })],
  'cli-socket': ['riscv64 <-> riscv64, two `tabvisor run` processes (--net-listen/--net-connect)', cliCase],
  'qemu-socket': ['reference: riscv64 <-> riscv64, two QEMU processes (-netdev socket), same kernel', qemuCase],
  loopback: ['reference: host loopback TCP (Node), no guest', loopbackCase],
};
const load0 = loadavg()[0];
const rows = [];
for (const key of ONLY) {
  const c = CASES[key];
  if (!c) {
    process.stderr.write(`net: no case '${key}' (have: ${Object.keys(CASES).join(', ')})\n`);
    process.exit(2);
  }
  if (key === 'qemu-socket' && spawnSync('qemu-system-riscv64', ['--version']).status !== 0) {
    log('qemu-system-riscv64 is missing: qemu-socket skipped');
    continue;
  }
  log(`${key}: ${c[0]} ...`);
  const t = performance.now();
  const r = await c[1]();
  log(`${key}: rtt ${r.rttMs.toFixed(2)} ms, ${r.mibps.toFixed(3)} MiB/s (${((performance.now() - t) / 1000).toFixed(0)} s)`);
  rows.push([key, c[0], r]);
  if (previousHosts && key.startsWith('hv-')) {
    const p = await (key === 'hv-rv64' ? hvCase('riscv64-busybox', { hosts: previousHosts })
      : hvCase('x86-busybox', { back: key === 'hv-mixed-back', hosts: previousHosts }));
    log(`${key} (previous): rtt ${p.rttMs.toFixed(2)} ms, ${p.mibps.toFixed(3)} MiB/s`);
    rows.push([`${key}-previous`, `${c[0]}, previous version (${PREVIOUS})`, p]);
  }
}
const load1 = loadavg()[0];
const ref = rows.find(([k]) => k === 'qemu-socket')?.[2];
const lines = [
  `| case | ping RTT avg (answered) | ${MIB} MiB over TCP | throughput | vs QEMU socket (RTT, throughput) |`,
  '|---|---:|---:|---:|---:|',
  ...rows.map(([, label, r]) => `| ${label} | ${r.rttMs.toFixed(2)} ms (${r.pings}) | ${r.seconds.toFixed(1)} s | **${(r.mibps * 1024).toFixed(0)} KiB/s** | ` +
    (ref ? `${(r.rttMs / ref.rttMs).toFixed(1)}x, ${(r.mibps / ref.mibps).toFixed(2)}x` : '-') + ' |'),
  '',
  ...rows.filter(([k]) => rows.some(([p]) => p === `${k}-previous`)).map(([k, , r]) => {
    const p = rows.find(([q]) => q === `${k}-previous`)[2];
    return `- ${k}: now / previous throughput **${(r.mibps / p.mibps).toFixed(2)}x**, RTT ${(r.rttMs / p.rttMs).toFixed(2)}x`;
  }),
  '',
  `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}, load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end.`,
  '',
];
process.stdout.write(lines.join('\n'));
process.exit(0);
