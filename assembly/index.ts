// RV64GC hart: the exports the host uses. The contract is docs/CORE-ABI.md.
import {
  RAM_HOST, RAM_PAD, RAM_BASE, STATE, STATE_SIZE, XREGS, FREGS, DIRTY, DIRTY_MAX_BYTES,
} from './layout';
import {
  pc, priv, icount, untaken, ramSize, tohostAddr, hostEvent, stopAt, meipLine, seipLine, mmioFaultFlag,
  timeDeterministic, insnsPerTick, mtimecmp, mstatus, waiting, fatal, irqCheck, requestCheck,
  saveFields, loadFields, isOurBlock, getX, setX, getF, setF, PRIV_M, STOP_FATAL, FATAL_NO_INIT,
  medeleg, mideleg, mie, mipSw, mtvec, mepc, mcause, mtval, mscratch, stvec, sepc, scause, stval,
  sscratch, satp, mcounteren, scounteren, menvcfg, senvcfg, mcountinhibit, fcsr, cycleBase,
  instretBase, cycleFrozen, instretFrozen, resValid, resAddr, msip, memExc,
} from './state';
import { checkStateBlock } from './state-check';
import { runInstructions, buildCompressedTable, chunks, memoInit } from './interp';
import { expandCompressed } from './generated/dispatch';
import { tlbFlushAll, tlbFlushStore, tlbSelect, tlbMisses, tlbFlushes, peekTranslate } from './mmu';
import { mtimeNow, setMtime, ticksToTimer } from './clint';
import { csrRead, csrWrite } from './csr';
import { exceptionsTaken, interruptsTaken } from './trap';
import {
  jitFlushAll, jitEnabled, jitThreshold, jitBatch, jitQueueLen, jitGeneration, JIT_QUEUE, JIT_STATUS,
  jitPageHot, jitPageWarmups,
  jitEntries, jitInsns, jitLookupMisses, jitCrowded, jitCodePageStores, jitVerifyPending, jitPageInvalidations, jitBlocksDropped, jitFlushes,
} from './jit/cache';
export { jitInstall, jitRefuse, jitInstalled, jitWatchNewPages, jitUnqueue, jitLoad, jitStore, jitDrop, jitHostWrite } from './jit/cache';
/** jit_<name>(insn, pc, icount): instructions compiled code calls instead of inlining (docs/JIT.md). */
export * from './generated/jitcalls';
import { jitCalls } from './jit/calls';

/** ABI version: bump when an export, import or the state block changes incompatibly. */
export function coreVersion(): u32 {
  return 2;
}

/**
 * Sets up a hart with `ramBytes` of RAM (a multiple of 4096) at guest physical 0x8000_0000.
 * Returns 0, or 1 if memory could not be grown, 2 if the size is invalid. Resets the hart.
 */
let initialized = false;

export function init(ramBytes: u32): u32 {
  if (ramBytes == 0 || (ramBytes & 0xfff) != 0 || (ramBytes >> 15) > DIRTY_MAX_BYTES) return 2;
  if (<usize>__heap_base > STATE) return 2;
  const need = <u64>RAM_HOST + <u64>ramBytes + RAM_PAD;
  const pages = <i32>((need + 0xffff) >> 16);
  const have = memory.size();
  if (pages > have && memory.grow(pages - have) < 0) return 1;
  // Fresh pages from memory.grow are zero; only a re-init has to clear what the last guest left.
  if (initialized) memory.fill(RAM_HOST, 0, ramBytes + RAM_PAD);
  else {
    buildCompressedTable();
    memoInit();
  }
  initialized = true;
  ramSize = <u64>ramBytes;
  reset();
  return 0;
}

/** Resets the hart (not RAM, not the time mode): M mode, pc = 0x8000_0000, registers and CSRs cleared. */
export function reset(): void {
  memory.fill(STATE, 0, STATE_SIZE); // registers, PMP
  memory.fill(DIRTY, 0, DIRTY_MAX_BYTES);
  pc = RAM_BASE;
  priv = PRIV_M;
  icount = 0;
  untaken = 0;
  mstatus = (<u64>2 << 32) | (<u64>2 << 34); // UXL = SXL = 64 bits
  medeleg = 0; mideleg = 0; mie = 0; mipSw = 0;
  mtvec = 0; mepc = 0; mcause = 0; mtval = 0; mscratch = 0;
  stvec = 0; sepc = 0; scause = 0; stval = 0; sscratch = 0; satp = 0;
  mcounteren = 0; scounteren = 0; menvcfg = 0; senvcfg = 0; mcountinhibit = 0; fcsr = 0;
  cycleBase = 0; instretBase = 0; cycleFrozen = 0; instretFrozen = 0;
  resValid = false; resAddr = 0;
  msip = 0;
  mtimecmp = 0xffffffffffffffff;
  meipLine = false; seipLine = false;
  waiting = false; hostEvent = false; fatal = 0; memExc = false; mmioFaultFlag = false;
  setMtime(0);
  tlbFlushAll();
  jitFlushAll();
}

