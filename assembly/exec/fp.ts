// F and D: loads/stores, moves, sign injection and NaN-boxing live here; arithmetic,
// comparisons and conversions call the FPU (assembly/fpu/, through generated/fpu.ts).
// priv 3.1.6.6: FS = Off makes every FP instruction illegal; writes set FS = Dirty.
import { ilenOf, pc, fcsr, mstatus, memExc, rs1v, setRd, getF, setF, MSTATUS_FS } from '../state';
import { loadMem, storeMem } from '../mmu';
import { illegalInstruction } from '../trap';
import { immI, immS } from './int';
import * as fpu from '../generated/fpu';

const CANONICAL_NAN32: u32 = 0x7fc00000;

// @ts-ignore: decorator
@inline function box(x: u32): u64 { return 0xffffffff00000000 | <u64>x; }
/** An f32 operand not properly NaN-boxed reads as the canonical NaN. */
// @ts-ignore: decorator
@inline function unbox(v: u64): u32 { return (v >> 32) == 0xffffffff ? <u32>v : CANONICAL_NAN32; }
// @ts-ignore: decorator
@inline function frd(insn: u32): u32 { return (insn >> 7) & 31; }
// @ts-ignore: decorator
@inline function f1(insn: u32): u64 { return getF((insn >> 15) & 31); }
// @ts-ignore: decorator
@inline function f2(insn: u32): u64 { return getF((insn >> 20) & 31); }
// @ts-ignore: decorator
@inline function f3(insn: u32): u64 { return getF(insn >> 27); }

/** FS must not be Off. Raises illegal instruction and returns false otherwise. */
// @ts-ignore: decorator
@inline function fpOn(insn: u32): bool {
  if ((mstatus & MSTATUS_FS) == 0) { illegalInstruction(insn); return false; }
  return true;
}

/** Rounding mode of the instruction (dynamic = frm); 0xff if reserved (caller raises illegal). */
function roundingMode(insn: u32): u32 {
  let rm = (insn >> 12) & 7;
  if (rm == 7) rm = <u32>(fcsr >> 5) & 7;
  return rm >= 5 ? 0xff : rm;
}

/** FS on and the rounding mode legal; returns the rounding mode or 0xff after raising illegal. */
function fpRm(insn: u32): u32 {
  if ((mstatus & MSTATUS_FS) == 0) { illegalInstruction(insn); return 0xff; }
  const rm = roundingMode(insn);
  if (rm == 0xff || !fpu.FPU_PRESENT) { illegalInstruction(insn); return 0xff; }
  fpu.clearFlags();
  return rm;
}

/** Moves the FPU's accumulated flags into fflags. */
// @ts-ignore: decorator
@inline function takeFlags(): void {
  const fl = fpu.takeFlags();
  if (fl != 0) { fcsr |= <u64>fl; mstatus |= MSTATUS_FS; }
}

// @ts-ignore: decorator
@inline function writeF(insn: u32, v: u64): void {
  setF(frd(insn), v);
  mstatus |= MSTATUS_FS;
  pc += ilenOf(insn);
}

// @ts-ignore: decorator
@inline function writeX(insn: u32, v: u64): void {
  setRd(insn, v);
  pc += ilenOf(insn);
}

// ---- loads and stores ----
export function op_flw(insn: u32): void {
  if (!fpOn(insn)) return;
  const v = loadMem(rs1v(insn) + immI(insn), 4);
  if (memExc) { memExc = false; return; }
  writeF(insn, box(<u32>v));
}
export function op_fld(insn: u32): void {
  if (!fpOn(insn)) return;
  const v = loadMem(rs1v(insn) + immI(insn), 8);
  if (memExc) { memExc = false; return; }
  writeF(insn, v);
}
export function op_fsw(insn: u32): void {
  if (!fpOn(insn)) return;
  storeMem(rs1v(insn) + immS(insn), 4, f2(insn) & 0xffffffff);
  if (memExc) { memExc = false; return; }
  pc += ilenOf(insn);
}
export function op_fsd(insn: u32): void {
  if (!fpOn(insn)) return;
  storeMem(rs1v(insn) + immS(insn), 8, f2(insn));
  if (memExc) { memExc = false; return; }
  pc += ilenOf(insn);
}

