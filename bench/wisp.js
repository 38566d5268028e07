#!/usr/bin/env node
// `npm run bench -- wisp [--mib N] [--only a,b]`: download throughput into a guest through the
// internet gateway and a WISP relay on loopback (scripts/wisp-relay.mjs), against references in
// the same run. Every case fetches the same N MiB of random bytes with BusyBox wget into
// sha256sum (checked) and times the command in the guest:
//   relay-rv64   a riscv64 VM on a hypervisor network with `internet` (worker host), from a Node
//                HTTP server on the host, through the gateway and the relay
//   relay-x86    the same with an x86 VM (v86, NE2000)
//   lan-rv64     reference: from a second riscv64 VM's busybox httpd over the same lab switch
//   qemu-user    reference: qemu-system-riscv64 with user networking (slirp) and the same kernel
//                and initramfs, from the same host server at 10.0.2.2
// Prints a Markdown table. A shared, loaded machine slows every guest case alike.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startWispRelay } from '../scripts/wisp-relay.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const MIB = Number(opt('--mib', '4'));
const ONLY = opt('--only', 'relay-rv64,relay-x86,lan-rv64,qemu-user').split(',');
if (!(MIB > 0 && Number.isInteger(MIB))) {
  process.stderr.write('wisp: --mib needs a positive whole number\n');
  process.exit(2);
}
if (!existsSync(join(root, 'dist', 'hypervisor', 'node-hosts.js'))) {
  process.stderr.write('wisp: dist/ is not built; run `npm run build` first\n');
  process.exit(2);
}
const { Hypervisor } = await import(join(root, 'dist', 'hypervisor', 'hypervisor.js'));
const { nodeWorkerHosts } = await import(join(root, 'dist', 'hypervisor', 'node-hosts.js'));
const { runInGuest } = await import(join(root, 'dist', 'hypervisor', 'guest-command.js'));
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));
const rvImage = manifest.images.find((i) => i.name === 'riscv64-busybox');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`wisp: ${s}\n`);

const DATA = randomBytes(MIB << 20);
const SHA = createHash('sha256').update(DATA).digest('hex');
const http = createServer((_req, res) => {
  res.writeHead(200, { 'content-length': DATA.length });
  res.end(DATA);
});
await new Promise((r) => http.listen(0, '127.0.0.1', r));
const PORT = http.address().port;

function guestOn(consoleLike, vm) {
  return {
    async run(script, timeoutMs = 900_000) {
      const r = await runInGuest(consoleLike, vm, script, { timeoutMs });
      if (r.exitCode !== 0) throw new Error(`${vm}: exit ${r.exitCode}: ${r.output}`);
      return r.output;
    },
  };
}

/** Times `wget URL | sha256sum` in the guest (the guest's own clock: date +%s.%N is not in every busybox). */
async function fetchTimed(g, url) {
  const t0 = performance.now();
  const out = await g.run(`wget -q -O - ${url} | sha256sum | cut -d" " -f1`);
  const s = (performance.now() - t0) / 1000;
  if (out !== SHA) throw new Error(`sha256 differs: ${out}`);
  return { seconds: s, mibps: MIB / s };
}

async function withHv(fn) {
  const hv = new Hypervisor({
    images: manifest.images, memoryBudgetBytes: 512 << 20, poolSize: 2, hosts: nodeWorkerHosts({ root }),
    webSocket: (url) => new WebSocket(url),
  });
  try {
    return await fn(hv);
  } finally {
    await hv.shutdown();
  }
}

async function ready(hv, names, prefix) {
  await Promise.all(names.map((n) => hv.start(n)));
  await Promise.all(names.map((n) => hv.waitUntilReady(n, 300_000)));
  for (const n of names) {
    const g = guestOn(hv, n);
    await g.run('dmesg -n 1');
    while (!(await g.run('ip -4 addr show eth0; true')).includes(prefix)) await sleep(500);
  }
}

async function relayCase(image) {
  const relay = await startWispRelay({ names: { 'files.test': '203.0.113.5' } });
  try {
    return await withHv(async (hv) => {
      hv.createNetwork('lan', { subnet: '10.0.7.0/24', internet: relay.url });
      await hv.create({ image, name: 'a', network: 'lan' });
      await ready(hv, ['a'], '10.0.7.');
      return await fetchTimed(guestOn(hv, 'a'), `http://files.test:${PORT}/f`);
    });
  } finally {
    await relay.close();
  }
}

