// A clone is a new machine: a riscv64 VM and an x86 VM on one network are cloned while running;
// each copy sits on the same network with its own MAC, host name and DHCP address (its guest was
// told, identity-in-guest.ts), and source and copy both answer ping. Then the x86 VM is migrated
// to the other worker and still answers: a restored NE2000 keeps the MAC its guest programmed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { untilShell } from './support/guest-shell.js';
import { guest, guestAddress, pings } from './support/guest-net.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
let hv: Hypervisor;

beforeAll(async () => {
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 640 * MiB, poolSize: 2, hosts: nodeWorkerHosts() });
  hv.createNetwork('lan', { subnet: '10.0.4.0/24' });
  await hv.create({ image: 'riscv64-busybox', name: 'rv', network: 'lan', ip: '10.0.4.10' });
  await hv.create({ image: 'x86-busybox', name: 'pc', network: 'lan' });
  await Promise.all([hv.start('rv'), hv.start('pc')]);
  await Promise.all([untilShell(hv, 'rv', 180_000), untilShell(hv, 'pc', 180_000)]);
}, 400_000);

afterAll(async () => {
  await hv?.shutdown();
});

/** What the guest says about itself: host name, eth0's MAC and address. */
async function self(vm: string): Promise<{ hostname: string; mac: string; ip: string }> {
  const ip = await guestAddress(hv, vm);
  const [hostname, mac] = (await guest(hv, vm, 'hostname; cat /sys/class/net/eth0/address')).split('\n');
  return { hostname: hostname!, mac: mac!, ip };
}

describe.each([['rv', 'rv64'], ['pc', 'x86']])('a clone of the %s VM (%s)', (source) => {
  it('is a new machine on the same network, and both answer ping', { timeout: 300_000 }, async () => {
    const before = await self(source);
    const copy = await hv.clone(source, { name: `${source}-copy` });
    expect(copy.identity.mac).not.toBe(hv.get(source).identity.mac);
    expect(copy.identity.entropySeed).not.toBe(hv.get(source).identity.entropySeed);

    const mine = await self(copy.name);
    expect(mine.hostname).toBe(`${source}-copy`);
    expect(mine.mac).toBe(copy.identity.mac);
    expect(mine.ip).not.toBe(before.ip);
    expect(hv.addressOf(copy.name)).toBe(mine.ip);
    // The source kept who it was.
    expect(await self(source)).toEqual(before);

    const other = source === 'rv' ? 'pc' : 'rv';
    expect(await pings(hv, other, before.ip)).toBe(3);
    expect(await pings(hv, other, mine.ip)).toBe(3);
    expect(await pings(hv, copy.name, before.ip)).toBe(3);
    await hv.stop(copy.name);
    await hv.delete(copy.name);
  });
});

describe('a migrated x86 VM on a network', () => {
  it('still receives frames for its MAC on the other worker', { timeout: 300_000 }, async () => {
    const ip = await guestAddress(hv, 'pc');
    const from = hv.get('pc').host;
    await hv.migrate('pc');
    expect(hv.get('pc').host).not.toBe(from);
    // One echo may be lost while the restored NE2000 settles (seen once in about 20 runs, as a
    // migration on real hardware can lose a packet); a VM cut off the network answers none.
    expect(await pings(hv, 'rv', ip, 5)).toBeGreaterThanOrEqual(4);
    expect(await pings(hv, 'pc', '10.0.4.10', 5)).toBeGreaterThanOrEqual(4);
  });
});
