// Hart state: pc, privilege, CSRs, CLINT and host-interface flags as wasm globals
// (fast to reach from the interpreter); integer and FP registers at fixed addresses.
// saveState()/loadState() copy the globals to/from named slots of the state block.
import { XREGS, FREGS, STATE, FIELDS } from './layout';

export const PRIV_U: u32 = 0;
export const PRIV_S: u32 = 1;
export const PRIV_M: u32 = 3;

// mstatus bits (priv spec 1.12, 3.1.6)
export const MSTATUS_SIE: u64 = 1 << 1;
export const MSTATUS_MIE: u64 = 1 << 3;
export const MSTATUS_SPIE: u64 = 1 << 5;
export const MSTATUS_UBE: u64 = 1 << 6;
export const MSTATUS_MPIE: u64 = 1 << 7;
export const MSTATUS_SPP: u64 = 1 << 8;
export const MSTATUS_VS: u64 = 3 << 9;
export const MSTATUS_MPP_SHIFT: u64 = 11;
export const MSTATUS_MPP: u64 = 3 << 11;
export const MSTATUS_FS_SHIFT: u64 = 13;
export const MSTATUS_FS: u64 = 3 << 13;
export const MSTATUS_XS: u64 = 3 << 15;
export const MSTATUS_MPRV: u64 = 1 << 17;
export const MSTATUS_SUM: u64 = 1 << 18;
export const MSTATUS_MXR: u64 = 1 << 19;
export const MSTATUS_TVM: u64 = 1 << 20;
export const MSTATUS_TW: u64 = 1 << 21;
export const MSTATUS_TSR: u64 = 1 << 22;
export const MSTATUS_UXL: u64 = <u64>3 << 32;
export const MSTATUS_SXL: u64 = <u64>3 << 34;
export const MSTATUS_SD: u64 = <u64>1 << 63;

// interrupt bits of mip/mie
export const IRQ_SSI: u32 = 1;
export const IRQ_MSI: u32 = 3;
export const IRQ_STI: u32 = 5;
export const IRQ_MTI: u32 = 7;
export const IRQ_SEI: u32 = 9;
export const IRQ_MEI: u32 = 11;
export const MIP_SSIP: u64 = 1 << 1;
export const MIP_MSIP: u64 = 1 << 3;
export const MIP_STIP: u64 = 1 << 5;
export const MIP_MTIP: u64 = 1 << 7;
export const MIP_SEIP: u64 = 1 << 9;
export const MIP_MEIP: u64 = 1 << 11;

// exception causes
export const CAUSE_FETCH_MISALIGNED: u32 = 0;
export const CAUSE_FETCH_ACCESS: u32 = 1;
export const CAUSE_ILLEGAL: u32 = 2;
export const CAUSE_BREAKPOINT: u32 = 3;
export const CAUSE_LOAD_MISALIGNED: u32 = 4;
export const CAUSE_LOAD_ACCESS: u32 = 5;
export const CAUSE_STORE_MISALIGNED: u32 = 6;
export const CAUSE_STORE_ACCESS: u32 = 7;
export const CAUSE_ECALL_U: u32 = 8;
export const CAUSE_ECALL_S: u32 = 9;
export const CAUSE_ECALL_M: u32 = 11;
export const CAUSE_FETCH_PAGE: u32 = 12;
export const CAUSE_LOAD_PAGE: u32 = 13;
export const CAUSE_STORE_PAGE: u32 = 15;

// stop reasons returned by run()
export const STOP_BUDGET: u32 = 0;
export const STOP_WFI: u32 = 1;
export const STOP_HOST: u32 = 2;
export const STOP_FATAL: u32 = 3;

// fatal codes (fatalCode())
/** run() was called before init(). */
export const FATAL_NO_INIT: u32 = 1;

// ---- hart ----
export let pc: u64 = 0x80000000;
export let priv: u32 = PRIV_M;
/**
 * Length in bytes of an instruction as the decoder sees it: a 32-bit instruction has bits 1:0 = 11,
 * a compressed one arrives expanded with bits 1:0 = 01 (the decoder never looks at those bits).
 */
// @ts-ignore: decorator
@inline export function ilenOf(insn: u32): u64 { return <u64>((insn & 2) + 2); }
/** Instructions started since reset, counting the one in flight (the budget and deterministic time count these). */
export let icount: u64 = 0;
/** Started instructions that trapped and so did not retire: instret = icount - untaken. */
export let untaken: u64 = 0;

/** Instructions retired, counting the one in flight. */
// @ts-ignore: decorator
@inline export function retired(): u64 { return icount - untaken; }
/** The interpreter loop runs while icount < stopAt; setting stopAt = icount ends the inner loop. */
export let stopAt: u64 = 0;

