// hv.stats() says what the rv64 JIT holds for a VM (its code cache) and how much guest work ran
// compiled; an x86 VM (v86, its own JIT) reports none.
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
let hv: Hypervisor;

beforeAll(async () => {
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 512 * MiB, poolSize: 1, hosts: nodeWorkerHosts() });
  await hv.create({ image: 'riscv64-busybox', name: 'rv', memoryMiB: 64 });
  await hv.start('rv');
  await untilShell(hv, 'rv');
}, 180_000);

afterAll(async () => {
  await hv?.shutdown();
});

describe('the JIT in VM stats', () => {
  it('a hot loop in a riscv64 guest gets compiled, and stats show the code it holds', { timeout: 120_000 }, async () => {
    const r = await runInGuest(hv, 'rv', 'dd if=/dev/zero bs=1048576 count=4 2>/dev/null | sha256sum', { timeoutMs: 60_000 });
    expect(r.output).toMatch(/^bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8/);
    // Background compiles go in between slices: a little more guest time lets the last ones land.
    await runInGuest(hv, 'rv', 'dd if=/dev/zero bs=1048576 count=1 2>/dev/null | sha256sum >/dev/null');
    const jit = (await hv.stats('rv')).jit;
    expect(jit).toBeDefined();
    expect(jit!.regions).toBeGreaterThan(0);
    expect(jit!.modules).toBeGreaterThan(0);
    expect(jit!.codeBytes).toBeGreaterThan(1000);
    expect(jit!.codeBytes).toBeLessThan(32 * MiB); // the cache's bound (docs/JIT.md)
    expect(jit!.instructions).toBeGreaterThan(10_000_000); // most of sha256sum's 370 M
  });
});
