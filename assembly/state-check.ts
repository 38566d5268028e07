// Legality of a saved state block before it is loaded (docs/CORE-ABI.md, "State block"). A field
// is legal only if the guest itself could have produced it through the instructions and CSR
// writes of this hart: the same WARL masks as csr.ts, privilege in {U, S, M}, even pcs. A state
// that breaks any rule is refused, never repaired, since no run of this core could have saved it.
import {
  getField, ramSize, F_PC, F_PRIV, F_ICOUNT, F_MSTATUS, F_MEDELEG, F_MIDELEG, F_MIE, F_MIPSW, F_MTVEC,
  F_MEPC, F_STVEC, F_SEPC, F_SATP, F_MCOUNTEREN, F_SCOUNTEREN, F_MENVCFG, F_SENVCFG, F_MCOUNTINHIBIT,
  F_FCSR, F_RESVALID, F_RESADDR, F_MSIP, F_TIMEDET, F_IPT, F_MEIP, F_SEIP, F_WAITING, F_TOHOST,
  F_UNTAKEN, PRIV_U, PRIV_S, PRIV_M, MSTATUS_MPP, MSTATUS_UXL, MSTATUS_SXL,
} from './state';
import { MSTATUS_WMASK, MEDELEG_MASK, MIDELEG_MASK, MIE_MASK, MIP_WMASK, PMPCFG, PMPADDR } from './csr';
import { XREGS, RAM_BASE } from './layout';

/** checkStateBlock() codes beyond the field slots (which are 0..F_COUNT-1). */
export const BAD_X0: i32 = 100;
export const BAD_PMPCFG: i32 = 101;
export const BAD_PMPADDR: i32 = 102;

// @ts-ignore: decorator
@inline function isBool(v: u64): bool { return v <= 1; }

/** UXL = SXL = 2 (64 bits, read-only), MPP not the reserved 2, nothing outside the writable bits. */
function mstatusLegal(v: u64): bool {
  const fixed: u64 = (<u64>2 << 32) | (<u64>2 << 34);
  if ((v & (MSTATUS_UXL | MSTATUS_SXL)) != fixed) return false;
  if ((v & ~(MSTATUS_WMASK | MSTATUS_UXL | MSTATUS_SXL)) != 0) return false;
  return (v & MSTATUS_MPP) != (<u64>2 << 11);
}

/** Bare (all zero), or Sv39/Sv48 with a 16-bit ASID and a 44-bit PPN (all the bits there are). */
function satpLegal(v: u64): bool {
  const mode = v >> 60;
  if (mode == 0) return v == 0;
  return mode == 8 || mode == 9;
}

/** Each pmpcfg byte as writePmpcfg leaves it (bits 6:5 zero, never W without R); pmpaddr 54 bits. */
function pmpLegal(): i32 {
  for (let i: u32 = 0; i < 64; i++) {
    const c = <u32>load<u8>(PMPCFG + i);
    if ((c & 0x60) != 0 || (c & 3) == 2) return BAD_PMPCFG;
    if ((load<u64>(PMPADDR + (i << 3)) >> 54) != 0) return BAD_PMPADDR;
  }
  return -1;
}

/** -1 if the state block at STATE is legal for a hart with ramSize bytes of RAM, else the first bad field's slot (or a BAD_ code). */
export function checkStateBlock(): i32 {
  if ((getField(F_PC) & 1) != 0) return F_PC;
  const p = getField(F_PRIV);
  if (p != PRIV_U && p != PRIV_S && p != PRIV_M) return F_PRIV;
  if (getField(F_UNTAKEN) > getField(F_ICOUNT)) return F_UNTAKEN;
  if (!mstatusLegal(getField(F_MSTATUS))) return F_MSTATUS;
  if ((getField(F_MEDELEG) & ~MEDELEG_MASK) != 0) return F_MEDELEG;
  if ((getField(F_MIDELEG) & ~MIDELEG_MASK) != 0) return F_MIDELEG;
  if ((getField(F_MIE) & ~MIE_MASK) != 0) return F_MIE;
  if ((getField(F_MIPSW) & ~MIP_WMASK) != 0) return F_MIPSW;
  if ((getField(F_MTVEC) & 3) >= 2) return F_MTVEC;
  if ((getField(F_STVEC) & 3) >= 2) return F_STVEC;
  if ((getField(F_MEPC) & 1) != 0) return F_MEPC;
  if ((getField(F_SEPC) & 1) != 0) return F_SEPC;
  if (!satpLegal(getField(F_SATP))) return F_SATP;
  if ((getField(F_MCOUNTEREN) >> 32) != 0) return F_MCOUNTEREN;
  if ((getField(F_SCOUNTEREN) >> 32) != 0) return F_SCOUNTEREN;
  if ((getField(F_MENVCFG) & ~<u64>1) != 0) return F_MENVCFG;
  if ((getField(F_SENVCFG) & ~<u64>1) != 0) return F_SENVCFG;
  if ((getField(F_MCOUNTINHIBIT) & ~<u64>0xfffffffd) != 0) return F_MCOUNTINHIBIT;
  if ((getField(F_FCSR) & ~<u64>0xff) != 0) return F_FCSR;
  // lr.w / lr.d record an aligned virtual address.
  if (!isBool(getField(F_RESVALID))) return F_RESVALID;
  if ((getField(F_RESADDR) & 3) != 0) return F_RESADDR;
  if (!isBool(getField(F_MSIP))) return F_MSIP;
  if (!isBool(getField(F_TIMEDET))) return F_TIMEDET;
  // setTimeMode takes a u32 divisor and makes 0 into 1.
  const ipt = getField(F_IPT);
  if (ipt == 0 || (ipt >> 32) != 0) return F_IPT;
  if (!isBool(getField(F_MEIP))) return F_MEIP;
  if (!isBool(getField(F_SEIP))) return F_SEIP;
  if (!isBool(getField(F_WAITING))) return F_WAITING;
  // tohost: none, or a doubleword inside RAM.
  const t = getField(F_TOHOST);
  if (t != 0 && (t < RAM_BASE || t - RAM_BASE > ramSize - 8)) return F_TOHOST;
  if (load<u64>(XREGS) != 0) return BAD_X0;
  return pmpLegal();
}
