// The interpreter loop and run(): fetch through the fetch-page cache, expand compressed
// instructions, dispatch through the generated decoder. Interrupts, the timer and stop
// requests are looked at between chunks, never per instruction.
import {
  pc, icount, stopAt, waiting, hostEvent, irqCheck, fatal, fetchPage, fetchAdd,
  timeDeterministic, insnsPerTick, mtimecmp,
  STOP_BUDGET, STOP_WFI, STOP_HOST, STOP_FATAL,
} from './state';
import { execute, expandCompressed } from './generated/dispatch';
import { CTABLE, C_ILLEGAL } from './layout';

/** Fills the table of expanded compressed instructions (pure function of the 16 bits). */
export function buildCompressedTable(): void {
  for (let h: u32 = 0; h < 0x10000; h++) {
    let e = (h & 3) == 3 ? 0 : expandCompressed(h);
    store<u32>(CTABLE + (h << 2), e == 0 ? C_ILLEGAL : (e & ~<u32>2));
  }
}
import { fetchRefill, fetchHigh, fetchFault } from './mmu';
import { checkInterrupts, wakeupPending } from './trap';
import { mtimeNow } from './clint';

/** Interpreter entries (a developer counter: each costs an interrupt check). */
export let chunks: u64 = 0;

/** Longest stretch between two interrupt/timer checks in real-time mode. */
const CHUNK: u64 = 1 << 16;

function interp(): void {
  // pc lives in a local here; the global is refreshed before each instruction for the code
  // that reads it (traps, CSR and system instructions, the host during MMIO).
  let p = pc;
  while (icount < stopAt) {
    icount++;
    pc = p;
    let insn: u32;
    if ((p & ~<u64>0xfff) == fetchPage) {
      insn = load<u32>(<usize>(p + fetchAdd));
    } else {
      if (!fetchRefill(p)) { p = pc; continue; }
      insn = load<u32>(<usize>(p + fetchAdd));
    }
    if ((insn & 3) != 3) {
      insn = load<u32>(CTABLE + ((insn & 0xffff) << 2));
    } else if ((<u32>p & 0xfff) == 0xffe) {
      // A 32-bit instruction straddling two pages: the upper half comes from the next page.
      const hi = fetchHigh(p);
      if (fetchFault) { fetchFault = false; p = pc; continue; }
      insn = (insn & 0xffff) | (hi << 16);
    }
    p = execute(insn, p);
  }
  pc = p;
}

/**
 * Runs up to `budget` instructions. Returns why it stopped: STOP_BUDGET, STOP_WFI (the hart
 * waits for an interrupt: the host sleeps ticksToTimer() or until it raises a line),
 * STOP_HOST (tohost store or the host called requestStop), STOP_FATAL.
 */
export function runInstructions(budget: u32): u32 {
  const end = icount + <u64>budget;
  hostEvent = false;
  while (true) {
    irqCheck = false;
    if (checkInterrupts()) waiting = false;
    if (waiting) {
      if (!wakeupPending()) return STOP_WFI;
      waiting = false;
    }
    if (icount >= end) return STOP_BUDGET;
    let chunk = end - icount;
    if (chunk > CHUNK) chunk = CHUNK;
    if (timeDeterministic && mtimecmp != 0xffffffffffffffff) {
      // Stop exactly at the instruction where mtime reaches mtimecmp, so runs are reproducible.
      const now = mtimeNow();
      if (mtimecmp > now && mtimecmp - now < 0xffffffffffffffff / insnsPerTick) {
        const ticks = mtimecmp - now;
        const toTick = insnsPerTick - icount % insnsPerTick;
        const n = (ticks - 1) * insnsPerTick + toTick;
        if (n < chunk) chunk = n;
      }
    }
    stopAt = icount + chunk;
    chunks++;
    interp();
    if (fatal != 0) return STOP_FATAL;
    if (hostEvent) return STOP_HOST;
  }
  return STOP_BUDGET;
}
