// Control and status registers (priv spec 1.12, chapter 2-4). csrAccessOk() decides legality
// (existence, privilege, read-only, TVM, counter enables, FS); csrRead/csrWrite apply WARL rules.
import {
  priv, retired, mstatus, medeleg, mideleg, mie, mipSw, mtvec, mepc, mcause, mtval, mscratch,
  stvec, sepc, scause, stval, sscratch, satp, mcounteren, scounteren, menvcfg, senvcfg,
  mcountinhibit, fcsr, cycleBase, instretBase, cycleFrozen, instretFrozen, requestCheck,
  PRIV_M, PRIV_S, PRIV_U, MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE, MSTATUS_SPP,
  MSTATUS_MPP, MSTATUS_FS, MSTATUS_MPRV, MSTATUS_SUM, MSTATUS_MXR, MSTATUS_TVM, MSTATUS_TW,
  MSTATUS_TSR, MSTATUS_UXL, MSTATUS_SD, MSTATUS_UBE, MSTATUS_VS, MSTATUS_XS,
  MIP_SSIP, MIP_STIP, MIP_SEIP,
} from './state';
import { STATE } from './layout';
import { mipValue } from './trap';
import { mtimeNow } from './clint';
import { tlbFlushTranslated, tlbFlushData, tlbSelect } from './mmu';

export const PMPCFG: u32 = STATE + 0x600; // 8 registers (pmpcfg0,2,..,14) x 8 bytes = 64 entries
export const PMPADDR: u32 = STATE + 0x700; // 64 x 8 bytes

