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
  // Reclaims on its own are off here: the tests below read the guest's reported-free counter.
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 1024 * MiB, poolSize: 1, hosts: nodeWorkerHosts(), reclaimFreed: false });
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
    // Free page reporting holds blocks aside while it reports them: the guest's count settles.
    await until(async () => (await used()) < before + 100, 60_000);
    await expect(hv.setBalloon(vm, 512)).rejects.toThrow(/not between 0 and 511 MiB/);
  });

  it('lends what a balloon holds to a new VM (overcommit) and refuses to take it back while used', { timeout: 300_000 }, async () => {
    // Budget 1024 MiB, 'b' has 512: a 600 MiB VM does not fit until b's balloon gives 200 back.
    await expect(hv.create({ image: 'riscv64-busybox', name: 'big', memoryMiB: 600 })).rejects.toThrow(
      "cannot create VM 'big': it asks for 600 MiB but only 512 MiB of the 1 GiB budget is free",
    );
    await hv.setBalloon(vm, 200);
    await until(async () => ((await hv.stats(vm)).balloonBytes ?? 0) >= 200 * MiB, 120_000);
    const big = await hv.create({ image: 'riscv64-busybox', name: 'big', memoryMiB: 600 });
    expect(hv.memoryUsage()).toMatchObject({ reservedBytes: 1112 * MiB, balloonedBytes: 200 * MiB, freeBytes: 112 * MiB });
    const refusal = await hv.setBalloon(vm, 0).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(refusal?.code).toBe('no-memory');
    expect(refusal?.message).toBe(
      "cannot shrink the balloon of VM 'b': 200 MiB of what its balloon gave back is in use by other VMs (delete a VM or inflate another balloon first)",
    );
    await expect(hv.reset(vm)).rejects.toThrow(/cannot reset VM 'b': 200 MiB of what its balloon gave back is in use/);
    expect(hv.get(vm).state).toBe('running');
    await hv.delete(big.id);
    await hv.setBalloon(vm, 0);
    await until(async () => ((await hv.stats(vm)).balloonBytes ?? 1) === 0, 120_000);
    expect(hv.memoryUsage()).toMatchObject({ reservedBytes: 512 * MiB, balloonedBytes: 0 });
  });

  it('gives what the guest freed back: the new memory holds only non-zero pages, and the guest carries on', { timeout: 300_000 }, async () => {
    await runInGuest(hv, vm, 'echo kept-$((6*7)) > /root/kept; (i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done) >/dev/null 2>&1 & echo $! > /tmp/loop.pid');
    const count = async () => Number((await runInGuest(hv, vm, 'cat /tmp/count')).output);
    await runInGuest(hv, vm, 'dd if=/dev/urandom of=/tmp/a bs=1M count=1 2>/dev/null; for i in $(seq 120); do cat /tmp/a; done > /tmp/big; rm /tmp/a', { timeoutMs: 120_000 });
    const reported = async () => (await hv.stats(vm)).freedReportedBytes ?? 0;
    const before = await reported();
    await runInGuest(hv, vm, 'rm /tmp/big');
    // Free page reporting zeroes what the guest reports free (the 120 MiB among it).
    await until(async () => (await reported()) - before >= 100 * MiB, 120_000);
    const n0 = await count();
    const report = await hv.reclaimMemory(vm);
    expect(report.pagesTotal).toBe(131072);
    // 120 MiB of data were in RAM; what the new memory holds is the guest's live pages only.
    expect(report.pagesKept * 4096).toBeLessThan(64 * MiB);
    expect(report.pagesKept).toBeGreaterThan(1000);
    expect(hv.get(vm).state).toBe('running');
    expect((await runInGuest(hv, vm, 'cat /root/kept')).output).toBe('kept-42');
    await until(async () => (await count()) > n0 + 3, 30_000);
    // The snapshot holds only those pages too.
    expect((await hv.snapshot(vm)).length).toBeLessThan(32 * MiB);
    await runInGuest(hv, vm, 'kill $(cat /tmp/loop.pid)');
  });
});

describe.skipIf(!hasBalloon)('freed memory given back by the hypervisor on its own', () => {
  it('a guest that reports enough free memory is moved into new memory without being asked, and carries on', { timeout: 300_000 }, async () => {
    const { nodeWorkerHosts } = await compiledNodeHosts();
    const auto = new Hypervisor({
      images: manifest.images, memoryBudgetBytes: 512 * MiB, poolSize: 1, hosts: nodeWorkerHosts(),
      reclaimFreed: { everyMs: 500, minFreedBytes: 32 * MiB, minGapMs: 0 },
    });
    try {
      const reclaims: string[] = [];
      auto.events.on('transition', (t) => {
        if (t.input === 'reclaim') reclaims.push(`${t.from}->${t.to}`);
      });
      const id = (await auto.create({ image: 'riscv64-busybox', name: 'auto', memoryMiB: 256 })).id;
      await auto.start(id);
      await untilShell(auto, id);
      // A booted guest reports most of its memory free (it zeroed nothing it did not use).
      await until(async () => reclaims.length > 0, 120_000);
      expect(reclaims[0]).toBe('running->running');
      expect((await runInGuest(auto, id, 'echo after-$((6*7))')).output).toBe('after-42');
    } finally {
      await auto.shutdown();
    }
  });
});