// ---- single precision ----
export function op_fadd_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_add(unbox(f1(insn)), unbox(f2(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fsub_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_sub(unbox(f1(insn)), unbox(f2(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fmul_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_mul(unbox(f1(insn)), unbox(f2(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fdiv_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_div(unbox(f1(insn)), unbox(f2(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fsqrt_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_sqrt(unbox(f1(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fmadd_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_madd(unbox(f1(insn)), unbox(f2(insn)), unbox(f3(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fmsub_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_msub(unbox(f1(insn)), unbox(f2(insn)), unbox(f3(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fnmsub_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_nmsub(unbox(f1(insn)), unbox(f2(insn)), unbox(f3(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fnmadd_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_nmadd(unbox(f1(insn)), unbox(f2(insn)), unbox(f3(insn)), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fsgnj_s(insn: u32): void {
  if (!fpOn(insn)) return;
  const a = unbox(f1(insn)), b = unbox(f2(insn));
  writeF(insn, box((a & 0x7fffffff) | (b & 0x80000000)));
}
export function op_fsgnjn_s(insn: u32): void {
  if (!fpOn(insn)) return;
  const a = unbox(f1(insn)), b = unbox(f2(insn));
  writeF(insn, box((a & 0x7fffffff) | (~b & 0x80000000)));
}
export function op_fsgnjx_s(insn: u32): void {
  if (!fpOn(insn)) return;
  const a = unbox(f1(insn)), b = unbox(f2(insn));
  writeF(insn, box(a ^ (b & 0x80000000)));
}
export function op_fmin_s(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f32_min(unbox(f1(insn)), unbox(f2(insn))); takeFlags(); writeF(insn, box(r));
}
export function op_fmax_s(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f32_max(unbox(f1(insn)), unbox(f2(insn))); takeFlags(); writeF(insn, box(r));
}
export function op_fcvt_s_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_to_f32(f1(insn), rm); takeFlags(); writeF(insn, box(r));
}
export function op_feq_s(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f32_eq(unbox(f1(insn)), unbox(f2(insn))); takeFlags(); writeX(insn, <u64>r);
}
export function op_flt_s(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f32_lt(unbox(f1(insn)), unbox(f2(insn))); takeFlags(); writeX(insn, <u64>r);
}
export function op_fle_s(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f32_le(unbox(f1(insn)), unbox(f2(insn))); takeFlags(); writeX(insn, <u64>r);
}
export function op_fclass_s(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  writeX(insn, <u64>fpu.f32_class(unbox(f1(insn))));
}
export function op_fcvt_w_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_to_i32(unbox(f1(insn)), rm); takeFlags(); writeX(insn, <u64>r);
}
export function op_fcvt_wu_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_to_u32(unbox(f1(insn)), rm); takeFlags(); writeX(insn, <u64>r);
}
export function op_fcvt_l_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_to_i64(unbox(f1(insn)), rm); takeFlags(); writeX(insn, <u64>r);
}
export function op_fcvt_lu_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_to_u64(unbox(f1(insn)), rm); takeFlags(); writeX(insn, <u64>r);
}
export function op_fcvt_s_w(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.i32_to_f32(<i32>rs1v(insn), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fcvt_s_wu(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.u32_to_f32(<u32>rs1v(insn), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fcvt_s_l(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.i64_to_f32(<i64>rs1v(insn), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fcvt_s_lu(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.u64_to_f32(rs1v(insn), rm); takeFlags(); writeF(insn, box(r));
}
export function op_fmv_x_w(insn: u32): void {
  if (!fpOn(insn)) return;
  writeX(insn, <u64><i64><i32>f1(insn));
}
export function op_fmv_w_x(insn: u32): void {
  if (!fpOn(insn)) return;
  writeF(insn, box(<u32>rs1v(insn)));
}

// ---- double precision ----
export function op_fadd_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_add(f1(insn), f2(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fsub_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_sub(f1(insn), f2(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fmul_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_mul(f1(insn), f2(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fdiv_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_div(f1(insn), f2(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fsqrt_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_sqrt(f1(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fmadd_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_madd(f1(insn), f2(insn), f3(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fmsub_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_msub(f1(insn), f2(insn), f3(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fnmsub_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_nmsub(f1(insn), f2(insn), f3(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fnmadd_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_nmadd(f1(insn), f2(insn), f3(insn), rm); takeFlags(); writeF(insn, r);
}
const SIGN64: u64 = <u64>1 << 63;
export function op_fsgnj_d(insn: u32): void {
  if (!fpOn(insn)) return;
  writeF(insn, (f1(insn) & ~SIGN64) | (f2(insn) & SIGN64));
}
export function op_fsgnjn_d(insn: u32): void {
  if (!fpOn(insn)) return;
  writeF(insn, (f1(insn) & ~SIGN64) | (~f2(insn) & SIGN64));
}
export function op_fsgnjx_d(insn: u32): void {
  if (!fpOn(insn)) return;
  writeF(insn, f1(insn) ^ (f2(insn) & SIGN64));
}
export function op_fmin_d(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f64_min(f1(insn), f2(insn)); takeFlags(); writeF(insn, r);
}
export function op_fmax_d(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f64_max(f1(insn), f2(insn)); takeFlags(); writeF(insn, r);
}
export function op_fcvt_d_s(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f32_to_f64(unbox(f1(insn))); takeFlags(); writeF(insn, r);
}
export function op_feq_d(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f64_eq(f1(insn), f2(insn)); takeFlags(); writeX(insn, <u64>r);
}
export function op_flt_d(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f64_lt(f1(insn), f2(insn)); takeFlags(); writeX(insn, <u64>r);
}
export function op_fle_d(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  fpu.clearFlags();
  const r = fpu.f64_le(f1(insn), f2(insn)); takeFlags(); writeX(insn, <u64>r);
}
export function op_fclass_d(insn: u32): void {
  if (!fpOn(insn)) return;
  if (!fpu.FPU_PRESENT) { illegalInstruction(insn); return; }
  writeX(insn, <u64>fpu.f64_class(f1(insn)));
}
export function op_fcvt_w_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_to_i32(f1(insn), rm); takeFlags(); writeX(insn, <u64>r);
}
export function op_fcvt_wu_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_to_u32(f1(insn), rm); takeFlags(); writeX(insn, <u64>r);
}
export function op_fcvt_l_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_to_i64(f1(insn), rm); takeFlags(); writeX(insn, <u64>r);
}
export function op_fcvt_lu_d(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.f64_to_u64(f1(insn), rm); takeFlags(); writeX(insn, <u64>r);
}
export function op_fcvt_d_w(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.i32_to_f64(<i32>rs1v(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fcvt_d_wu(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.u32_to_f64(<u32>rs1v(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fcvt_d_l(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.i64_to_f64(<i64>rs1v(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fcvt_d_lu(insn: u32): void {
  const rm = fpRm(insn); if (rm == 0xff) return;
  const r = fpu.u64_to_f64(rs1v(insn), rm); takeFlags(); writeF(insn, r);
}
export function op_fmv_x_d(insn: u32): void {
  if (!fpOn(insn)) return;
  writeX(insn, f1(insn));
}
export function op_fmv_d_x(insn: u32): void {
  if (!fpOn(insn)) return;
  writeF(insn, rs1v(insn));
}
