// A extension: LR/SC with one reservation, and the AMOs (W and D).
import { ilenOf, pc, memExc, resValid, resAddr, rs1v, rs2v, setRd, CAUSE_LOAD_MISALIGNED, CAUSE_STORE_MISALIGNED } from '../state';
import { loadMem, storeMem, amoHost, loadSlow, storeSlow } from '../mmu';
import { raiseException } from '../trap';

const AMO_SWAP: u32 = 0, AMO_ADD: u32 = 1, AMO_XOR: u32 = 2, AMO_AND: u32 = 3, AMO_OR: u32 = 4;
const AMO_MIN: u32 = 5, AMO_MAX: u32 = 6, AMO_MINU: u32 = 7, AMO_MAXU: u32 = 8;

function lr(insn: u32, size: u32): void {
  const va = rs1v(insn);
  if ((va & (<u64>size - 1)) != 0) { raiseException(CAUSE_LOAD_MISALIGNED, va); return; }
  const v = loadMem(va, size);
  if (memExc) { memExc = false; return; }
  resValid = true;
  resAddr = va;
  setRd(insn, size == 4 ? <u64><i64><i32>v : v);
  pc += ilenOf(insn);
}

function sc(insn: u32, size: u32): void {
  const va = rs1v(insn);
  if ((va & (<u64>size - 1)) != 0) { raiseException(CAUSE_STORE_MISALIGNED, va); return; }
  const ok = resValid && resAddr == va;
  resValid = false; // any sc clears the reservation
  if (ok) {
    storeMem(va, size, rs2v(insn));
    if (memExc) { memExc = false; return; }
  }
  setRd(insn, ok ? 0 : 1);
  pc += ilenOf(insn);
}

function amo(insn: u32, size: u32, kind: u32): void {
  const va = rs1v(insn);
  if ((va & (<u64>size - 1)) != 0) { raiseException(CAUSE_STORE_MISALIGNED, va); return; }
  const h = amoHost(va, size);
  if (memExc) { memExc = false; return; }
  let old: u64;
  if (h != 0) old = size == 4 ? <u64>load<u32>(h) : load<u64>(h);
  else {
    old = loadSlow(va, size);
    if (memExc) { memExc = false; return; }
  }
  const b = rs2v(insn);
  let n: u64;
  if (size == 4) {
    const x = <u32>old, y = <u32>b;
    let r: u32;
    switch (kind) {
      case AMO_SWAP: r = y; break;
      case AMO_ADD: r = x + y; break;
      case AMO_XOR: r = x ^ y; break;
      case AMO_AND: r = x & y; break;
      case AMO_OR: r = x | y; break;
      case AMO_MIN: r = <i32>x < <i32>y ? x : y; break;
      case AMO_MAX: r = <i32>x > <i32>y ? x : y; break;
      case AMO_MINU: r = x < y ? x : y; break;
      default: r = x > y ? x : y; break;
    }
    n = <u64>r;
    old = <u64><i64><i32>x;
  } else {
    switch (kind) {
      case AMO_SWAP: n = b; break;
      case AMO_ADD: n = old + b; break;
      case AMO_XOR: n = old ^ b; break;
      case AMO_AND: n = old & b; break;
      case AMO_OR: n = old | b; break;
      case AMO_MIN: n = <i64>old < <i64>b ? old : b; break;
      case AMO_MAX: n = <i64>old > <i64>b ? old : b; break;
      case AMO_MINU: n = old < b ? old : b; break;
      default: n = old > b ? old : b; break;
    }
  }
  if (h != 0) {
    if (size == 4) store<u32>(h, <u32>n); else store<u64>(h, n);
  } else {
    storeSlow(va, size, n);
    if (memExc) { memExc = false; return; }
  }
  setRd(insn, old);
  pc += ilenOf(insn);
}

export function op_lr_w(insn: u32): void { lr(insn, 4); }
export function op_lr_d(insn: u32): void { lr(insn, 8); }
export function op_sc_w(insn: u32): void { sc(insn, 4); }
export function op_sc_d(insn: u32): void { sc(insn, 8); }
export function op_amoswap_w(insn: u32): void { amo(insn, 4, AMO_SWAP); }
export function op_amoadd_w(insn: u32): void { amo(insn, 4, AMO_ADD); }
export function op_amoxor_w(insn: u32): void { amo(insn, 4, AMO_XOR); }
export function op_amoand_w(insn: u32): void { amo(insn, 4, AMO_AND); }
export function op_amoor_w(insn: u32): void { amo(insn, 4, AMO_OR); }
export function op_amomin_w(insn: u32): void { amo(insn, 4, AMO_MIN); }
export function op_amomax_w(insn: u32): void { amo(insn, 4, AMO_MAX); }
export function op_amominu_w(insn: u32): void { amo(insn, 4, AMO_MINU); }
export function op_amomaxu_w(insn: u32): void { amo(insn, 4, AMO_MAXU); }
export function op_amoswap_d(insn: u32): void { amo(insn, 8, AMO_SWAP); }
export function op_amoadd_d(insn: u32): void { amo(insn, 8, AMO_ADD); }
export function op_amoxor_d(insn: u32): void { amo(insn, 8, AMO_XOR); }
export function op_amoand_d(insn: u32): void { amo(insn, 8, AMO_AND); }
export function op_amoor_d(insn: u32): void { amo(insn, 8, AMO_OR); }
export function op_amomin_d(insn: u32): void { amo(insn, 8, AMO_MIN); }
export function op_amomax_d(insn: u32): void { amo(insn, 8, AMO_MAX); }
export function op_amominu_d(insn: u32): void { amo(insn, 8, AMO_MINU); }
export function op_amomaxu_d(insn: u32): void { amo(insn, 8, AMO_MAXU); }
