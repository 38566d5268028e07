// RV64I and M: integer computation, branches, jumps, loads and stores.
import { pc, memExc, rs1v, rs2v, setRd, ilenOf } from '../state';
// Ops here take the pc of the instruction and return the next pc (the interpreter keeps pc in
// a local and does not store the global per instruction: an op sets the global pc = p before
// anything that can trap or reach the host); on a trap they return the global pc, which the
// trap set to the handler.
import { loadSlow, storeSlow, tlbLoad, tlbStore, tagMask, ramLoad, ramStore } from '../mmu';
import { TLB_ENTRIES } from '../layout';

// ---- immediates of the base formats (unprivileged spec 2.3) ----
// @ts-ignore: decorator
@inline export function immI(insn: u32): u64 { return <u64><i64>(<i32>insn >> 20); }
// @ts-ignore: decorator
@inline export function immS(insn: u32): u64 {
  return <u64><i64>(((<i32>insn >> 20) & ~31) | <i32>((insn >> 7) & 31));
}
// @ts-ignore: decorator
@inline function immB(insn: u32): u64 {
  return <u64><i64>((<i32>(insn & 0x80000000) >> 19) | <i32>(((insn & 0x80) << 4) | ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e)));
}
// @ts-ignore: decorator
@inline function immJ(insn: u32): u64 {
  return <u64><i64>((<i32>(insn & 0x80000000) >> 11) | <i32>((insn & 0xff000) | ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe)));
}
// @ts-ignore: decorator
@inline function immU(insn: u32): u64 { return <u64><i64><i32>(insn & 0xfffff000); }
// @ts-ignore: decorator
@inline function sext32(v: u64): u64 { return <u64><i64><i32>v; }
// @ts-ignore: decorator

