// Lab manifests (fuzz/targets/lab.ts): every generated manifest is accepted as the schema says or
// refused with one 'bad-lab' line; never another exception.
import { describe, expect, it } from 'vitest';
import { target } from '../../fuzz/targets/lab.js';
import { parseLab } from '../../src/hypervisor/lab.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { expectClean, shortRun } from './run-short.js';

const images = [{ name: 'riscv64-busybox', arch: 'riscv64', engine: 'rv64', kernel: 'k', cmdline: '', memoryMiB: 64, readyMarker: 'r', sha256: {} }] as const;

describe('lab manifest fuzzer', () => {
  it('2000 generated manifests: accepted per the schema or refused as bad-lab', async () => {
    const r = await shortRun(target, 1, 2000);
    expectClean(r);
    expect(r.summary.accepted).toBeGreaterThan(0);
    expect(r.summary.kinds['refused bad-lab']).toBeGreaterThan(0);
  }, 120_000);

  // Found by this fuzzer (fixed in src/hypervisor/lab.ts): the error message rendered the bad value
  // with JSON.stringify, so a deeply nested value overflowed the stack (RangeError, not 'bad-lab')
  // and a huge string made a huge message.
  it('a deeply nested or huge bad value is refused with one short bad-lab line', () => {
    const deep = JSON.parse(`${'['.repeat(20_000)}1${']'.repeat(20_000)}`) as unknown;
    for (const bad of [deep, 'x'.repeat(100_000)]) {
      let error: unknown;
      try {
        parseLab({ format: 'tabvisor-lab/1', name: 'l', vms: [{ name: 'a', image: 'riscv64-busybox', memoryMiB: bad }] }, images as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HypervisorError);
      expect((error as HypervisorError).code).toBe('bad-lab');
      expect((error as Error).message.length).toBeLessThan(200);
    }
  });
});
