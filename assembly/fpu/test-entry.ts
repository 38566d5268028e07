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
