// Zicsr, Zifencei, fences and the privileged instructions (ecall, ebreak, xRET, wfi, sfence.vma).
import {
  ilenOf, pc, priv, mstatus, mepc, sepc, waiting, rs1v, setRd, requestCheck,
  PRIV_M, PRIV_S, PRIV_U, MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP, MSTATUS_MPP_SHIFT, MSTATUS_MPRV,
  MSTATUS_SIE, MSTATUS_SPIE, MSTATUS_SPP, MSTATUS_TSR, MSTATUS_TW, MSTATUS_TVM,
  CAUSE_ECALL_U, CAUSE_ECALL_S, CAUSE_ECALL_M, CAUSE_BREAKPOINT, MIP_SEIP, mipSw,
} from '../state';
import { raiseException, illegalInstruction, wakeupPending } from '../trap';
import { csrAccessOk, csrRead, csrWrite } from '../csr';
import { tlbSelect, tlbFlushTranslated, tlbFlushPage } from '../mmu';
import { jitEnabled, jitFenceI } from '../jit/cache';

/** csrrw/csrrs/csrrc (kind 0/1/2), register or immediate source. */
function csrInstr(insn: u32, kind: u32, imm: bool): void {
  const csr = insn >> 20;
  const field = (insn >> 15) & 31;
  const src: u64 = imm ? <u64>field : rs1v(insn);
  const write = kind == 0 || field != 0;
  if (!csrAccessOk(csr, write)) { illegalInstruction(insn); return; }
  let old: u64 = 0;
  if (kind != 0 || ((insn >> 7) & 31) != 0) old = csrRead(csr);
  if (write) {
    // priv 1.12 §3.1.9: csrrs/csrrc on mip modify the software SEIP bit, not the PLIC line ORed into reads.
    const base = csr == 0x344 ? (old & ~MIP_SEIP) | (mipSw & MIP_SEIP) : old;
    csrWrite(csr, kind == 0 ? src : kind == 1 ? base | src : base & ~src);
  }
  setRd(insn, old);
  pc += ilenOf(insn);
}

export function op_csrrw(insn: u32): void { csrInstr(insn, 0, false); }
export function op_csrrs(insn: u32): void { csrInstr(insn, 1, false); }
export function op_csrrc(insn: u32): void { csrInstr(insn, 2, false); }
export function op_csrrwi(insn: u32): void { csrInstr(insn, 0, true); }
export function op_csrrsi(insn: u32): void { csrInstr(insn, 1, true); }
export function op_csrrci(insn: u32): void { csrInstr(insn, 2, true); }

// @ts-ignore: decorator
@inline export function op_fence(insn: u32, p: u64): u64 { return p + ilenOf(insn); }
// The interpreter sees stores at the next fetch anyway; with the JIT on, fence.i has the host
// check compiled blocks against their code (docs/JIT.md).
// @ts-ignore: decorator
@inline export function op_fence_i(insn: u32, p: u64): u64 { if (jitEnabled) jitFenceI(); return p + ilenOf(insn); }

export function op_ecall(insn: u32): void {
  raiseException(priv == PRIV_U ? CAUSE_ECALL_U : priv == PRIV_S ? CAUSE_ECALL_S : CAUSE_ECALL_M, 0);
}

export function op_ebreak(insn: u32): void {
  raiseException(CAUSE_BREAKPOINT, pc);
}

export function op_mret(insn: u32): void {
  if (priv < PRIV_M) { illegalInstruction(insn); return; }
  const mpp = <u32>((mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
  let s = mstatus & ~(MSTATUS_MIE | MSTATUS_MPP);
  if (s & MSTATUS_MPIE) s |= MSTATUS_MIE;
  s |= MSTATUS_MPIE;
  if (mpp != PRIV_M) s &= ~MSTATUS_MPRV;
  mstatus = s;
  priv = mpp;
  pc = mepc;
  tlbSelect();
  requestCheck();
}

export function op_sret(insn: u32): void {
  if (priv == PRIV_U || (priv == PRIV_S && (mstatus & MSTATUS_TSR) != 0)) { illegalInstruction(insn); return; }
  const spp: u32 = (mstatus & MSTATUS_SPP) != 0 ? PRIV_S : PRIV_U;
  let s = mstatus & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV);
  if (s & MSTATUS_SPIE) s |= MSTATUS_SIE;
  s |= MSTATUS_SPIE;
  mstatus = s;
  priv = spp;
  pc = sepc;
  tlbSelect();
  requestCheck();
}

export function op_wfi(insn: u32): void {
  // 1.12, 3.1.6.5: with TW=1 wfi below M is illegal; in U (S implemented) it is always illegal here.
  if (priv == PRIV_U || (priv == PRIV_S && (mstatus & MSTATUS_TW) != 0)) { illegalInstruction(insn); return; }
  pc += ilenOf(insn);
  if (!wakeupPending()) waiting = true;
  requestCheck();
}

export function op_sfence_vma(insn: u32): void {
  if (priv == PRIV_U || (priv == PRIV_S && (mstatus & MSTATUS_TVM) != 0)) { illegalInstruction(insn); return; }
  if (((insn >> 15) & 31) == 0) tlbFlushTranslated(); else tlbFlushPage(rs1v(insn));
  pc += ilenOf(insn);
}

export function op_illegal(insn: u32): void {
  illegalInstruction(insn);
}
