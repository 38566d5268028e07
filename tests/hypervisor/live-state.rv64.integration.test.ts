// Live snapshots, restores, clones and pre-copy migration of a real RV64 guest (issue 9):
// riscv64-busybox booted on our core in real worker_threads hosts, with a busy guest (a shell
// loop counting into /tmp and a 1 MiB file of random bytes). The guest proves continuity: its
// counter keeps counting after each operation, the file written before is there after (same
// md5), and a file written after a snapshot is gone once it is restored.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { remoteHostConnection } from '../../src/hypervisor/remote-host.js';
import { ensureCompiledWorker, repoRoot } from '../worker/build-dist.js';
import { sh, untilShell } from './support/guest-shell.js';
import { counter, expectCounting, makeBusy } from './support/busy-guest.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const rv = manifest.images.find((i) => i.name === 'riscv64-busybox')!;

let hv: Hypervisor;
let blobSum = '';

beforeAll(async () => {
  const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 512 * MiB,
    poolSize: 2,
    hosts: async (index) => remoteHostConnection(client.startNodeVmHost(), `worker ${index + 1}`),
  });
  await hv.create({ image: rv.name, name: 'a', memoryMiB: 64 });
  await hv.start('a');
  await untilShell(hv, 'a', 120_000);
  blobSum = await makeBusy(hv, 'a');
}, 240_000);

afterAll(async () => {
  await hv?.shutdown();
});

describe('live snapshot and restore of a busy RV64 guest', () => {
  it('snapshots while the guest runs; the restored guest has the file, counts on, and lost what came after', async () => {
    const before = await counter(hv, 'a');
    const file = await hv.snapshot('a');
    const vm = hv.get('a');
    expect(vm.state).toBe('running');
    await sh(hv, 'a', 'echo after > /tmp/after');
    await sh(hv, 'a', 'rm /tmp/blob');
    await hv.restore('a', file);
    expect(hv.get('a').state).toBe('running');
    expect(await sh(hv, 'a', 'cat /tmp/after 2>&1')).toMatch(/No such file/);
    expect((await sh(hv, 'a', 'md5sum /tmp/blob')).split(' ')[0]).toBe(blobSum);
    expect(await counter(hv, 'a')).toBeGreaterThanOrEqual(before);
    await expectCounting(hv, 'a');
  }, 180_000);

  it('clones a running guest in its own worker: the clone has the file and counts on its own', async () => {
    const clone = await hv.clone('a', { name: 'a-copy' });
    expect(clone.state).toBe('running');
    // Made in the source's worker from a state kept there: no RAM through the hypervisor's thread.
    expect(clone.host).toBe(hv.get('a').host);
    await untilShell(hv, 'a-copy', 60_000);
    expect((await sh(hv, 'a-copy', 'md5sum /tmp/blob')).split(' ')[0]).toBe(blobSum);
    await expectCounting(hv, 'a-copy');
    await expectCounting(hv, 'a');
    await hv.stop('a-copy');
    await hv.delete('a-copy');
  }, 180_000);
});

describe('pre-copy migration of a busy RV64 guest between workers', () => {
  it('moves the running guest: rounds while it runs, then a final pause; console, file and counter carry on', async () => {
    const from = hv.get('a').host;
    const report = await hv.migrate('a');
    expect(report.mode).toBe('pre-copy');
    expect(report.toHost).not.toBe(from);
    expect(hv.get('a').host).toBe(report.toHost);
    expect(report.rounds!.length).toBeGreaterThanOrEqual(1);
    expect(report.rounds![0]!.pages).toBeGreaterThan(256); // round 1: every non-zero page
    expect(report.stateBytes).toBeGreaterThan(report.rounds![0]!.bytes);
    expect(hv.get('a').state).toBe('running');
    expect((await sh(hv, 'a', 'md5sum /tmp/blob')).split(' ')[0]).toBe(blobSum);
    await expectCounting(hv, 'a');
    // and back again
    const back = await hv.migrate('a');
    expect(back.toHost).toBe(from);
    await expectCounting(hv, 'a');
  }, 180_000);

  it('moves a paused guest, which stays paused and resumes where it was', async () => {
    await hv.pause('a');
    const report = await hv.migrate('a');
    expect(report.mode).toBe('pre-copy');
    expect(hv.get('a').state).toBe('paused');
    await hv.resume('a');
    await expectCounting(hv, 'a');
  }, 180_000);
});
