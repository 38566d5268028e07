// A restore whose machine state the real RV64 engine refuses (issue 12): a snapshot file that is
// intact as a container (valid checksum) but whose engine-state section is malformed answers
// `bad-snapshot`, and the VM goes on as it was: running stays running (its shell answers, its
// files are there), paused stays paused. Before, the VM was marked crashed (`host-failure`).
// Real worker_threads host, riscv64-busybox booted on our core.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { remoteHostConnection } from '../../src/hypervisor/remote-host.js';
import { ENGINE_STATE_SECTION, readSnapshot, SnapshotWriter } from '../../src/snapshot/index.js';
import { ensureCompiledWorker, repoRoot } from '../worker/build-dist.js';
import { sh, untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const rv = manifest.images.find((i) => i.name === 'riscv64-busybox')!;

let hv: Hypervisor;
let good: { state: Uint8Array; memoryMiB: number };

/** The same container a real snapshot has (metadata, checksum), around a damaged machine state. */
function withState(state: Uint8Array): Promise<Uint8Array> {
  return new SnapshotWriter({ engine: 'rv64', image: rv.name, memoryMiB: good.memoryMiB }).addSection(ENGINE_STATE_SECTION, state).encode();
}

function malformedStates(): Array<[string, Uint8Array]> {
  const s = good.state;
  const flipped = s.slice();
  flipped[0]! ^= 0xff;
  const badTag = s.slice();
  badTag.fill(0xee, 8, 16); // the first bytes of the body after the 8-byte magic: no such value type
  return [
    ['empty', new Uint8Array(0)],
    ['magic only', s.slice(0, 8)],
    ['wrong magic', flipped],
    ['cut in half', s.slice(0, s.length >> 1)],
    ['unknown value type', badTag],
  ];
}

beforeAll(async () => {
  const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 512 * MiB,
    poolSize: 1,
    hosts: async (index) => remoteHostConnection(client.startNodeVmHost(), `worker ${index + 1}`),
  });
  await hv.create({ image: rv.name, name: 'r', memoryMiB: 64 });
  await hv.start('r');
  await untilShell(hv, 'r', 120_000);
  await sh(hv, 'r', 'echo kept > /tmp/f');
  const snap = await readSnapshot(await hv.snapshot('r'));
  good = { state: snap.section(ENGINE_STATE_SECTION), memoryMiB: snap.metadata.memoryMiB };
}, 180_000);

afterAll(async () => {
  await hv?.shutdown();
});

describe('restoring a malformed RV64 machine state (valid container) into a live VM', () => {
  it('answers bad-snapshot for each, and the running VM keeps running with its files', async () => {
    for (const [what, state] of malformedStates()) {
      const error = await hv.restore('r', await withState(state)).then(() => undefined, (e: unknown) => e);
      expect(error, what).toBeInstanceOf(HypervisorError);
      expect((error as HypervisorError).code, `${what}: ${(error as Error).message}`).toBe('bad-snapshot');
      expect((error as Error).message).toMatch(/^cannot restore VM 'r': its engine refused the saved machine \(.+\); the VM is left as it was$/);
      expect(hv.get('r').state, what).toBe('running');
      expect(await sh(hv, 'r', 'cat /tmp/f'), what).toBe('kept');
    }
  }, 120_000);

  it('a paused VM stays paused and resumes where it was; a good snapshot still restores', async () => {
    await hv.pause('r');
    const error = await hv.restore('r', await withState(malformedStates()[3]![1])).then(() => undefined, (e: unknown) => e);
    expect((error as HypervisorError).code).toBe('bad-snapshot');
    expect(hv.get('r').state).toBe('paused');
    await hv.resume('r');
    expect(await sh(hv, 'r', 'cat /tmp/f')).toBe('kept');
    await sh(hv, 'r', 'echo changed > /tmp/f');
    await hv.restore('r', await withState(good.state));
    expect(await sh(hv, 'r', 'cat /tmp/f')).toBe('kept');
  }, 120_000);
});