/** Host offset of guest RAM (guest physical 0x8000_0000) in the wasm memory. */
export function ramOffset(): u32 { return RAM_HOST; }
export function ramBytes(): u32 { return <u32>ramSize; }

/** Runs up to `maxInstructions`; returns the stop reason (0 budget, 1 wfi, 2 host event, 3 fatal). */
export function run(maxInstructions: u32): u32 {
  if (!initialized) { fatal = FATAL_NO_INIT; return STOP_FATAL; }
  return runInstructions(maxInstructions);
}

export function getPc(): u64 { return pc; }
export function setPc(v: u64): void { pc = v; }
export function getPriv(): u32 { return priv; }
export function setPriv(p: u32): void { if (p == 0 || p == 1 || p == 3) { priv = p; tlbSelect(); } }
export function getReg(i: u32): u64 { return getX(i & 31); }
export function setReg(i: u32, v: u64): void { setX(i & 31, v); }
export function getFReg(i: u32): u64 { return getF(i & 31); }
export function setFReg(i: u32, v: u64): void { setF(i & 31, v); }
/** Address of x0..x31 (8 bytes each, little endian); f0..f31 follow at regsOffset() + 256. */
export function regsOffset(): u32 { return XREGS; }
export function fregsOffset(): u32 { return FREGS; }

/** Reads a CSR without privilege checks (debuggers, tests). Unknown CSRs read 0. */
export function readCsr(csr: u32): u64 { return csrRead(csr & 0xfff); }
/** Writes a CSR with its WARL rules but without privilege checks. */
export function writeCsr(csr: u32, v: u64): void { csrWrite(csr & 0xfff, v); }

/** Instructions retired since reset. */
export function instret(): u64 { return icount - untaken; }
/** Instructions started since reset, including ones that trapped (what run() budgets count). */
export function steps(): u64 { return icount; }

// ---- host interface: MMIO faults, stop requests, interrupt lines, tohost ----

/** Called by the host during mmioRead/mmioWrite: the access raises an access fault. */
export function mmioFault(): void { mmioFaultFlag = true; }
/** Called by the host (typically during mmioWrite): run() returns STOP_HOST after this instruction. */
export function requestStop(): void { hostEvent = true; stopAt = icount; }
/** Level of the machine external interrupt line (mip.MEIP), driven by the PLIC. */
export function setMeip(level: u32): void { meipLine = level != 0; requestCheck(); }
/** Level of the supervisor external interrupt line (ORed into mip.SEIP), driven by the PLIC. */
export function setSeip(level: u32): void { seipLine = level != 0; requestCheck(); }
/** Physical address of the HTIF tohost word (0 = none). A store reaching it stops run() with STOP_HOST. */
export function setTohost(addr: u64): void { tohostAddr = addr; tlbFlushAll(); }
export function isWaiting(): u32 { return waiting ? 1 : 0; }
export function fatalCode(): u32 { return fatal; }

// ---- time ----

/** mode 0: real time (host clock, 10 MHz); mode 1: deterministic, mtime = instret / insnsPerTick. */
export function setTimeMode(mode: u32, ticksDivisor: u32): void {
  const now = mtimeNow();
  timeDeterministic = mode == 1;
  insnsPerTick = ticksDivisor == 0 ? 1 : <u64>ticksDivisor;
  setMtime(now);
}
export function getMtime(): u64 { return mtimeNow(); }
export function setMtimeValue(v: u64): void { setMtime(v); requestCheck(); }
/** Moves mtime forward (a deterministic host skipping an idle period). */
export function advanceTime(ticks: u64): void { setMtime(mtimeNow() + ticks); requestCheck(); }
export function getMtimecmp(): u64 { return mtimecmp; }
/** Timer ticks (10 MHz) until mtime reaches mtimecmp: 0 if due, 2^64-1 if no timer is armed. */
export function ticksUntilTimer(): u64 { return ticksToTimer(); }

// ---- dirty pages ----

/** Bitmap of RAM pages written since the last clearDirty(): bit (p & 7) of byte (p >> 3), p = page index from 0x8000_0000. */
export function dirtyOffset(): u32 { return DIRTY; }
export function dirtyBytes(): u32 { return <u32>((ramSize >> 12) + 7) >> 3; }
/** Clears the bitmap and drops the store TLB, so the next store to each page marks it again. */
export function clearDirty(): void {
  memory.fill(DIRTY, 0, dirtyBytes());
  tlbFlushStore();
}