// ---- upper immediates, jumps, branches ----
// @ts-ignore: decorator
@inline export function op_lui(insn: u32, p: u64): u64 { setRd(insn, immU(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_auipc(insn: u32, p: u64): u64 { setRd(insn, p + immU(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_jal(insn: u32, p: u64): u64 {
  const t = p + immJ(insn);
  setRd(insn, p + ilenOf(insn));
  return t;
}
// @ts-ignore: decorator
@inline export function op_jalr(insn: u32, p: u64): u64 {
  const t = (rs1v(insn) + immI(insn)) & ~<u64>1;
  setRd(insn, p + ilenOf(insn));
  return t;
}
// @ts-ignore: decorator
@inline function branch(insn: u32, p: u64, taken: bool): u64 {
  return taken ? p + immB(insn) : p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_beq(insn: u32, p: u64): u64 { return branch(insn, p, rs1v(insn) == rs2v(insn)); }
// @ts-ignore: decorator
@inline export function op_bne(insn: u32, p: u64): u64 { return branch(insn, p, rs1v(insn) != rs2v(insn)); }
// @ts-ignore: decorator
@inline export function op_blt(insn: u32, p: u64): u64 { return branch(insn, p, <i64>rs1v(insn) < <i64>rs2v(insn)); }
// @ts-ignore: decorator
@inline export function op_bge(insn: u32, p: u64): u64 { return branch(insn, p, <i64>rs1v(insn) >= <i64>rs2v(insn)); }
// @ts-ignore: decorator
@inline export function op_bltu(insn: u32, p: u64): u64 { return branch(insn, p, rs1v(insn) < rs2v(insn)); }
// @ts-ignore: decorator
@inline export function op_bgeu(insn: u32, p: u64): u64 { return branch(insn, p, rs1v(insn) >= rs2v(insn)); }

// ---- loads and stores ----
// @ts-ignore: decorator
@inline function loadOp(insn: u32, p: u64, size: u32, signed: bool): u64 {
  // The TLB hit path is written out here so only the slow path pays for the trap check.
  const va = rs1v(insn) + immI(insn);
  const e = tlbLoad + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
  let v: u64;
  if (load<u64>(e) == (va & tagMask(size))) v = ramLoad(<usize>(va + load<u64>(e, 8)), size);
  else {
    pc = p; // the slow path may trap or reach the host, which both read the global pc
    v = loadSlow(va, size);
    if (memExc) { memExc = false; return pc; }
  }
  if (signed) {
    if (size == 1) v = <u64><i64><i8>v;
    else if (size == 2) v = <u64><i64><i16>v;
    else if (size == 4) v = <u64><i64><i32>v;
  }
  setRd(insn, v);
  return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline function storeOp(insn: u32, p: u64, size: u32): u64 {
  const va = rs1v(insn) + immS(insn);
  const e = tlbStore + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
  if (load<u64>(e) == (va & tagMask(size))) ramStore(<usize>(va + load<u64>(e, 8)), size, rs2v(insn));
  else {
    pc = p;
    storeSlow(va, size, rs2v(insn));
    if (memExc) { memExc = false; return pc; }
  }
  return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_lb(insn: u32, p: u64): u64 { return loadOp(insn, p, 1, true); }
// @ts-ignore: decorator
@inline export function op_lh(insn: u32, p: u64): u64 { return loadOp(insn, p, 2, true); }
// @ts-ignore: decorator
@inline export function op_lw(insn: u32, p: u64): u64 { return loadOp(insn, p, 4, true); }
// @ts-ignore: decorator
@inline export function op_ld(insn: u32, p: u64): u64 { return loadOp(insn, p, 8, false); }
// @ts-ignore: decorator
@inline export function op_lbu(insn: u32, p: u64): u64 { return loadOp(insn, p, 1, false); }
// @ts-ignore: decorator
@inline export function op_lhu(insn: u32, p: u64): u64 { return loadOp(insn, p, 2, false); }
// @ts-ignore: decorator
@inline export function op_lwu(insn: u32, p: u64): u64 { return loadOp(insn, p, 4, false); }
// @ts-ignore: decorator
@inline export function op_sb(insn: u32, p: u64): u64 { return storeOp(insn, p, 1); }
// @ts-ignore: decorator
@inline export function op_sh(insn: u32, p: u64): u64 { return storeOp(insn, p, 2); }
// @ts-ignore: decorator
@inline export function op_sw(insn: u32, p: u64): u64 { return storeOp(insn, p, 4); }
// @ts-ignore: decorator
@inline export function op_sd(insn: u32, p: u64): u64 { return storeOp(insn, p, 8); }

// ---- register-immediate ----
// @ts-ignore: decorator
@inline export function op_addi(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) + immI(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_slti(insn: u32, p: u64): u64 { setRd(insn, <i64>rs1v(insn) < <i64>immI(insn) ? 1 : 0); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_sltiu(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) < immI(insn) ? 1 : 0); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_xori(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) ^ immI(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_ori(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) | immI(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_andi(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) & immI(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_slli(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) << <u64>((insn >> 20) & 63)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_srli(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) >> <u64>((insn >> 20) & 63)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_srai(insn: u32, p: u64): u64 { setRd(insn, <u64>(<i64>rs1v(insn) >> <i64>((insn >> 20) & 63))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_addiw(insn: u32, p: u64): u64 { setRd(insn, sext32(rs1v(insn) + immI(insn))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_slliw(insn: u32, p: u64): u64 { setRd(insn, <u64><i64><i32>(<u32>rs1v(insn) << ((insn >> 20) & 31))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_srliw(insn: u32, p: u64): u64 { setRd(insn, <u64><i64><i32>(<u32>rs1v(insn) >> ((insn >> 20) & 31))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_sraiw(insn: u32, p: u64): u64 { setRd(insn, <u64><i64>(<i32>rs1v(insn) >> <i32>((insn >> 20) & 31))); return p + ilenOf(insn); }

// ---- register-register ----
// @ts-ignore: decorator
@inline export function op_add(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) + rs2v(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_sub(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) - rs2v(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_sll(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) << (rs2v(insn) & 63)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_slt(insn: u32, p: u64): u64 { setRd(insn, <i64>rs1v(insn) < <i64>rs2v(insn) ? 1 : 0); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_sltu(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) < rs2v(insn) ? 1 : 0); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_xor(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) ^ rs2v(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_srl(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) >> (rs2v(insn) & 63)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_sra(insn: u32, p: u64): u64 { setRd(insn, <u64>(<i64>rs1v(insn) >> <i64>(rs2v(insn) & 63))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_or(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) | rs2v(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_and(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) & rs2v(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_addw(insn: u32, p: u64): u64 { setRd(insn, sext32(rs1v(insn) + rs2v(insn))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_subw(insn: u32, p: u64): u64 { setRd(insn, sext32(rs1v(insn) - rs2v(insn))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_sllw(insn: u32, p: u64): u64 { setRd(insn, <u64><i64><i32>(<u32>rs1v(insn) << (<u32>rs2v(insn) & 31))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_srlw(insn: u32, p: u64): u64 { setRd(insn, <u64><i64><i32>(<u32>rs1v(insn) >> (<u32>rs2v(insn) & 31))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_sraw(insn: u32, p: u64): u64 { setRd(insn, <u64><i64>(<i32>rs1v(insn) >> <i32>(<u32>rs2v(insn) & 31))); return p + ilenOf(insn); }

// ---- M extension ----
/** High 64 bits of the unsigned 128-bit product. */
export function mulhu64(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff, a1 = a >> 32, b0 = b & 0xffffffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}
// @ts-ignore: decorator
@inline export function op_mul(insn: u32, p: u64): u64 { setRd(insn, rs1v(insn) * rs2v(insn)); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_mulh(insn: u32, p: u64): u64 {
  const a = rs1v(insn), b = rs2v(insn);
  let h = mulhu64(a, b);
  if (<i64>a < 0) h -= b;
  if (<i64>b < 0) h -= a;
  setRd(insn, h); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_mulhsu(insn: u32, p: u64): u64 {
  const a = rs1v(insn), b = rs2v(insn);
  let h = mulhu64(a, b);
  if (<i64>a < 0) h -= b;
  setRd(insn, h); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_mulhu(insn: u32, p: u64): u64 { setRd(insn, mulhu64(rs1v(insn), rs2v(insn))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_div(insn: u32, p: u64): u64 {
  const a = <i64>rs1v(insn), b = <i64>rs2v(insn);
  let r: i64;
  if (b == 0) r = -1;
  else if (a == i64.MIN_VALUE && b == -1) r = a;
  else r = a / b;
  setRd(insn, <u64>r); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_divu(insn: u32, p: u64): u64 {
  const a = rs1v(insn), b = rs2v(insn);
  setRd(insn, b == 0 ? 0xffffffffffffffff : a / b); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_rem(insn: u32, p: u64): u64 {
  const a = <i64>rs1v(insn), b = <i64>rs2v(insn);
  let r: i64;
  if (b == 0) r = a;
  else if (a == i64.MIN_VALUE && b == -1) r = 0;
  else r = a % b;
  setRd(insn, <u64>r); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_remu(insn: u32, p: u64): u64 {
  const a = rs1v(insn), b = rs2v(insn);
  setRd(insn, b == 0 ? a : a % b); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_mulw(insn: u32, p: u64): u64 { setRd(insn, sext32(rs1v(insn) * rs2v(insn))); return p + ilenOf(insn); }
// @ts-ignore: decorator
@inline export function op_divw(insn: u32, p: u64): u64 {
  const a = <i32>rs1v(insn), b = <i32>rs2v(insn);
  let r: i32;
  if (b == 0) r = -1;
  else if (a == i32.MIN_VALUE && b == -1) r = a;
  else r = a / b;
  setRd(insn, <u64><i64>r); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_divuw(insn: u32, p: u64): u64 {
  const a = <u32>rs1v(insn), b = <u32>rs2v(insn);
  setRd(insn, <u64><i64><i32>(b == 0 ? 0xffffffff : a / b)); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_remw(insn: u32, p: u64): u64 {
  const a = <i32>rs1v(insn), b = <i32>rs2v(insn);
  let r: i32;
  if (b == 0) r = a;
  else if (a == i32.MIN_VALUE && b == -1) r = 0;
  else r = a % b;
  setRd(insn, <u64><i64>r); return p + ilenOf(insn);
}
// @ts-ignore: decorator
@inline export function op_remuw(insn: u32, p: u64): u64 {
  const a = <u32>rs1v(insn), b = <u32>rs2v(insn);
  setRd(insn, <u64><i64><i32>(b == 0 ? a : a % b)); return p + ilenOf(insn);
}