// ---- CSRs ----
export let mstatus: u64 = (<u64>2 << 32) | (<u64>2 << 34);
export let medeleg: u64 = 0;
export let mideleg: u64 = 0;
export let mie: u64 = 0;
/** Software-writable pending bits (SSIP, STIP, SEIP); MSIP/MTIP/MEIP and the SEIP line come from devices. */
export let mipSw: u64 = 0;
export let mtvec: u64 = 0;
export let mepc: u64 = 0;
export let mcause: u64 = 0;
export let mtval: u64 = 0;
export let mscratch: u64 = 0;
export let stvec: u64 = 0;
export let sepc: u64 = 0;
export let scause: u64 = 0;
export let stval: u64 = 0;
export let sscratch: u64 = 0;
export let satp: u64 = 0;
export let mcounteren: u64 = 0;
export let scounteren: u64 = 0;
export let menvcfg: u64 = 0;
export let senvcfg: u64 = 0;
export let mcountinhibit: u64 = 0;
/** fflags in bits 4:0, frm in bits 7:5. */
export let fcsr: u64 = 0;
/** mcycle = icount - cycleBase - 1 while counting; cycleFrozen while inhibited. */
export let cycleBase: u64 = 0;
export let instretBase: u64 = 0;
export let cycleFrozen: u64 = 0;
export let instretFrozen: u64 = 0;

// ---- LR/SC ----
export let resValid: bool = false;
export let resAddr: u64 = 0;

// ---- CLINT ----
export let msip: u32 = 0;
export let mtimecmp: u64 = 0xffffffffffffffff;
/** mtime = clock + mtimeOffset (clock: host ms * 10^4, or icount / insnsPerTick). */
export let mtimeOffset: i64 = 0;
export let timeDeterministic: bool = false;
export let insnsPerTick: u64 = 10;

// ---- external interrupt lines (driven by the host's PLIC) ----
export let meipLine: bool = false;
export let seipLine: bool = false;

// ---- run control ----
export let waiting: bool = false;
export let hostEvent: bool = false;
export let irqCheck: bool = false;
export let fatal: u32 = 0;
/** Set by a memory access that trapped; the instruction checks and clears it. */
export let memExc: bool = false;
/** Set by the host during an mmio import to make that access fault. */
export let mmioFaultFlag: bool = false;
export let tohostAddr: u64 = 0;
export let ramSize: u64 = 0;
/** Fetch page cache: virtual page of pc (low 12 bits zero, or all ones = invalid) and host addend. */
export let fetchPage: u64 = 0xffffffffffffffff;
export let fetchAdd: u64 = 0;

// ---- register access (x0 reads 0 and ignores writes) ----
// @ts-ignore: decorator
@inline export function rs1v(insn: u32): u64 { return load<u64>(XREGS + ((insn >> 12) & 0xf8)); }
// @ts-ignore: decorator
@inline export function rs2v(insn: u32): u64 { return load<u64>(XREGS + ((insn >> 17) & 0xf8)); }
// @ts-ignore: decorator
@inline export function setRd(insn: u32, v: u64): void {
  const o = (insn >> 4) & 0xf8;
  if (o != 0) store<u64>(XREGS + o, v);
}
// @ts-ignore: decorator
@inline export function getX(i: u32): u64 { return load<u64>(XREGS + (i << 3)); }
// @ts-ignore: decorator
@inline export function setX(i: u32, v: u64): void { if (i != 0) store<u64>(XREGS + (i << 3), v); }
// @ts-ignore: decorator
@inline export function getF(i: u32): u64 { return load<u64>(FREGS + (i << 3)); }
// @ts-ignore: decorator
@inline export function setF(i: u32, v: u64): void { store<u64>(FREGS + (i << 3), v); }

/** Ends the current interpreter chunk after this instruction so run() re-checks interrupts and stops. */
// @ts-ignore: decorator
@inline export function requestCheck(): void {
  irqCheck = true;
  stopAt = icount;
}

// ---- state block (docs/CORE-ABI.md, "State block") ----
export const STATE_MAGIC: u32 = 0x34365652; // "RV64"
export const STATE_VERSION: u32 = 1;

// Slot numbers of FIELDS (8 bytes each). Append only; never reorder (state files depend on it).
// state-check.ts validates each of them before loadFields() may run.
export const F_PC = 0, F_PRIV = 1, F_ICOUNT = 2, F_MSTATUS = 3, F_MEDELEG = 4, F_MIDELEG = 5, F_MIE = 6;
export const F_MIPSW = 7, F_MTVEC = 8, F_MEPC = 9, F_MCAUSE = 10, F_MTVAL = 11, F_MSCRATCH = 12;
export const F_STVEC = 13, F_SEPC = 14, F_SCAUSE = 15, F_STVAL = 16, F_SSCRATCH = 17, F_SATP = 18;
export const F_MCOUNTEREN = 19, F_SCOUNTEREN = 20, F_MENVCFG = 21, F_SENVCFG = 22, F_MCOUNTINHIBIT = 23;
export const F_FCSR = 24, F_CYCLEBASE = 25, F_INSTRETBASE = 26, F_CYCLEFROZEN = 27, F_INSTRETFROZEN = 28;
export const F_RESVALID = 29, F_RESADDR = 30, F_MSIP = 31, F_MTIMECMP = 32, F_MTIME = 33, F_TIMEDET = 34;
export const F_IPT = 35, F_MEIP = 36, F_SEIP = 37, F_WAITING = 38, F_TOHOST = 39, F_UNTAKEN = 40;
/** Number of slots in use. */
export const F_COUNT = 41;

