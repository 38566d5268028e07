// virtio-balloon on a riscv64 guest through the hypervisor: the guest gives memory back when
// asked (its pages are zeroed, so its snapshot shrinks) and takes it again.

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
  it('inflates to a target and deflates again; refuses a target beyond the VM', { timeout: 300_000 }, async () => {
    const used = async () => Number((await runInGuest(hv, vm, "free -m | awk '/Mem:/ {print $3}'")).output);
    const before = await used();
    await hv.setBalloon(vm, 128);
    await until(async () => ((await hv.stats(vm)).balloonBytes ?? 0) >= 128 * MiB, 120_000);
    // With DEFLATE_ON_OOM the guest counts balloon pages as used (its total stays).
    expect(await used()).toBeGreaterThan(before + 100);
    await hv.setBalloon(vm, 0);
    await until(async () => ((await hv.stats(vm)).balloonBytes ?? 1) === 0, 120_000);
    expect(await used()).toBeLessThan(before + 100);
    await expect(hv.setBalloon(vm, 512)).rejects.toThrow(/not between 0 and 511 MiB/);
  });
});
