// Test and benchmark entry for the FPU: every operation, a flag getter/clearer, and a batch
// runner over records in linear memory (layout shared with tests/core/fpu/refgen.c).
import * as F from "./index";
export * from "./index";

export function getFlags(): u32 { return F.fpFlags; }
export function clearFlags(): void { F.fpFlags = 0; }

/** One operation by number (the indexes of OPS in tests/core/fpu/ops.mjs). */
export function run(op: u32, rm: u32, a: u64, b: u64, c: u64): u64 {
  const a32 = <u32>a, b32 = <u32>b, c32 = <u32>c;
  switch (op) {
    case 0: return F.f32_add(a32, b32, rm);
    case 1: return F.f32_sub(a32, b32, rm);
    case 2: return F.f32_mul(a32, b32, rm);
    case 3: return F.f32_div(a32, b32, rm);
    case 4: return F.f32_sqrt(a32, rm);
    case 5: return F.f32_madd(a32, b32, c32, rm);
    case 6: return F.f32_msub(a32, b32, c32, rm);
    case 7: return F.f32_nmsub(a32, b32, c32, rm);
    case 8: return F.f32_nmadd(a32, b32, c32, rm);
    case 9: return F.f32_min(a32, b32);
    case 10: return F.f32_max(a32, b32);
    case 11: return F.f32_eq(a32, b32);
    case 12: return F.f32_lt(a32, b32);
    case 13: return F.f32_le(a32, b32);
    case 14: return F.f32_class(a32);
    case 15: return F.f32_to_i32(a32, rm);
    case 16: return F.f32_to_u32(a32, rm);
    case 17: return F.f32_to_i64(a32, rm);
    case 18: return F.f32_to_u64(a32, rm);
    case 19: return F.i32_to_f32(<i32>a, rm);
    case 20: return F.u32_to_f32(<u32>a, rm);
    case 21: return F.i64_to_f32(<i64>a, rm);
    case 22: return F.u64_to_f32(a, rm);
    case 32: return F.f64_add(a, b, rm);
    case 33: return F.f64_sub(a, b, rm);
    case 34: return F.f64_mul(a, b, rm);
    case 35: return F.f64_div(a, b, rm);
    case 36: return F.f64_sqrt(a, rm);
    case 37: return F.f64_madd(a, b, c, rm);
    case 38: return F.f64_msub(a, b, c, rm);
    case 39: return F.f64_nmsub(a, b, c, rm);
    case 40: return F.f64_nmadd(a, b, c, rm);
    case 41: return F.f64_min(a, b);
    case 42: return F.f64_max(a, b);
    case 43: return F.f64_eq(a, b);
    case 44: return F.f64_lt(a, b);
    case 45: return F.f64_le(a, b);
    case 46: return F.f64_class(a);
    case 47: return F.f64_to_i32(a, rm);
    case 48: return F.f64_to_u32(a, rm);
    case 49: return F.f64_to_i64(a, rm);
    case 50: return F.f64_to_u64(a, rm);
    case 51: return F.i32_to_f64(<i32>a, rm);
    case 52: return F.u32_to_f64(<u32>a, rm);
    case 53: return F.i64_to_f64(<i64>a, rm);
    case 54: return F.u64_to_f64(a, rm);
    case 64: return F.f32_to_f64(a32);
    case 65: return F.f64_to_f32(a, rm);
  }
  unreachable();
  return 0;
}

/** Base of the record buffers; the test instantiates this module with enough memory. */
export const BATCH_BASE: usize = 1 << 20;

/**
 * Runs n records {u32 op, u32 rm, u64 a, b, c} at inPtr and writes {u64 result, u64 flags}
 * to outPtr, clearing the flags before each operation.
 */
export function runBatch(inPtr: usize, outPtr: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = inPtr + (<usize>i << 5);
    F.fpFlags = 0;
    const r = run(load<u32>(p), load<u32>(p, 4), load<u64>(p, 8), load<u64>(p, 16), load<u64>(p, 24));
    const q = outPtr + (<usize>i << 4);
    store<u64>(q, r);
    store<u64>(q, <u64>F.fpFlags, 8);
  }
}

// ---- benchmark loops (scripts/fpu-bench.mjs) ---------------------------------------------
// Each loop applies one operation to operand pairs from a table of 1024 random normal values
// and XORs the results into a checksum, so nothing can be optimized away. Even cases run our
// operation, odd cases the plain wasm instruction(s) for comparison.

