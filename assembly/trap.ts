// Exceptions and interrupts (priv spec 1.12, 3.1.6.1, 3.1.9, 3.1.15, 4.1.1): delegation through
// medeleg/mideleg, direct and vectored tvec, xRET.
import {
  pc, priv, untaken, mstatus, medeleg, mideleg, mie, mipSw, mtvec, mepc, mcause, mtval, stvec, sepc,
  scause, stval, msip, meipLine, seipLine, waiting, fetchPage, fetchAdd, requestCheck,
  PRIV_M, PRIV_S, MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE, MSTATUS_SPP, MSTATUS_MPP,
  MSTATUS_MPP_SHIFT, MSTATUS_MPRV, MIP_MSIP, MIP_MTIP, MIP_MEIP, MIP_SEIP, CAUSE_ILLEGAL,
} from './state';
import { tlbSelect } from './mmu';
import { mtipLevel } from './clint';

/** Counters a developer can print. */
export let exceptionsTaken: u64 = 0;
export let interruptsTaken: u64 = 0;

/** Raises a synchronous exception for the instruction at pc, which does not retire. */
export function raiseException(cause: u32, tval: u64): void {
  untaken++;
  exceptionsTaken++;
  trapTo(<u64>cause, tval, false);
}

/** Illegal instruction; tval holds the instruction bits (16 bits for a compressed one). */
export function illegalInstruction(insn: u32): void {
  let tval = <u64>insn;
  if ((insn & 2) == 0) {
    // Expanded from 16 bits: report the original halfword, still in the fetch page.
    tval = (pc & ~<u64>0xfff) == fetchPage ? <u64>load<u16>(<usize>(pc + fetchAdd)) : 0;
  }
  raiseException(CAUSE_ILLEGAL, tval);
}

function trapTo(cause: u64, tval: u64, interrupt: bool): void {
  const from = priv;
  const deleg = interrupt ? mideleg : medeleg;
  let s = mstatus;
  if (from <= PRIV_S && ((deleg >> cause) & 1) != 0) {
    scause = interrupt ? cause | (<u64>1 << 63) : cause;
    sepc = pc;
    stval = tval;
    s = (s & ~(MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SIE)) |
      ((s & MSTATUS_SIE) != 0 ? MSTATUS_SPIE : 0) | (from == PRIV_S ? MSTATUS_SPP : 0);
    priv = PRIV_S;
    pc = (stvec & ~<u64>3) + ((stvec & 1) != 0 && interrupt ? cause << 2 : 0);
  } else {
    mcause = interrupt ? cause | (<u64>1 << 63) : cause;
    mepc = pc;
    mtval = tval;
    s = (s & ~(MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MIE)) |
      ((s & MSTATUS_MIE) != 0 ? MSTATUS_MPIE : 0) | (<u64>from << MSTATUS_MPP_SHIFT);
    priv = PRIV_M;
    pc = (mtvec & ~<u64>3) + ((mtvec & 1) != 0 && interrupt ? cause << 2 : 0);
  }
  const reselect = from != priv || (mstatus & MSTATUS_MPRV) != 0;
  mstatus = s;
  if (reselect) tlbSelect();
  waiting = false;
  requestCheck();
}

/** mip as software sees it: writable bits plus the device lines. */
export function mipValue(): u64 {
  let v = mipSw;
  if (msip != 0) v |= MIP_MSIP;
  if (mtipLevel()) v |= MIP_MTIP;
  if (meipLine) v |= MIP_MEIP;
  if (seipLine) v |= MIP_SEIP;
  return v;
}

// Priority order of 3.1.9: MEI, MSI, MTI, SEI, SSI, STI.
function highest(p: u64): u64 {
  if (p & (1 << 11)) return 11;
  if (p & (1 << 3)) return 3;
  if (p & (1 << 7)) return 7;
  if (p & (1 << 9)) return 9;
  if (p & (1 << 1)) return 1;
  return 5;
}

/** Takes the highest-priority enabled pending interrupt, if any. Returns true if one was taken. */
export function checkInterrupts(): bool {
  const pend = mipValue() & mie;
  if (pend == 0) return false;
  const m = pend & ~mideleg;
  if (m != 0 && (priv < PRIV_M || (mstatus & MSTATUS_MIE) != 0)) {
    interruptsTaken++;
    trapTo(highest(m), 0, true);
    return true;
  }
  const s = pend & mideleg;
  if (s != 0 && (priv < PRIV_S || (priv == PRIV_S && (mstatus & MSTATUS_SIE) != 0))) {
    interruptsTaken++;
    trapTo(highest(s), 0, true);
    return true;
  }
  return false;
}

/** True if some interrupt is pending and locally enabled (wakes wfi regardless of global enables). */
export function wakeupPending(): bool {
  return (mipValue() & mie) != 0;
}
