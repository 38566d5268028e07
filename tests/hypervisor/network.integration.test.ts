// Two riscv64 guests in two workers on one virtual network: DHCP from the switch's server, ping,
// and a 10 MiB TCP transfer whose checksum is compared at both ends.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { runInGuest } from '../../src/hypervisor/guest-command.js';
import { sh, untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
let hv: Hypervisor;
let a: string;
let b: string;

beforeAll(async () => {
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 512 * MiB, poolSize: 2, hosts: nodeWorkerHosts() });
  hv.createNetwork('lan', { subnet: '10.0.2.0/24' });
  a = (await hv.create({ image: 'riscv64-busybox', name: 'a', network: 'lan', ip: '10.0.2.15' })).id;
  b = (await hv.create({ image: 'riscv64-busybox', name: 'b', network: 'lan' })).id;
  await Promise.all([hv.start(a), hv.start(b)]);
  await Promise.all([untilShell(hv, a), untilShell(hv, b)]);
});

afterAll(async () => {
  await hv?.shutdown();
});

/** Brings eth0 up with DHCP (udhcpc asks the switch's server) and sets the address it got. */
async function dhcp(vm: string): Promise<string> {
  const out = await sh(hv, vm, 'ip link set eth0 up; udhcpc -i eth0 -n -q -t 5 -T 1 -s /bin/true 2>&1 | grep -o "lease of [0-9.]* obtained"');
  const ip = /lease of ([0-9.]+) obtained/.exec(out)?.[1];
  if (!ip) throw new Error(`no DHCP lease in VM ${vm}: ${out}`);
  await sh(hv, vm, `ip addr add ${ip}/24 dev eth0 2>/dev/null; true`);
  return ip;
}

describe('a virtual network between two VMs in two workers', () => {
  it('hands out the fixed address and a pool address by DHCP', async () => {
    expect(await dhcp(a)).toBe('10.0.2.15');
    expect(await dhcp(b)).toBe('10.0.2.100');
    expect(hv.addressOf('b')).toBe('10.0.2.100');
    expect(hv.listNetworks()[0]).toMatchObject({ name: 'lan', subnet: '10.0.2.0/24', dhcp: true });
  });

  it('carries ping both ways', async () => {
    expect(await sh(hv, a, 'ping -c 3 -W 5 10.0.2.100 | grep -o "[0-9]* packets received"')).toBe('3 packets received');
    expect(await sh(hv, b, 'ping -c 2 -W 5 10.0.2.15 | grep -o "[0-9]* packets received"')).toBe('2 packets received');
  });

  it('carries a 10 MiB TCP transfer intact', { timeout: 600_000 }, async () => {
    await sh(hv, b, "sh -c 'nc -l -p 5000 > /tmp/recv; echo done > /tmp/recv.done' </dev/null >/dev/null 2>&1 & true");
    const long = async (vm: string, script: string) => (await runInGuest(hv, vm, script, { timeoutMs: 240_000 })).output;
    const sent = await long(a, 'dd if=/dev/urandom of=/tmp/data bs=65536 count=160 2>/dev/null; sha256sum /tmp/data | cut -d" " -f1');
    expect(sent).toMatch(/^[0-9a-f]{64}$/);
    await long(a, 'nc 10.0.2.100 5000 < /tmp/data');
    let done = '';
    for (let i = 0; i < 120 && done !== 'done'; i++) {
      done = await sh(hv, b, 'cat /tmp/recv.done 2>/dev/null; true');
      if (done !== 'done') await new Promise((r) => setTimeout(r, 1000));
    }
    expect(done).toBe('done');
    expect(await long(b, 'sha256sum /tmp/recv | cut -d" " -f1')).toBe(sent);
  });
});
