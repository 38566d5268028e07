// labs/network.json on worker_threads hosts: a riscv64 VM (our core, virtio-net) and an x86 VM
// (v86, its NE2000 card) on one lab network. DHCP at boot (init runs udhcpc), ping both ways,
// and 10 MiB over TCP each way with the sha256 compared at both ends.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { loadLab, parseLab } from '../../src/hypervisor/lab.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { untilShell } from './support/guest-shell.js';
import { guestAddress, pings, tcpTransfer } from './support/guest-net.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const labJson = JSON.parse(readFileSync(join(repoRoot, 'labs/network.json'), 'utf8')) as unknown;
let hv: Hypervisor;
let rvIp: string;
let x86Ip: string;

beforeAll(async () => {
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 512 * MiB, poolSize: 2, hosts: nodeWorkerHosts() });
  const report = await loadLab(hv, parseLab(labJson, manifest.images));
  expect(report.vms.map((v) => [v.name, v.status])).toEqual([['riscv', 'booted'], ['x86', 'booted']]);
  await Promise.all([untilShell(hv, 'riscv', 180_000), untilShell(hv, 'x86', 180_000)]);
}, 400_000);

afterAll(async () => {
  await hv?.shutdown();
});

describe('a riscv64 VM and an x86 VM on one lab network', () => {
  it('both get their address from the switch: the fixed one and one from the pool', { timeout: 180_000 }, async () => {
    rvIp = await guestAddress(hv, 'riscv');
    x86Ip = await guestAddress(hv, 'x86');
    expect(rvIp).toBe('10.0.3.10');
    expect(x86Ip).toMatch(/^10\.0\.3\.(\d+)$/);
    expect(x86Ip).not.toBe(rvIp);
    // What the guests configured is what the DHCP server handed out.
    expect(hv.addressOf('riscv')).toBe(rvIp);
    expect(hv.addressOf('x86')).toBe(x86Ip);
    expect(hv.listNetworks()).toEqual([expect.objectContaining({ name: 'network.lan', subnet: '10.0.3.0/24', dhcp: true })]);
  });

  it('carries ping both ways', { timeout: 120_000 }, async () => {
    expect(await pings(hv, 'riscv', x86Ip)).toBe(3);
    expect(await pings(hv, 'x86', rvIp)).toBe(3);
  });

  it('carries 10 MiB from riscv64 to x86 intact', { timeout: 900_000 }, async () => {
    const r = await tcpTransfer(hv, 'riscv', 'x86', x86Ip, 10);
    expect(r.sent).toMatch(/^[0-9a-f]{64}$/);
    expect(r.received).toBe(r.sent);
  });

  it('carries 10 MiB from x86 to riscv64 intact', { timeout: 900_000 }, async () => {
    const r = await tcpTransfer(hv, 'x86', 'riscv', rvIp, 10);
    expect(r.sent).toMatch(/^[0-9a-f]{64}$/);
    expect(r.received).toBe(r.sent);
  });
});
