// importSnapshot({ decodeInHost: true }) (lab templates and saved work): the hypervisor reads
// only the file's metadata and the VM's host inflates and verifies the whole file. A good file
// runs as with the default path; a damaged one is refused as bad-snapshot when the host reads
// it, leaving no VM and no memory reserved behind.
import { afterEach, describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { readSnapshot, readSnapshotMetadata, SnapshotFormatError } from '../../src/snapshot/index.js';
import { bootedVm, fakeRig, run, shutdownRigs } from './support/fake-rig.js';

afterEach(shutdownRigs);

describe('a snapshot file decoded by the VM host', () => {
  it('runs the saved machine, files included', async () => {
    const { hv } = fakeRig();
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'touch kept');
    const file = await hv.snapshot('a');
    const vm = await hv.importSnapshot(file.slice(), { name: 'b', identity: 'new', decodeInHost: true });
    expect(vm).toMatchObject({ name: 'b', state: 'running' });
    expect(await run(hv, 'b', 'ls')).toBe('kept');
  });

  it('refuses a damaged file as bad-snapshot when the host reads it, and leaves nothing behind', async () => {
    // Room for exactly two VMs: if the refused import kept its reservation, the last one fails.
    const { hv } = fakeRig({ budgetMiB: 128 });
    await bootedVm(hv, 'a');
    const file = await hv.snapshot('a');
    const damaged = file.slice();
    // The stored checksum (the last 32 bytes): the metadata still reads, the whole file does not. (A
    // byte of this small file's compressed payload may lie in the metadata's own compressed bytes.)
    damaged[damaged.length - 1] ^= 0xff;
    await expect(readSnapshotMetadata(damaged)).resolves.toMatchObject({ metadata: { engine: 'v86' } });
    const error = await hv.importSnapshot(damaged, { name: 'c', decodeInHost: true }).then(() => undefined, (e: unknown) => e);
    expect(error, String(error)).toBeInstanceOf(HypervisorError);
    expect((error as HypervisorError).code).toBe('bad-snapshot');
    expect((error as HypervisorError).message).toMatch(/checksum mismatch/);
    expect(hv.has('c')).toBe(false);
    expect(await hv.importSnapshot(file.slice(), { name: 'c', identity: 'new', decodeInHost: true })).toMatchObject({ name: 'c', state: 'running' });
  });
});

describe('readSnapshotMetadata', () => {
  it('gives the metadata and payload size readSnapshot gives, and refuses what is not a snapshot', async () => {
    const { hv } = fakeRig();
    await bootedVm(hv, 'a');
    const file = await hv.snapshot('a');
    const { metadata, payloadBytes } = await readSnapshotMetadata(file);
    expect(metadata).toEqual((await readSnapshot(file)).metadata);
    expect(payloadBytes).toBeGreaterThan(0);
    await expect(readSnapshotMetadata(new Uint8Array([1, 2, 3]))).rejects.toThrow(SnapshotFormatError);
    await expect(readSnapshotMetadata(file.subarray(0, file.length - 1))).rejects.toThrow(/truncated/);
  });
});