const BENCH_TABLE: usize = 3 << 20; // 1024 f64 values, then 1024 f32 values

/** Fills the tables with normal values of both signs, magnitudes 2^-20..2^20 (xorshift). */
export function benchInit(seed: u64): void {
  let s = seed | 1;
  for (let i = 0; i < 1024; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    const e: u64 = 1023 - 20 + ((s >> 52) % 41);
    const v = (s & 0x800fffffffffffff) | (e << 52);
    store<u64>(BENCH_TABLE + (<usize>i << 3), v);
    store<u32>(BENCH_TABLE + 8192 + (<usize>i << 2), reinterpret<u32>(<f32>reinterpret<f64>(v)));
  }
}

@inline function t64(i: i32): u64 { return load<u64>(BENCH_TABLE + (<usize>(i & 1023) << 3)); }
@inline function t32(i: i32): u32 { return load<u32>(BENCH_TABLE + 8192 + (<usize>(i & 1023) << 2)); }
@inline function n64(i: i32): f64 { return reinterpret<f64>(t64(i)); }
@inline function n32(i: i32): f32 { return reinterpret<f32>(t32(i)); }

export function bench(which: i32, n: i32, rm: u32): u64 {
  let acc: u64 = 0;
  switch (which) {
    case 0: for (let i = 0; i < n; i++) acc ^= F.f64_add(t64(i), t64(i * 7 + 3), rm); break;
    case 1: for (let i = 0; i < n; i++) acc ^= reinterpret<u64>(n64(i) + n64(i * 7 + 3)); break;
    case 2: for (let i = 0; i < n; i++) acc ^= F.f64_mul(t64(i), t64(i * 7 + 3), rm); break;
    case 3: for (let i = 0; i < n; i++) acc ^= reinterpret<u64>(n64(i) * n64(i * 7 + 3)); break;
    case 4: for (let i = 0; i < n; i++) acc ^= F.f64_div(t64(i), t64(i * 7 + 3), rm); break;
    case 5: for (let i = 0; i < n; i++) acc ^= reinterpret<u64>(n64(i) / n64(i * 7 + 3)); break;
    case 6: for (let i = 0; i < n; i++) acc ^= F.f64_sqrt(t64(i) & ~SIGN, rm); break;
    case 7: for (let i = 0; i < n; i++) acc ^= reinterpret<u64>(sqrt<f64>(abs<f64>(n64(i)))); break;
    case 8: for (let i = 0; i < n; i++) acc ^= F.f64_madd(t64(i), t64(i * 7 + 3), t64(i * 13 + 5), rm); break;
    case 9: for (let i = 0; i < n; i++) acc ^= reinterpret<u64>(n64(i) * n64(i * 7 + 3) + n64(i * 13 + 5)); break;
    case 10: for (let i = 0; i < n; i++) acc ^= F.f32_add(t32(i), t32(i * 7 + 3), rm); break;
    case 11: for (let i = 0; i < n; i++) acc ^= reinterpret<u32>(n32(i) + n32(i * 7 + 3)); break;
    case 12: for (let i = 0; i < n; i++) acc ^= F.f32_mul(t32(i), t32(i * 7 + 3), rm); break;
    case 13: for (let i = 0; i < n; i++) acc ^= reinterpret<u32>(n32(i) * n32(i * 7 + 3)); break;
    case 14: for (let i = 0; i < n; i++) acc ^= F.f32_madd(t32(i), t32(i * 7 + 3), t32(i * 13 + 5), rm); break;
    case 15: for (let i = 0; i < n; i++) acc ^= reinterpret<u32>(n32(i) * n32(i * 7 + 3) + n32(i * 13 + 5)); break;
    case 16: for (let i = 0; i < n; i++) acc ^= F.f64_to_i32(t64(i), rm); break;
    case 17: for (let i = 0; i < n; i++) acc ^= <u64><i32>n64(i); break;
    case 18: for (let i = 0; i < n; i++) acc ^= F.i64_to_f64(<i64>t64(i) >> 10, rm); break;
    case 19: for (let i = 0; i < n; i++) acc ^= reinterpret<u64>(<f64>(<i64>t64(i) >> 10)); break;
  }
  return acc;
}
const SIGN: u64 = 0x8000000000000000;