// @ts-ignore: decorator
@inline function put(slot: u32, v: u64): void { store<u64>(FIELDS + (slot << 3), v); }
// @ts-ignore: decorator
@inline export function getField(slot: u32): u64 { return load<u64>(FIELDS + (slot << 3)); }
// @ts-ignore: decorator
@inline function get(slot: u32): u64 { return getField(slot); }

/** Writes the globals into the state block (mtime is stored as its current value). */
export function saveFields(mtimeNow: u64): void {
  store<u32>(STATE, STATE_MAGIC);
  store<u32>(STATE, STATE_VERSION, 4);
  put(F_PC, pc); put(F_PRIV, priv); put(F_ICOUNT, icount); put(F_MSTATUS, mstatus);
  put(F_MEDELEG, medeleg); put(F_MIDELEG, mideleg); put(F_MIE, mie); put(F_MIPSW, mipSw);
  put(F_MTVEC, mtvec); put(F_MEPC, mepc); put(F_MCAUSE, mcause); put(F_MTVAL, mtval);
  put(F_MSCRATCH, mscratch); put(F_STVEC, stvec); put(F_SEPC, sepc); put(F_SCAUSE, scause);
  put(F_STVAL, stval); put(F_SSCRATCH, sscratch); put(F_SATP, satp);
  put(F_MCOUNTEREN, mcounteren); put(F_SCOUNTEREN, scounteren); put(F_MENVCFG, menvcfg);
  put(F_SENVCFG, senvcfg); put(F_MCOUNTINHIBIT, mcountinhibit); put(F_FCSR, fcsr);
  put(F_CYCLEBASE, cycleBase); put(F_INSTRETBASE, instretBase); put(F_CYCLEFROZEN, cycleFrozen);
  put(F_INSTRETFROZEN, instretFrozen); put(F_RESVALID, resValid ? 1 : 0); put(F_RESADDR, resAddr);
  put(F_MSIP, msip); put(F_MTIMECMP, mtimecmp); put(F_MTIME, mtimeNow);
  put(F_TIMEDET, timeDeterministic ? 1 : 0); put(F_IPT, insnsPerTick);
  put(F_MEIP, meipLine ? 1 : 0); put(F_SEIP, seipLine ? 1 : 0); put(F_WAITING, waiting ? 1 : 0);
  put(F_TOHOST, tohostAddr); put(F_UNTAKEN, untaken);
}

/** Is the block at STATE one of ours (magic and version)? */
export function isOurBlock(): bool {
  return load<u32>(STATE) == STATE_MAGIC && load<u32>(STATE, 4) == STATE_VERSION;
}

/**
 * Reads the globals back from the state block, which state-check.ts checkStateBlock() has found
 * legal (the only caller, index.ts loadState, makes sure). Returns the saved mtime.
 */
export function loadFields(): i64 {
  pc = get(F_PC); priv = <u32>get(F_PRIV); icount = get(F_ICOUNT); mstatus = get(F_MSTATUS);
  medeleg = get(F_MEDELEG); mideleg = get(F_MIDELEG); mie = get(F_MIE); mipSw = get(F_MIPSW);
  mtvec = get(F_MTVEC); mepc = get(F_MEPC); mcause = get(F_MCAUSE); mtval = get(F_MTVAL);
  mscratch = get(F_MSCRATCH); stvec = get(F_STVEC); sepc = get(F_SEPC); scause = get(F_SCAUSE);
  stval = get(F_STVAL); sscratch = get(F_SSCRATCH); satp = get(F_SATP);
  mcounteren = get(F_MCOUNTEREN); scounteren = get(F_SCOUNTEREN); menvcfg = get(F_MENVCFG);
  senvcfg = get(F_SENVCFG); mcountinhibit = get(F_MCOUNTINHIBIT); fcsr = get(F_FCSR);
  cycleBase = get(F_CYCLEBASE); instretBase = get(F_INSTRETBASE); cycleFrozen = get(F_CYCLEFROZEN);
  instretFrozen = get(F_INSTRETFROZEN); resValid = get(F_RESVALID) != 0; resAddr = get(F_RESADDR);
  msip = <u32>get(F_MSIP); mtimecmp = get(F_MTIMECMP);
  timeDeterministic = get(F_TIMEDET) != 0; insnsPerTick = get(F_IPT);
  meipLine = get(F_MEIP) != 0; seipLine = get(F_SEIP) != 0; waiting = get(F_WAITING) != 0;
  tohostAddr = get(F_TOHOST); untaken = get(F_UNTAKEN);
  return <i64>get(F_MTIME);
}
