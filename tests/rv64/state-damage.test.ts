// A damaged or hostile rv64 state is refused with a clear EngineConfigError (the CLI's exit status 2),
// never loaded half-way and never a crash of the host: truncations and byte flips all over its
// structure, and a state from another build's core ABI.

import { describe, expect, it } from 'vitest';
import { createEngine, EngineConfigError } from '../../src/engines/create.js';
import { NodeAssetLoader } from '../../src/engines/assets-node.js';
import { Rv64Engine } from '../../src/engines/rv64/engine.js';
import { coreBuilt, findRv64Image } from './helpers.js';

const image = findRv64Image();
const assets = new NodeAssetLoader();

/** A real state: the machine loaded (firmware, kernel, initrd, disk) but not run, 32 MiB of RAM. */
async function freshState(): Promise<Uint8Array> {
  const engine = new Rv64Engine({
    engine: 'rv64', memoryMiB: 40, firmware: image!.firmware, kernel: image!.kernel, initrd: image!.initrd,
    cmdline: 'console=ttyS0', disk: new Uint8Array(64 * 1024).fill(0x5a),
  }, assets, { drive: 'external' });
  await engine.start();
  await engine.pause();
  const state = await engine.saveState();
  await engine.destroy();
  return state;
}

async function tryLoad(state: Uint8Array): Promise<'loaded' | 'refused'> {
  try {
    const engine = await createEngine({ engine: 'rv64', memoryMiB: 40, state }, assets);
    try {
      await engine.start();
    } finally {
      await engine.destroy();
    }
    return 'loaded';
  } catch (e) {
    if (e instanceof EngineConfigError) return 'refused';
    throw e;
  }
}

describe.runIf(coreBuilt() && image)('damaged rv64 states', () => {
  it('a good state loads; every truncation is refused', async () => {
    const state = await freshState();
    expect(await tryLoad(state)).toBe('loaded');
    for (const cut of [8, 9, 100, 1000, state.length >> 1, state.length - 1]) {
      expect(await tryLoad(state.subarray(0, cut))).toBe('refused');
    }
  });

  it('byte flips in the structure either load or are refused, never anything else', async () => {
    const state = await freshState();
    let x = 0x1234_5678;
    const rand = (n: number): number => {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      return x % n;
    };
    // The fields other than RAM and disk pages live in the first and last few KiB.
    const hot = (i: number): number => (i % 2 === 0 ? rand(4096) : state.length - 1 - rand(8192));
    const outcomes = { loaded: 0, refused: 0 };
    for (let i = 0; i < 60; i++) {
      const bad = state.slice();
      bad[hot(i)] ^= 1 << rand(8);
      outcomes[await tryLoad(bad)]++;
    }
    expect(outcomes.loaded + outcomes.refused).toBe(60);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
