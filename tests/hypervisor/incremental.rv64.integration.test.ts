// Incremental snapshots and resets to a base (issue 9) with riscv64-busybox on our core in a real
// worker: an incremental file holds only the pages written since the VM's base (its last whole
// snapshot or restore); restoring the base rewrites only those pages; an incremental file
// restores over its base; one over another base, one with page numbers beyond RAM, and an
// import of one are refused with bad-snapshot, the VM running on as it was.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { remoteHostConnection } from '../../src/hypervisor/remote-host.js';
import { decodeState, encodeState, type StateValue } from '../../src/engines/rv64/state-codec.js';
import { ENGINE_STATE_SECTION, readSnapshot, SnapshotWriter } from '../../src/snapshot/index.js';
import { ensureCompiledWorker, repoRoot } from '../worker/build-dist.js';
import { sh, untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const rv = manifest.images.find((i) => i.name === 'riscv64-busybox')!;
let hv: Hypervisor;
const restores: Array<{ pauseMs: number; pagesRewritten?: number }> = [];

beforeAll(async () => {
  const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 512 * MiB,
    poolSize: 1,
    hosts: async (index) => {
      const connection = remoteHostConnection(client.startNodeVmHost(), `worker ${index + 1}`);
      // Records what each in-place restore reports (pages rewritten by a reset to the base).
      const restoreLive = connection.port.restoreLive!;
      connection.port.restoreLive = async (...a) => {
        const r = await restoreLive(...a);
        restores.push(r);
        return r;
      };
      return connection;
    },
  });
  await hv.create({ image: rv.name, name: 'b', memoryMiB: 64 });
  await hv.start('b');
  await untilShell(hv, 'b', 120_000);
}, 180_000);

afterAll(async () => {
  await hv?.shutdown();
});

const md5 = async (path: string): Promise<string> => (await sh(hv, 'b', `md5sum ${path} 2>&1`)).split(' ')[0]!;
const stateOf = async (file: Uint8Array): Promise<Uint8Array> => (await readSnapshot(file)).section(ENGINE_STATE_SECTION);

async function expectRefused(file: Uint8Array, pattern: RegExp): Promise<void> {
  const error = await hv.restore('b', file).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(HypervisorError);
  expect((error as HypervisorError).code, (error as Error).message).toBe('bad-snapshot');
  expect((error as Error).message).toMatch(pattern);
  expect(hv.get('b').state).toBe('running');
  expect(await sh(hv, 'b', 'echo still-$((1+1))')).toBe('still-2');
}

describe('incremental snapshots of a running RV64 guest', () => {
  let base: Uint8Array;
  let inc: Uint8Array;
  let workSum: string;

  it('refuses an incremental snapshot before any base, then takes one: only what changed since the base', async () => {
    const early = await hv.snapshot('b', { incremental: true }).then(() => undefined, (e: unknown) => e);
    expect((early as HypervisorError).code).toBe('bad-argument');
    expect((early as Error).message).toBe("cannot take an incremental snapshot of VM 'b': it has no base yet (take a whole snapshot or restore one first)");
    expect(hv.get('b').state).toBe('running');
    await sh(hv, 'b', 'echo base > /tmp/base');
    base = await hv.snapshot('b');
    await sh(hv, 'b', 'dd if=/dev/urandom of=/tmp/work bs=4096 count=256 2>/dev/null');
    workSum = await md5('/tmp/work');
    inc = await hv.snapshot('b', { incremental: true });
    const whole = await stateOf(base);
    const delta = await stateOf(inc);
    // The delta holds the 1 MiB written (plus what the kernel touched, and pages free page reporting
    // zeroed since the base: kept whole in the state, nearly nothing once compressed). The file, what
    // a user keeps, is far less than the whole snapshot.
    expect(delta.length).toBeGreaterThan(1 * MiB);
    expect(whole.length).toBeGreaterThan(1 * MiB);
    expect(inc.length).toBeLessThan(base.length);
    expect((await readSnapshot(inc)).metadata.extra?.incrementalBase).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  it('a restore of the base rewrites the changed pages: what came after is gone, the base file is there', async () => {
    await sh(hv, 'b', 'echo later > /tmp/later');
    await hv.restore('b', base);
    expect(await sh(hv, 'b', 'cat /tmp/base')).toBe('base');
    expect(await sh(hv, 'b', 'cat /tmp/work /tmp/later 2>&1')).toMatch(/No such file[\s\S]*No such file/);
  }, 120_000);

  it('an incremental file restores over its base: the work written after the base is back', async () => {
    await hv.restore('b', inc);
    expect(await md5('/tmp/work')).toBe(workSum);
    expect(await sh(hv, 'b', 'cat /tmp/base')).toBe('base');
  }, 120_000);

  it('refuses an incremental file with page numbers beyond RAM, and one over another base', async () => {
    // Same base, hostile pages: a page far past the 64 MiB of RAM.
    const s = await stateOf(inc);
    const fields = decodeState(s.subarray(8)) as { [k: string]: StateValue };
    const index = new Uint8Array(4);
    new DataView(index.buffer).setUint32(0, 0x00ff_ffff, true);
    fields.ram = { pageSize: 4096, count: 1, index, data: new Uint8Array(4096) };
    const body = encodeState(fields);
    const hostile = new Uint8Array(8 + body.length);
    hostile.set(s.subarray(0, 8));
    hostile.set(body, 8);
    const meta = (await readSnapshot(inc)).metadata;
    const bad = await new SnapshotWriter({ engine: 'rv64', image: meta.image, memoryMiB: meta.memoryMiB, extra: meta.extra }).addSection(ENGINE_STATE_SECTION, hostile).encode();
    await expectRefused(bad, /beyond/);
    // A new whole snapshot is the VM's base now: the old incremental file is over another one.
    await hv.snapshot('b');
    await expectRefused(inc, /incremental snapshot is over base [0-9a-f]{12}, but this machine's base is [0-9a-f]{12}/);
  }, 120_000);

  it('a VM imported from a template resets to it by rewriting only what the student changed', async () => {
    const template = await hv.snapshot('b');
    const t = (await hv.importSnapshot(template, { name: 't', identity: 'new' })).name;
    expect(await sh(hv, t, 'cat /tmp/base')).toBe('base');
    await sh(hv, t, 'dd if=/dev/urandom of=/tmp/student bs=4096 count=256 2>/dev/null; echo done');
    await hv.restore(t, template);
    const reset = restores.at(-1)!;
    // the 1 MiB written plus what the kernel touched meanwhile: far fewer than the 16384 pages of RAM
    expect(reset.pagesRewritten).toBeGreaterThanOrEqual(256);
    expect(reset.pagesRewritten).toBeLessThan(4096);
    expect(await sh(hv, t, 'cat /tmp/student 2>&1')).toMatch(/No such file/);
    expect(await sh(hv, t, 'cat /tmp/base')).toBe('base');
    await hv.stop(t);
    await hv.delete(t);
  }, 180_000);

  it('refuses to import an incremental file as a new VM', async () => {
    const error = await hv.importSnapshot(inc).then(() => undefined, (e: unknown) => e);
    expect((error as HypervisorError).code).toBe('bad-snapshot');
    expect((error as Error).message).toMatch(/it is incremental/);
  });
});
