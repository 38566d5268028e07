// The F and D arithmetic (assembly/fpu) against qemu-riscv64: every operation, every rounding
// mode, result bits and exception flags, on corner values and seeded random operands.
// One test per operation, so a failure names the operation; its message lists the first
// differing cases (operation, rounding mode, operands, expected and actual).
import { beforeAll, describe, expect, it } from 'vitest';
import { OPS } from './ops.mjs';
import { compare, haveReferenceTools, loadFpu, runOurs, standardVectors } from './harness.mjs';
import { RECORD_IN, RECORD_OUT } from './gen.mjs';

type Fpu = Record<string, any>;
const tools = haveReferenceTools();

describe.skipIf(!tools)('fpu against qemu-riscv64', () => {
  let byOp: Map<number, { input: Buffer; expected: Buffer; got: Buffer }>;

  beforeAll(async () => {
    const { input, expected } = standardVectors({ seed: 1, random: 1000 });
    const fpu = await loadFpu();
    const got = runOurs(fpu, input);
    // Split the records by operation.
    const n = input.length / RECORD_IN;
    const idx = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const op = input.readUInt32LE(i * RECORD_IN);
      if (!idx.has(op)) idx.set(op, []);
      idx.get(op)!.push(i);
    }
    const take = (buf: Buffer, size: number, list: number[]) =>
      Buffer.concat(list.map((i) => buf.subarray(i * size, (i + 1) * size)));
    byOp = new Map();
    for (const [op, list] of idx) {
      byOp.set(op, { input: take(input, RECORD_IN, list), expected: take(expected, RECORD_OUT, list), got: take(got, RECORD_OUT, list) });
    }
  });

  for (const op of OPS.filter(Boolean)) {
    it(`${op.name} matches the reference`, () => {
      const v = byOp.get(op.id);
      expect(v, `no vectors for ${op.name}`).toBeDefined();
      const r = compare(v!.input, v!.expected, v!.got, 12);
      expect(r.count).toBeGreaterThan(300);
      expect(r.bad, `${r.bad} of ${r.count} differ:\n${r.failures.join('\n')}`).toBe(0);
    });
  }
});

// A few facts stated by the spec, checked without the reference (they also document the API).
describe('fpu spot checks', () => {
  let F: Fpu;
  beforeAll(async () => { F = await loadFpu(); });
  const call = (name: string, ...args: (number | bigint)[]) => {
    F.clearFlags();
    let r = F[name](...args);
    // wasm i64 results arrive signed; f64 bit patterns read better unsigned.
    if (typeof r === 'bigint' && !/_to_[iu]/.test(name)) r = BigInt.asUintN(64, r);
    if (typeof r === 'number') r >>>= 0;
    return { r, flags: F.getFlags() as number };
  };

  it('fma(0, inf, qNaN) raises NV and returns the canonical NaN', () => {
    expect(call('f64_madd', 0n, 0x7ff0000000000000n, 0x7ff8000000000000n, 0)).toEqual({ r: 0x7ff8000000000000n, flags: 16 });
    expect(call('f32_madd', 0x7f800000, 0, 0x7fc00000, 0)).toEqual({ r: 0x7fc00000, flags: 16 });
  });

  it('fcvt.wu.d of -1.0 saturates to 0 with NV; NaN converts to the maximum', () => {
    expect(call('f64_to_u32', 0xbff0000000000000n, 1)).toEqual({ r: 0n, flags: 16 });
    expect(call('f64_to_u32', 0x7ff8000000000000n, 1)).toEqual({ r: -1n, flags: 16 });
    expect(call('f64_to_i32', 0x7ff8000000000000n, 1)).toEqual({ r: 0x7fffffffn, flags: 16 });
    expect(call('f32_to_u64', 0xbf000000, 1)).toEqual({ r: 0n, flags: 1 }); // -0.5 rtz -> 0, inexact
  });

  it('min/max: -0 < +0, one NaN gives the other operand, sNaN raises NV', () => {
    expect(call('f32_min', 0x00000000, 0x80000000)).toEqual({ r: 0x80000000, flags: 0 });
    expect(call('f32_max', 0x80000000, 0x00000000)).toEqual({ r: 0x00000000, flags: 0 });
    expect(call('f64_max', 0x7ff0000000000001n, 0x3ff0000000000000n)).toEqual({ r: 0x3ff0000000000000n, flags: 16 });
    expect(call('f64_min', 0x7ff8000000000000n, 0xfff8000000000001n)).toEqual({ r: 0x7ff8000000000000n, flags: 0 });
  });

  it('tininess is detected after rounding', () => {
    // (1 + 2^-23) * (2^-126 - 2^-149) = 2^-126 - 2^-172 rounds to 2^-126 even with an unbounded
    // exponent: not tiny, so NX without UF.
    expect(call('f32_mul', 0x3f800001, 0x007fffff, 0)).toEqual({ r: 0x00800000, flags: 1 });
    // (1 - 2^-53) * 2^-1022 is exact at 53 bits below 2^-1022 (tiny), and rounds up to 2^-1022
    // as a subnormal: UF|NX with a normal result.
    expect(call('f64_mul', 0x3fefffffffffffffn, 0x0010000000000000n, 0)).toEqual({ r: 0x0010000000000000n, flags: 3 });
    expect(call('f64_mul', 0x3fefffffffffffffn, 0x0010000000000001n, 0)).toEqual({ r: 0x0010000000000000n, flags: 1 });
  });

  it('overflow gives infinity or the largest finite number by rounding mode', () => {
    const max = 0x7fefffffffffffffn;
    expect(call('f64_add', max, max, 0)).toEqual({ r: 0x7ff0000000000000n, flags: 5 });
    expect(call('f64_add', max, max, 1)).toEqual({ r: max, flags: 5 });
    expect(call('f64_mul', max | (1n << 63n), max, 3)).toEqual({ r: max | (1n << 63n), flags: 5 });
  });
});
