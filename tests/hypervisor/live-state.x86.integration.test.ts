// Snapshot, restore, clone and migration of a BUSY x86 guest (v86) through the hypervisor, in
// real worker_threads hosts (issue 9): x86-busybox with a shell loop counting into /tmp and a
// 1 MiB file of random bytes. v86 has no dirty-page tracking, so these are pause-save-resume in the
// worker and stop-and-copy migration (the report says so). The guest proves continuity: its
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
const x86 = manifest.images.find((i) => i.name === 'x86-busybox')!;

let hv: Hypervisor;
let blobSum = '';

beforeAll(async () => {
  const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 3 * x86.memoryMiB * MiB,
    poolSize: 2,
    hosts: async (index) => remoteHostConnection(client.startNodeVmHost(), `worker ${index + 1}`),
  });
  await hv.create({ image: x86.name, name: 'x' });
  await hv.start('x');
  await untilShell(hv, 'x', 120_000);
  blobSum = await makeBusy(hv, 'x');
}, 240_000);

afterAll(async () => {
  await hv?.shutdown();
});

describe('snapshot, restore, clone and migration of a busy x86 guest', () => {
  it('snapshots while the guest runs; the restored guest has the file, counts on from the snapshot, and lost what came after', async () => {
    const before = await counter(hv, 'x');
    const file = await hv.snapshot('x');
    expect(hv.get('x').state).toBe('running');
    await expectCounting(hv, 'x');
    await sh(hv, 'x', 'echo after > /tmp/after');
    await sh(hv, 'x', 'rm /tmp/blob');
    await hv.restore('x', file);
    expect(hv.get('x').state).toBe('running');
    expect(await sh(hv, 'x', 'cat /tmp/after 2>&1')).toMatch(/No such file/);
    expect((await sh(hv, 'x', 'md5sum /tmp/blob')).split(' ')[0]).toBe(blobSum);
    expect(await counter(hv, 'x')).toBeGreaterThanOrEqual(before);
    await expectCounting(hv, 'x');
  }, 180_000);

  it('clones the running guest: the clone has the file and counts on its own, the source too', async () => {
    const clone = await hv.clone('x', { name: 'x-copy' });
    expect(clone.state).toBe('running');
    expect((await sh(hv, 'x-copy', 'md5sum /tmp/blob')).split(' ')[0]).toBe(blobSum);
    await expectCounting(hv, 'x-copy');
    await sh(hv, 'x-copy', 'echo clone-only > /tmp/who');
    expect(await sh(hv, 'x', 'cat /tmp/who 2>&1')).toMatch(/No such file/);
    await expectCounting(hv, 'x');
    await hv.stop('x-copy');
    await hv.delete('x-copy');
  }, 180_000);

  it('migrates the running guest stop-and-copy and back: file and counter carry on', async () => {
    const from = hv.get('x').host;
    const before = await counter(hv, 'x');
    const report = await hv.migrate('x');
    expect(report.mode).toBe('stop-and-copy');
    expect(report.rounds).toBeUndefined();
    expect(report.toHost).not.toBe(from);
    expect(hv.get('x')).toMatchObject({ state: 'running', host: report.toHost });
    expect(report.pauseMs).toBeGreaterThan(0);
    expect((await sh(hv, 'x', 'md5sum /tmp/blob')).split(' ')[0]).toBe(blobSum);
    expect(await counter(hv, 'x')).toBeGreaterThanOrEqual(before);
    await expectCounting(hv, 'x');
    const back = await hv.migrate('x');
    expect(back.toHost).toBe(from);
    await expectCounting(hv, 'x');
  }, 180_000);

  it('migrates a paused guest, which stays paused and resumes where it was', async () => {
    await hv.pause('x');
    const report = await hv.migrate('x');
    expect(report.mode).toBe('stop-and-copy');
    expect(hv.get('x').state).toBe('paused');
    await hv.resume('x');
    await expectCounting(hv, 'x');
  }, 180_000);
});