/**
 * RAM offset of the first 4 KiB page in [from, to) (page-aligned offsets from RAM start, inside
 * RAM) that holds a non-zero byte; `to` when every page there is zero. Free page reporting asks
 * this of whole MiB of RAM at a time: scanning here is many times faster than from JS.
 */
export function nextNonZeroPage(from: u32, to: u32): u32 {
  const limit = min<u32>(to, <u32>ramSize);
  for (let page = from & ~0xfff; page < limit; page += 4096) {
    const p = RAM_HOST + page;
    for (let i: u32 = 0; i < 4096; i += 64) {
      const q = p + i;
      const acc = load<u64>(q) | load<u64>(q, 8) | load<u64>(q, 16) | load<u64>(q, 24) |
        load<u64>(q, 32) | load<u64>(q, 40) | load<u64>(q, 48) | load<u64>(q, 56);
      if (acc != 0) return page;
    }
  }
  return to;
}

// ---- state ----

export function stateOffset(): u32 { return STATE; }
export function stateSize(): u32 { return STATE_SIZE; }
/** Fills the state block at stateOffset() from the live hart; the host then copies stateSize() bytes. */
export function saveState(): u32 {
  saveFields(mtimeNow());
  return STATE;
}
/**
 * Checks the block at stateOffset() without loading it: 0 if legal, 1 for a foreign magic or
 * version, 0x100 + n for an illegal field (n: its slot, or 100 x0, 101 pmpcfg, 102 pmpaddr).
 */
export function stateCheck(): u32 {
  if (!isOurBlock()) return 1;
  const bad = checkStateBlock();
  return bad < 0 ? 0 : 0x100 + <u32>bad;
}

/**
 * After the host copied a saved block to stateOffset(): makes it live if stateCheck() finds it
 * legal, and returns stateCheck()'s code (the hart is unchanged unless it is 0).
 */
export function loadState(): u32 {
  const rc = stateCheck();
  if (rc != 0) return rc;
  const t = loadFields();
  setMtime(<u64>t);
  tlbFlushAll();
  jitFlushAll();
  hostEvent = false;
  fatal = 0;
  irqCheck = true;
  return 0;
}

// ---- counters ----
export function statTlbMisses(): u64 { return tlbMisses; }
export function statTlbFlushes(): u64 { return tlbFlushes; }
export function statExceptions(): u64 { return exceptionsTaken; }
export function statInterrupts(): u64 { return interruptsTaken; }
export function statChunks(): u64 { return chunks; }



/** The generated expansion of a 16-bit instruction (0 = illegal), for tests against the ISA table. */
export function expand16(h: u32): u32 { return expandCompressed(h & 0xffff); }


/** Guest-physical address of a virtual address as instruction fetch would see it, without side effects (debuggers); 2^64-1 if unmapped. */
export function debugTranslate(va: u64): u64 { return peekTranslate(va); }

// ---- JIT (docs/JIT.md): the host compiles hot blocks into wasm functions in the exported table ----

/** on: 1 enables block lookups and hotness counting; threshold: visits before a block is queued; batch: queue length that makes run() return 4 (compile now). */
export function jitSetup(on: u32, threshold: u32, batch: u32): void {
  jitEnabled = on != 0;
  jitThreshold = threshold < 1 ? 1 : <i32>threshold;
  jitPageHot = <u32>jitThreshold - 1;
  jitBatch = batch < 1 ? 1 : batch > 1024 ? 1024 : batch;
  jitFlushAll();
}
export function jitQueueOffset(): u32 { return JIT_QUEUE; }
export function jitQueueLength(): u32 { return jitQueueLen; }
/** Scratch words of compiled blocks: status u32 at +0, trap pc u64 at +8, icount u64 at +16. */
export function jitScratchOffset(): u32 { return JIT_STATUS; }
/** Bumped by each full flush (fence.i, reset, loadState): every installed block is gone. */
export function jitGenerationNow(): u32 { return jitGeneration; }
export function jitFlush(): void { jitFlushAll(); }
export function statJitEntries(): u64 { return jitEntries; }
export function statJitInsns(): u64 { return jitInsns; }
export function statJitLookupMisses(): u64 { return jitLookupMisses; }
export function statJitCrowded(): u64 { return jitCrowded; }
export function statJitPageInvalidations(): u64 { return jitPageInvalidations; }
export function statJitBlocksDropped(): u64 { return jitBlocksDropped; }
export function statJitFlushes(): u64 { return jitFlushes; }
export function statJitCodePageStores(): u64 { return jitCodePageStores; }
export function statJitCalls(): u64 { return jitCalls; }
export function statJitPageWarmups(): u64 { return jitPageWarmups; }
/** 1 after fence.i until the host called jitInstalled(): compare blocks with their code, jitDrop the changed ones. */
export function jitVerifyNeeded(): u32 { return jitVerifyPending ? 1 : 0; }
