// The interpreter loop and run(): fetch through the fetch-page cache, expand compressed
// instructions, dispatch through the generated decoder. Interrupts, the timer and stop
// requests are looked at between chunks, never per instruction.
import {
  ilenOf, pc, icount, stopAt, waiting, hostEvent, irqCheck, fatal, fetchPage, fetchAdd,
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
import { tlbLoad, tlbStore } from './mmu';
import {
  jitEnabled, jitWant, jitEntry, jitCount, jitPageCold, jitEntries, jitInsns, ST_COMPILED, JIT_ICOUNT,
} from './jit/cache';

/** run() stopped so the host can compile the queued hot blocks (only with the JIT on; Rv64Core handles it). */
export const STOP_JIT: u32 = 4;

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
 * The interpreter loop with the JIT on: at every block start (the target of a jump, branch or
 * trap, or the instruction after a compiled block) it looks the guest-physical address up;
 * a compiled block runs if it fits the chunk's budget, otherwise the visit is counted.
 */
function interpJit(): void {
  let p = pc;
  let chk = true;
  let after = false;
  while (icount < stopAt) {
    icount++;
    pc = p;
    let insn: u32;
    if ((p & ~<u64>0xfff) != fetchPage) {
      if (!fetchRefill(p)) { p = pc; chk = true; continue; }
    }
    if (chk && !jitPageCold(<u32>(p + fetchAdd))) {
      const host = <u32>(p + fetchAdd);
      const e = jitEntry(host);
      if (load<u32>(e) == host && load<i32>(e, 4) == ST_COMPILED) {
        const ic0 = icount - 1;
        if (ic0 + <u64>load<u32>(e, 12) <= stopAt) {
          jitEntries++;
          p = call_indirect<u64>(load<u32>(e, 8), p, ic0, stopAt, tlbLoad, tlbStore);
          icount = load<u64>(JIT_ICOUNT);
          jitInsns += icount - ic0;
          after = true;
          continue;
        }
      } else if (jitCount(e, host)) {
        // The queue is full: stop before this instruction; the host compiles, run() resumes here.
        icount--;
        break;
      }
    }
    insn = load<u32>(<usize>(p + fetchAdd));
    if ((insn & 3) != 3) {
      insn = load<u32>(CTABLE + ((insn & 0xffff) << 2));
    } else if ((<u32>p & 0xfff) == 0xffe) {
      const hi = fetchHigh(p);
      if (fetchFault) { fetchFault = false; p = pc; chk = true; continue; }
      insn = (insn & 0xffff) | (hi << 16);
    }
    const np = execute(insn, p);
    // A block that ended before an instruction it cannot compile: the one after is a block start too.
    chk = after || np != p + ilenOf(insn);
    after = false;
    p = np;
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
    if (jitEnabled) interpJit(); else interp();
    if (fatal != 0) return STOP_FATAL;
    if (hostEvent) return STOP_HOST;
    if (jitWant) { jitWant = false; return STOP_JIT; }
  }
  return STOP_BUDGET;
}
