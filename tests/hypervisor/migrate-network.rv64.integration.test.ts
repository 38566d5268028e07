// A pre-copy migration keeps a guest's network card: two riscv64 guests on one virtual network,
// one moves to the other worker while the other pings it; the address, the card and the ping
// carry on, and a TCP connection opened before the move delivers data after it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { sh, untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
let hv: Hypervisor;

beforeAll(async () => {
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 512 * MiB, poolSize: 2, hosts: nodeWorkerHosts() });
  hv.createNetwork('lan', { subnet: '10.0.4.0/24' });
  await hv.create({ image: 'riscv64-busybox', name: 'm', network: 'lan', ip: '10.0.4.15' });
  await hv.create({ image: 'riscv64-busybox', name: 'n', network: 'lan', ip: '10.0.4.16' });
  await Promise.all([hv.start('m'), hv.start('n')]);
  await Promise.all([untilShell(hv, 'm'), untilShell(hv, 'n')]);
  for (const [vm, ip] of [['m', '10.0.4.15'], ['n', '10.0.4.16']] as const) {
    await sh(hv, vm, `ip link set eth0 up; ip addr add ${ip}/24 dev eth0 2>/dev/null; true`);
  }
}, 240_000);

afterAll(async () => {
  await hv?.shutdown();
});

describe('pre-copy migration of a guest on a virtual network', () => {
  it('keeps its card and address: ping answers after the move, and a TCP stream opened before it goes on', async () => {
    expect(await sh(hv, 'n', 'ping -c 2 -W 5 10.0.4.15 | grep -o "[0-9]* packets received"')).toBe('2 packets received');
    // A TCP stream from n to m, opened before the move: m keeps what arrives.
    await sh(hv, 'm', "sh -c 'nc -l -p 6000 > /tmp/stream' </dev/null >/dev/null 2>&1 & true");
    await sh(hv, 'n', "sh -c '(echo before; sleep 4; echo after) | nc 10.0.4.15 6000' </dev/null >/dev/null 2>&1 & true");
    const from = hv.get('m').host;
    const report = await hv.migrate('m');
    expect(report.mode).toBe('pre-copy');
    expect(hv.get('m').host).not.toBe(from);
    expect(await sh(hv, 'n', 'ping -c 2 -W 5 10.0.4.15 | grep -o "[0-9]* packets received"')).toBe('2 packets received');
    await sh(hv, 'm', 'sleep 5');
    expect(await sh(hv, 'm', 'cat /tmp/stream')).toBe('before\nafter');
  }, 240_000);
});
