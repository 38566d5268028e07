// Snapshot files the hypervisor must refuse without harm (issue 12): a machine state its engine
// cannot load leaves the VM as it was; a state bigger than its declared memory never reaches a
// host, and the budget is charged for the declared size only.
import { afterEach, describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { ENGINE_STATE_SECTION, SnapshotWriter } from '../../src/snapshot/index.js';
import { bootedVm, fakeRig, MiB, run, shutdownRigs } from './support/fake-rig.js';

afterEach(shutdownRigs);

/** A well-formed, checksummed snapshot file around `state` (as a hostile or buggy writer makes it). */
function craft(state: Uint8Array | string, metadata: { memoryMiB?: number; image?: string } = {}): Promise<Uint8Array> {
  const bytes = typeof state === 'string' ? new TextEncoder().encode(state) : state;
  return new SnapshotWriter({ engine: 'v86', image: metadata.image ?? 'x86-busybox', memoryMiB: metadata.memoryMiB ?? 64 })
    .addSection(ENGINE_STATE_SECTION, bytes)
    .encode();
}

async function refusal(promise: Promise<unknown>): Promise<HypervisorError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(HypervisorError);
  return error as HypervisorError;
}

describe('a restore whose machine state the engine refuses', () => {
  const malformed = ['not json at all', '{"files": 7}', '{"files": [], "memoryMiB": 2047}'];

  it('answers bad-snapshot and leaves a running VM running, with its files', async () => {
    const { hv } = fakeRig();
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'touch kept');
    for (const state of malformed) {
      const error = await refusal(hv.restore('a', await craft(state)));
      expect(error.code).toBe('bad-snapshot');
      expect(error.message).toMatch(/^cannot restore VM 'a': its engine refused the saved machine \(.+\); the VM is left as it was$/);
      expect(hv.get('a')).toMatchObject({ state: 'running', ready: true });
      expect(await run(hv, 'a', 'ls')).toBe('kept');
    }
  });

  it('leaves a paused VM paused, and a stopped or created VM as it was', async () => {
    const { hv } = fakeRig();
    await bootedVm(hv, 'p');
    await hv.pause('p');
    expect((await refusal(hv.restore('p', await craft('{')))).code).toBe('bad-snapshot');
    expect(hv.get('p').state).toBe('paused');
    await hv.resume('p');
    expect(await run(hv, 'p', 'echo alive')).toBe('alive');

    await bootedVm(hv, 's');
    await hv.stop('s');
    expect((await refusal(hv.restore('s', await craft('{')))).code).toBe('bad-snapshot');
    expect(hv.get('s')).toMatchObject({ state: 'stopped', host: undefined });

    await hv.create({ image: 'x86-busybox', name: 'c' });
    const host = hv.get('c').host;
    expect((await refusal(hv.restore('c', await craft('{')))).code).toBe('bad-snapshot');
    expect(hv.get('c')).toMatchObject({ state: 'created', host });
    await hv.start('c');
    await hv.waitUntilReady('c', 5000); // its unbooted machine is still there and boots
    expect(hv.hostLoad().reduce((a, b) => a + b)).toBe(2); // p and c: no instance left behind
  });
});

describe('the memory budget and a snapshot whose state disagrees with its metadata', () => {
  it('refuses an import whose state is of a bigger machine than its metadata says, with the budget unchanged', async () => {
    const { hv } = fakeRig({ budgetMiB: 512 });
    const before = hv.memoryUsage();
    // Metadata: 64 MiB (what the budget would be charged); state: a 2047 MiB machine.
    const file = await craft('{"files": ["x"], "memoryMiB": 2047}');
    for (let i = 0; i < 3; i++) {
      const error = await refusal(hv.importSnapshot(file, { name: `big-${i}` }));
      expect(error.code).toBe('bad-snapshot');
      expect(error.message).toContain('the state is of a 2047 MiB machine, this one has 64 MiB');
    }
    expect(hv.memoryUsage()).toEqual(before);
    expect(hv.list()).toEqual([]);
    expect(hv.hostLoad()).toEqual([0, 0]);
  });

  it('refuses a state too big for its declared memory before any host is asked', async () => {
    const { hv, hosts } = fakeRig({ budgetMiB: 512 });
    // 1 MiB declared, 66 MiB of state: more than 1 MiB of RAM plus device state can be.
    const file = await craft(new Uint8Array(66 * MiB), { memoryMiB: 1 });
    const error = await refusal(hv.importSnapshot(file));
    expect(error.code).toBe('bad-snapshot');
    expect(error.message).toBe(
      'cannot import the snapshot: its machine state is 66 MiB, more than the 1 MiB machine its metadata declares can hold',
    );
    expect(hosts).toHaveLength(0); // no worker was even started
    expect(hv.memoryUsage().reservedBytes).toBe(0);
  });

  it('refuses an import bigger than the free budget at decode time, as no-memory (the file may be fine)', async () => {
    const { hv, hosts } = fakeRig({ budgetMiB: 64 });
    const file = await craft(new Uint8Array(130 * MiB), { memoryMiB: 128 });
    const error = await refusal(hv.importSnapshot(file));
    expect(error.code).toBe('no-memory');
    expect(error.message).toMatch(/^cannot import the snapshot: it holds 130(\.\d)? MiB, more than fits in the 64 MiB free of the 64 MiB budget$/);
    expect(hosts).toHaveLength(0);
  });

  it('refuses a restore whose state is bigger than the VM can hold', async () => {
    const { hv } = fakeRig();
    await bootedVm(hv, 'a');
    const error = await refusal(hv.restore('a', await craft(new Uint8Array(129 * MiB))));
    expect(error.code).toBe('bad-snapshot');
    // Refused from the header's declared size, before anything is inflated.
    expect(error.message).toMatch(/^cannot restore VM 'a': it holds 129(\.\d)? MiB, more than a machine of 64 MiB can hold$/);
    expect(hv.get('a').state).toBe('running');
  });

  it('a restore of a state of another machine size is refused and the VM keeps running', async () => {
    const { hv } = fakeRig({ budgetMiB: 512 });
    await bootedVm(hv, 'a');
    const before = hv.memoryUsage();
    const error = await refusal(hv.restore('a', await craft('{"files": [], "memoryMiB": 2047}')));
    expect(error.code).toBe('bad-snapshot');
    expect(hv.memoryUsage()).toEqual(before);
    expect(hv.get('a').state).toBe('running');
  });
});