// misa: RV64 (MXL=2) with A C D F I M S U
export const MISA: u64 = (<u64>2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

export const MSTATUS_WMASK: u64 = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP |
  MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
const SSTATUS_RMASK: u64 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS |
  MSTATUS_FS | MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD;
const SSTATUS_WMASK: u64 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;

export const MEDELEG_MASK: u64 = 0xb3ff;
export const MIDELEG_MASK: u64 = 0x222;
export const MIE_MASK: u64 = 0xaaa;
export const MIP_WMASK: u64 = MIP_SSIP | MIP_STIP | MIP_SEIP;
const SIE_MASK: u64 = 0x222;

// CSR numbers
export const CSR_FFLAGS: u32 = 0x001;
export const CSR_FRM: u32 = 0x002;
export const CSR_FCSR: u32 = 0x003;
export const CSR_CYCLE: u32 = 0xc00;
export const CSR_TIME: u32 = 0xc01;
export const CSR_INSTRET: u32 = 0xc02;
export const CSR_SSTATUS: u32 = 0x100;
export const CSR_SIE: u32 = 0x104;
export const CSR_STVEC: u32 = 0x105;
export const CSR_SCOUNTEREN: u32 = 0x106;
export const CSR_SENVCFG: u32 = 0x10a;
export const CSR_SSCRATCH: u32 = 0x140;
export const CSR_SEPC: u32 = 0x141;
export const CSR_SCAUSE: u32 = 0x142;
export const CSR_STVAL: u32 = 0x143;
export const CSR_SIP: u32 = 0x144;
export const CSR_SATP: u32 = 0x180;
export const CSR_MSTATUS: u32 = 0x300;
export const CSR_MISA: u32 = 0x301;
export const CSR_MEDELEG: u32 = 0x302;
export const CSR_MIDELEG: u32 = 0x303;
export const CSR_MIE: u32 = 0x304;
export const CSR_MTVEC: u32 = 0x305;
export const CSR_MCOUNTEREN: u32 = 0x306;
export const CSR_MENVCFG: u32 = 0x30a;
export const CSR_MCOUNTINHIBIT: u32 = 0x320;
export const CSR_MSCRATCH: u32 = 0x340;
export const CSR_MEPC: u32 = 0x341;
export const CSR_MCAUSE: u32 = 0x342;
export const CSR_MTVAL: u32 = 0x343;
export const CSR_MIP: u32 = 0x344;
export const CSR_MCYCLE: u32 = 0xb00;
export const CSR_MINSTRET: u32 = 0xb02;
export const CSR_MVENDORID: u32 = 0xf11;
export const CSR_MARCHID: u32 = 0xf12;
export const CSR_MIMPID: u32 = 0xf13;
export const CSR_MHARTID: u32 = 0xf14;
export const CSR_MCONFIGPTR: u32 = 0xf15;

/** Does this CSR exist in this hart (independent of privilege)? */
function exists(csr: u32): bool {
  switch (csr) {
    case CSR_FFLAGS: case CSR_FRM: case CSR_FCSR:
    case CSR_SSTATUS: case CSR_SIE: case CSR_STVEC: case CSR_SCOUNTEREN: case CSR_SENVCFG:
    case CSR_SSCRATCH: case CSR_SEPC: case CSR_SCAUSE: case CSR_STVAL: case CSR_SIP: case CSR_SATP:
    case CSR_MSTATUS: case CSR_MISA: case CSR_MEDELEG: case CSR_MIDELEG: case CSR_MIE: case CSR_MTVEC:
    case CSR_MCOUNTEREN: case CSR_MENVCFG: case CSR_MCOUNTINHIBIT: case CSR_MSCRATCH: case CSR_MEPC:
    case CSR_MCAUSE: case CSR_MTVAL: case CSR_MIP:
    case CSR_MVENDORID: case CSR_MARCHID: case CSR_MIMPID: case CSR_MHARTID: case CSR_MCONFIGPTR:
    case 0x7a0: case 0x7a1: case 0x7a2: case 0x7a3: // tselect, tdata1..3
      return true;
  }
  if (csr >= 0xc00 && csr <= 0xc1f) return true; // cycle, time, instret, hpmcounter3..31
  if (csr >= 0xb00 && csr <= 0xb1f) return csr != 0xb01; // mcycle, minstret, mhpmcounter3..31
  if (csr >= 0x323 && csr <= 0x33f) return true; // mhpmevent3..31
  if (csr >= 0x3a0 && csr <= 0x3af) return (csr & 1) == 0; // pmpcfg0,2,..,14 (odd ones are RV32 only)
  if (csr >= 0x3b0 && csr <= 0x3ef) return true; // pmpaddr0..63
  return false;
}

/** Legality of a CSR access at the current privilege; `write` is true for any instruction that writes. */
export function csrAccessOk(csr: u32, write: bool): bool {
  if (!exists(csr)) return false;
  if (((csr >> 8) & 3) > priv) return false;
  if (write && (csr >> 10) == 3) return false;
  if (csr == CSR_SATP && priv == PRIV_S && (mstatus & MSTATUS_TVM) != 0) return false;
  if (csr <= CSR_FCSR && (mstatus & MSTATUS_FS) == 0) return false;
  if (csr >= 0xc00 && csr <= 0xc1f && priv < PRIV_M) {
    const bit = csr - 0xc00;
    if (((mcounteren >> bit) & 1) == 0) return false;
    if (priv == PRIV_U && ((scounteren >> bit) & 1) == 0) return false;
  }
  return true;
}

function counterValue(inhibitBit: u64, base: u64, frozen: u64): u64 {
  return (mcountinhibit & inhibitBit) != 0 ? frozen : retired() - 1 - base;
}

export function csrRead(csr: u32): u64 {
  switch (csr) {
    case CSR_FFLAGS: return fcsr & 0x1f;
    case CSR_FRM: return (fcsr >> 5) & 7;
    case CSR_FCSR: return fcsr & 0xff;
    case CSR_SSTATUS: return mstatusValue() & SSTATUS_RMASK;
    case CSR_SIE: return mie & mideleg & SIE_MASK;
    case CSR_STVEC: return stvec;
    case CSR_SCOUNTEREN: return scounteren;
    case CSR_SENVCFG: return senvcfg;
    case CSR_SSCRATCH: return sscratch;
    case CSR_SEPC: return sepc;
    case CSR_SCAUSE: return scause;
    case CSR_STVAL: return stval;
    case CSR_SIP: return mipValue() & mideleg & SIE_MASK;
    case CSR_SATP: return satp;
    case CSR_MSTATUS: return mstatusValue();
    case CSR_MISA: return MISA;
    case CSR_MEDELEG: return medeleg;
    case CSR_MIDELEG: return mideleg;
    case CSR_MIE: return mie;
    case CSR_MTVEC: return mtvec;
    case CSR_MCOUNTEREN: return mcounteren;
    case CSR_MENVCFG: return menvcfg;
    case CSR_MCOUNTINHIBIT: return mcountinhibit;
    case CSR_MSCRATCH: return mscratch;
    case CSR_MEPC: return mepc;
    case CSR_MCAUSE: return mcause;
    case CSR_MTVAL: return mtval;
    case CSR_MIP: return mipValue();
    case CSR_CYCLE: case CSR_MCYCLE: return counterValue(1, cycleBase, cycleFrozen);
    case CSR_INSTRET: case CSR_MINSTRET: return counterValue(4, instretBase, instretFrozen);
    case CSR_TIME: return mtimeNow();
  }
  if (csr >= 0x3a0 && csr <= 0x3af) return load<u64>(PMPCFG + ((csr - 0x3a0) >> 1 << 3));
  if (csr >= 0x3b0 && csr <= 0x3ef) return load<u64>(PMPADDR + ((csr - 0x3b0) << 3));
  // mvendorid/marchid/mimpid/mhartid/mconfigptr, hpm counters and events, trigger registers: zero.
  return 0;
}

export function mstatusValue(): u64 {
  return (mstatus & MSTATUS_FS) == MSTATUS_FS ? mstatus | MSTATUS_SD : mstatus;
}

function writeMstatus(v: u64, mask: u64): void {
  let n = (mstatus & ~mask) | (v & mask);
  // MPP is WARL over {U, S, M}: the reserved value 2 reads back as U.
  if ((n & MSTATUS_MPP) == (<u64>2 << 11)) n &= ~MSTATUS_MPP;
  const changed = n ^ mstatus;
  mstatus = n;
  if ((changed & (MSTATUS_SUM | MSTATUS_MXR)) != 0) tlbFlushData();
  if ((changed & (MSTATUS_MPRV | MSTATUS_MPP)) != 0) tlbSelect();
  requestCheck();
}

// @ts-ignore: decorator
@inline function tvecLegal(v: u64, old: u64): u64 {
  return (v & 3) < 2 ? v : old;
}

export function csrWrite(csr: u32, v: u64): void {
  switch (csr) {
    case CSR_FFLAGS: fcsr = (fcsr & ~<u64>0x1f) | (v & 0x1f); mstatus |= MSTATUS_FS; return;
    case CSR_FRM: fcsr = (fcsr & 0x1f) | ((v & 7) << 5); mstatus |= MSTATUS_FS; return;
    case CSR_FCSR: fcsr = v & 0xff; mstatus |= MSTATUS_FS; return;
    case CSR_SSTATUS: writeMstatus(v, SSTATUS_WMASK); return;
    case CSR_SIE: mie = (mie & ~(mideleg & SIE_MASK)) | (v & mideleg & SIE_MASK); requestCheck(); return;
    case CSR_STVEC: stvec = tvecLegal(v, stvec); return;
    case CSR_SCOUNTEREN: scounteren = v & 0xffffffff; return;
    case CSR_SENVCFG: senvcfg = v & 1; return;
    case CSR_SSCRATCH: sscratch = v; return;
    case CSR_SEPC: sepc = v & ~<u64>1; return;
    case CSR_SCAUSE: scause = v; return;
    case CSR_STVAL: stval = v; return;
    case CSR_SIP: {
      const m = mideleg & MIP_SSIP;
      mipSw = (mipSw & ~m) | (v & m);
      requestCheck();
      return;
    }
    case CSR_SATP: {
      const mode = v >> 60;
      if (mode != 0 && mode != 8 && mode != 9) return; // WARL: unsupported modes leave satp unchanged
      satp = mode == 0 ? 0 : (v & ((<u64>0xf << 60) | (<u64>0xffff << 44) | ((<u64>1 << 44) - 1)));
      tlbFlushTranslated();
      return;
    }
    case CSR_MSTATUS: writeMstatus(v, MSTATUS_WMASK); return;
    case CSR_MISA: return;
    case CSR_MEDELEG: medeleg = v & MEDELEG_MASK; return;
    case CSR_MIDELEG: mideleg = v & MIDELEG_MASK; requestCheck(); return;
    case CSR_MIE: mie = v & MIE_MASK; requestCheck(); return;
    case CSR_MTVEC: mtvec = tvecLegal(v, mtvec); return;
    case CSR_MCOUNTEREN: mcounteren = v & 0xffffffff; return;
    case CSR_MENVCFG: menvcfg = v & 1; return;
    case CSR_MCOUNTINHIBIT: {
      const n = v & 0xfffffffd;
      const cur = retired() - 1;
      if (((n ^ mcountinhibit) & 1) != 0) {
        if (n & 1) cycleFrozen = cur - cycleBase; else cycleBase = cur - cycleFrozen;
      }
      if (((n ^ mcountinhibit) & 4) != 0) {
        if (n & 4) instretFrozen = cur - instretBase; else instretBase = cur - instretFrozen;
      }
      mcountinhibit = n;
      return;
    }
    case CSR_MSCRATCH: mscratch = v; return;
    case CSR_MEPC: mepc = v & ~<u64>1; return;
    case CSR_MCAUSE: mcause = v; return;
    case CSR_MTVAL: mtval = v; return;
    case CSR_MIP: mipSw = (mipSw & ~MIP_WMASK) | (v & MIP_WMASK); requestCheck(); return;
    // A write takes effect for the next instruction: this one's own increment is suppressed.
    case CSR_MCYCLE:
      if (mcountinhibit & 1) cycleFrozen = v; else cycleBase = retired() - v;
      return;
    case CSR_MINSTRET:
      if (mcountinhibit & 4) instretFrozen = v; else instretBase = retired() - v;
      return;
  }
  if (csr >= 0x3a0 && csr <= 0x3af) { writePmpcfg((csr - 0x3a0) >> 1, v); return; }
  if (csr >= 0x3b0 && csr <= 0x3ef) { writePmpaddr(csr - 0x3b0, v); return; }
  // hpm counters/events and trigger registers: hardwired zero, writes ignored.
}

function pmpcfgByte(i: u32): u32 {
  return <u32>load<u8>(PMPCFG + i);
}

function writePmpcfg(reg: u32, v: u64): void {
  for (let b: u32 = 0; b < 8; b++) {
    const i = reg * 8 + b;
    if (pmpcfgByte(i) & 0x80) continue; // locked
    let c = <u32>(v >> (<u64>b << 3)) & 0x9f; // bits 6:5 are reserved zero
    if ((c & 3) == 2) c &= ~<u32>3; // W without R is reserved: drop both
    store<u8>(PMPCFG + i, <u8>c);
  }
}

function writePmpaddr(i: u32, v: u64): void {
  if (pmpcfgByte(i) & 0x80) return;
  // Locked TOR entry above this one also locks this address.
  if (i < 63 && (pmpcfgByte(i + 1) & 0x98) == 0x88) return;
  store<u64>(PMPADDR + (i << 3), v & ((<u64>1 << 54) - 1));
}

export { PRIV_U };
