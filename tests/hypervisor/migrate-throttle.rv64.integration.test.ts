// Pre-copy's auto-throttle with a real RV64 guest (issue 9): riscv64-busybox in two worker_threads
// hosts, its shell rewriting a 16 MiB file in tmpfs (guest RAM) with dd as fast as it can (4096
// pages, more than round 1 copies while the file is zeros) and counting the rewrites. The migration must
// say it throttled the guest and converged to a small final set; the moved guest counts on, its
// file is intact, and it has its full share of time again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { remoteHostConnection } from '../../src/hypervisor/remote-host.js';
import { ensureCompiledWorker, repoRoot } from '../worker/build-dist.js';
import { sh, untilShell } from './support/guest-shell.js';
import { counter } from './support/busy-guest.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };

let hv: Hypervisor;

beforeAll(async () => {
  const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 256 * MiB,
    poolSize: 2,
    hosts: async (index) => remoteHostConnection(client.startNodeVmHost(), `worker ${index + 1}`),
  });
  await hv.create({ image: 'riscv64-busybox', name: 'a', memoryMiB: 64 });
  await hv.start('a');
  await untilShell(hv, 'a', 120_000);
  await sh(hv, 'a', 'echo keep > /tmp/keep; dd if=/dev/zero of=/tmp/x bs=1M count=16 2>/dev/null; echo 0 > /tmp/count');
  // One loop: rewrite the file, count (written to a new file and renamed: a read never sees it half written).
  await sh(hv, 'a', '(i=0; while true; do dd if=/dev/zero of=/tmp/x bs=1M count=16 conv=notrunc; i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; done) >/dev/null 2>&1 & true');
  await sh(hv, 'a', 'sleep 1');
}, 180_000);

afterAll(async () => {
  await hv?.shutdown();
});

describe('pre-copy migration of a guest that writes memory too fast', () => {
  it('throttles the guest, converges to a small final set, and the moved guest runs on at full speed', async () => {
    const before = await counter(hv, 'a');
    const from = hv.get('a').host;
    // Chunks of 64 pages give the guest a turn every 256 KiB copied, so its writes outpace the
    // copy (as a fast guest outpaces a slow link), whatever the load on the machine. Rounds enough
    // for the throttle to reach its floor (100, 50, 25, 12.5, 6.25, 5 %) and converge there even
    // when a loaded machine makes each round slow.
    const report = await hv.migrate('a', { precopy: { chunkPages: 64, maxRounds: 12 } });
    expect(report.mode).toBe('pre-copy');
    expect(report.toHost).not.toBe(from);
    // it says what it did: throttled, in steps, and each round's share
    expect(report.throttle, JSON.stringify(report.rounds)).toBeDefined();
    expect(report.throttle!.steps).toBeGreaterThanOrEqual(1);
    expect(report.throttle!.percent).toBeLessThanOrEqual(50);
    expect(report.rounds![0]!.throttlePercent).toBe(100);
    expect(report.rounds!.some((r) => r.throttlePercent < 100)).toBe(true);
    expect(report.converged).toBe('few-dirty-pages');
    expect(report.finalPages).toBeLessThan(2048); // well under the 4096 pages the writer touches
    expect(report.totalMs).toBeGreaterThan(0);
    // the guest carries on: its counter, its files, its shell
    expect(hv.get('a').state).toBe('running');
    expect(await sh(hv, 'a', 'cat /tmp/keep')).toBe('keep');
    const after = await counter(hv, 'a');
    expect(after).toBeGreaterThanOrEqual(before);
    await sh(hv, 'a', 'sleep 1');
    expect(await counter(hv, 'a')).toBeGreaterThan(after);
    // no longer throttled: the busy guest has its worker's thread again (a guest left at <= 50 %
    // of its time would show a share of about 0.5 or less)
    await hv.stats('a');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await hv.stats('a')).cpuShare).toBeGreaterThan(0.7);
  }, 120_000);

  it('without the throttle the same guest runs into the round limit and leaves a big final set', async () => {
    const report = await hv.migrate('a', { precopy: { chunkPages: 64, maxRounds: 3, autoThrottle: false } });
    expect(report.throttle).toBeUndefined();
    expect(report.converged).toBe('round-limit');
    expect(report.rounds!.length).toBe(3);
    expect(report.rounds!.every((r) => r.throttlePercent === 100)).toBe(true);
    expect(report.finalPages).toBeGreaterThan(256);
    await sh(hv, 'a', 'sleep 1');
    expect(await sh(hv, 'a', 'cat /tmp/keep')).toBe('keep');
  }, 120_000);

  it('refuses bad pre-copy options with one line, and the VM stays where it was', async () => {
    const host = hv.get('a').host;
    await expect(hv.migrate('a', { precopy: { chunkPages: 0 } })).rejects.toThrow(/chunkPages must be a whole number from 1 to 65536, got 0/);
    expect(hv.get('a').host).toBe(host);
    expect(hv.get('a').state).toBe('running');
  });
});
