// virtio-balloon on a riscv64 guest through the hypervisor: the guest gives memory back when
// asked, and memory it used and freed is reported and dropped, so its snapshot shrinks.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { runInGuest } from '../../src/hypervisor/guest-command.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const kernelConfig = readFileSync(join(repoRoot, 'images/build/riscv64-busybox.config'), 'utf8');
const hasBalloon = /CONFIG_VIRTIO_BALLOON=y/.test(kernelConfig);
let hv: Hypervisor;
let vm: string;

beforeAll(async () => {
  if (!hasBalloon) return;
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 1024 * MiB, poolSize: 1, hosts: nodeWorkerHosts() });
  vm = (await hv.create({ image: 'riscv64-busybox', name: 'b', memoryMiB: 512 })).id;
  await hv.start(vm);
  await untilShell(hv, vm);
});

afterAll(async () => {
  await hv?.shutdown();
});

async function until(what: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(!hasBalloon)('virtio-balloon through the hypervisor', () => {
  it('memory the guest used and freed is dropped (free page reporting): the snapshot shrinks', { timeout: 600_000 }, async () => {
    const fill = await runInGuest(hv, vm, 'dd if=/dev/urandom of=/tmp/fill bs=1M count=300 2>&1 | tail -1; sync', { timeoutMs: 400_000 });
    expect(fill.exitCode).toBe(0);
    const full = (await hv.snapshot(vm)).length;
    await runInGuest(hv, vm, 'rm /tmp/fill; sync; echo 3 > /proc/sys/vm/drop_caches');
    // Page reporting runs a few seconds after memory is freed; wait until the snapshot shows it.
    let after = full;
    await until(async () => {
      after = (await hv.snapshot(vm)).length;
      return after < full - 200 * MiB;
    }, 120_000);
    console.log(`snapshot of a 512 MiB guest: ${(full / MiB).toFixed(1)} MiB with 300 MiB used, ${(after / MiB).toFixed(1)} MiB after freeing it`);
    expect(after).toBeLessThan(full - 200 * MiB);
  });

  it('inflates to a target and deflates again; refuses a target beyond the VM', async () => {
    await hv.setBalloon(vm, 128);
    await until(async () => ((await hv.stats(vm)).balloonBytes ?? 0) >= 128 * MiB, 60_000);
    const free = await runInGuest(hv, vm, "free -m | awk '/Mem:/ {print $2}'");
    expect(Number(free.output)).toBeLessThan(512 - 100);
    await hv.setBalloon(vm, 0);
    await until(async () => ((await hv.stats(vm)).balloonBytes ?? 1) === 0, 60_000);
    await expect(hv.setBalloon(vm, 512)).rejects.toThrow(/not between 0 and 511 MiB/);
  });
});
