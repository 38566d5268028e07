// Deterministic mode (time from instructions retired, idle time skipped, seeded entropy): two boots
// of riscv64-busybox reach the shell's ready marker at the same instruction, with the same guest
// time and the same console output, so a failing boot can be replayed exactly.

import { describe, expect, it } from 'vitest';
import { Rv64Machine } from '../../src/engines/rv64/machine.js';
import { loadRv64Module } from '../../src/engines/rv64/wasm-node.js';
import { coreBuilt, findRv64Image } from './helpers.js';

const image = findRv64Image();

/** xorshift32 from a fixed seed: the same "random" bytes on every run. */
function seededRandom(seed: number): (b: Uint8Array) => void {
  let x = seed >>> 0 || 1;
  return (b) => {
    for (let i = 0; i < b.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[i] = x & 0xff;
    }
  };
}

async function bootToMarker(): Promise<{ steps: bigint; mtime: bigint; out: string }> {
  let out = '';
  const decoder = new TextDecoder();
  const machine = new Rv64Machine({
    module: await loadRv64Module(),
    memoryBytes: image!.memoryMiB << 20,
    firmware: image!.firmware,
    kernel: image!.kernel,
    initrd: image!.initrd,
    cmdline: 'console=ttyS0',
    deterministic: true,
    random: seededRandom(12345),
    output: (d) => (out += decoder.decode(d, { stream: true })),
  });
  for (let slices = 0; slices < 20_000; slices++) {
    const r = machine.runSlice(100_000);
    if (r.exit) throw new Error(`guest exited: ${JSON.stringify(r.exit)}\n${out.slice(-1000)}`);
    if (out.includes(image!.readyMarker)) return { steps: machine.core.steps, mtime: machine.core.mtime, out };
    if (r.idle && !machine.skipIdleTime()) throw new Error('guest idles with no timer before the marker');
  }
  throw new Error(`no marker after 2e9 instructions\n${out.slice(-1000)}`);
}

describe.runIf(coreBuilt() && image)('deterministic rv64 boots', () => {
  it('two boots reach the ready marker at the same instruction count, guest time and output', async () => {
    const a = await bootToMarker();
    const b = await bootToMarker();
    expect(a.out).toContain('Run /init as init process');
    expect(b.steps).toBe(a.steps);
    expect(b.mtime).toBe(a.mtime);
    expect(b.out).toBe(a.out);
  });
});