async function lanCase() {
  return withHv(async (hv) => {
    hv.createNetwork('lan', { subnet: '10.0.8.0/24' });
    await hv.create({ image: 'riscv64-busybox', name: 'a', network: 'lan', ip: '10.0.8.10' });
    await hv.create({ image: 'riscv64-busybox', name: 'b', network: 'lan', ip: '10.0.8.11' });
    await ready(hv, ['a', 'b'], '10.0.8.');
    // The same bytes on the server VM: fetched once from the host through its console is too slow,
    // so b makes them from the same seed-free source and a checks against b's sum instead.
    const b = guestOn(hv, 'b');
    await b.run(`mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/f bs=65536 count=${MIB * 16} 2>/dev/null && httpd -p 8080 -h /tmp/www`);
    const sum = await b.run('sha256sum /tmp/www/f | cut -d" " -f1');
    const a = guestOn(hv, 'a');
    const t0 = performance.now();
    const out = await a.run('wget -q -O - http://10.0.8.11:8080/f | sha256sum | cut -d" " -f1');
    const s = (performance.now() - t0) / 1000;
    if (out !== sum) throw new Error(`sha256 differs: ${out} vs ${sum}`);
    return { seconds: s, mibps: MIB / s };
  });
}

async function qemuCase() {
  const dir = join(root, 'images', 'riscv64-busybox');
  const child = spawn('qemu-system-riscv64', [
    '-M', 'virt', '-m', `${rvImage.memoryMiB}M`, '-nographic', '-bios', join(dir, 'fw_jump.bin'),
    '-kernel', join(dir, 'Image'), '-initrd', join(dir, 'initrd.cpio'),
    '-append', `${rvImage.cmdline} tabvisor.ip=dhcp`,
    '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0',
  ], { cwd: root, stdio: ['pipe', 'pipe', 'ignore'] });
  let text = '';
  child.stdout.on('data', (d) => { text += d.toString('latin1'); });
  const con = {
    async sendConsole(_vm, data) { child.stdin.write(data); },
    consoleOffset() { return text.length; },
    consoleText(_vm, from = 0) { return text.slice(from); },
    async waitForConsole(_vm, needle, { from = 0, timeoutMs = 60_000 } = {}) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const at = text.indexOf(needle, from);
        if (at >= 0) return at + needle.length;
        if (Date.now() > end || child.exitCode !== null) throw new Error(`no "${needle}" on the console`);
        await sleep(20);
      }
    },
  };
  try {
    await con.waitForConsole('q', 'tabvisor-guest-ready', { timeoutMs: 300_000 });
    const g = guestOn(con, 'q');
    await g.run('dmesg -n 1');
    while (!(await g.run('ip -4 addr show eth0; true')).includes('10.0.2.')) await sleep(500);
    return await fetchTimed(g, `http://10.0.2.2:${PORT}/f`);
  } finally {
    child.kill('SIGKILL');
  }
}

const CASES = {
  'relay-rv64': ['riscv64 VM, lab gateway + WISP relay (loopback) -> host HTTP server', () => relayCase('riscv64-busybox')],
  'relay-x86': ['x86 VM (v86), lab gateway + WISP relay (loopback) -> host HTTP server', () => relayCase('x86-busybox')],
  'lan-rv64': ['reference: riscv64 VM <- riscv64 VM httpd over the lab switch (2 workers)', lanCase],
  'qemu-user': ['reference: QEMU riscv64, user networking (slirp) -> host HTTP server, same kernel', qemuCase],
};
const load0 = loadavg()[0];
const rows = [];
for (const key of ONLY) {
  const c = CASES[key];
  if (!c) {
    process.stderr.write(`wisp: no case '${key}' (have: ${Object.keys(CASES).join(', ')})\n`);
    process.exit(2);
  }
  if (key === 'qemu-user' && spawnSync('qemu-system-riscv64', ['--version']).status !== 0) {
    log('qemu-system-riscv64 is missing: qemu-user skipped');
    continue;
  }
  log(`${key}: ${c[0]} ...`);
  const r = await c[1]();
  log(`${key}: ${r.mibps.toFixed(3)} MiB/s`);
  rows.push([key, c[0], r]);
}
http.close();
const load1 = loadavg()[0];
const ref = rows.find(([k]) => k === 'lan-rv64')?.[2];
const lines = [
  `| case | ${MIB} MiB with wget (sha256 checked) | throughput | vs lab switch |`,
  '|---|---:|---:|---:|',
  ...rows.map(([, label, r]) => `| ${label} | ${r.seconds.toFixed(1)} s | **${(r.mibps * 1024).toFixed(0)} KiB/s** | ${ref ? `${(r.mibps / ref.mibps).toFixed(2)}x` : '-'} |`),
  '',
  `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}, load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end.`,
  '',
];
process.stdout.write(lines.join('\n'));
process.exit(0);
