// The interpreter loop and run(): fetch through the fetch-page cache, expand compressed
// instructions, dispatch through the generated decoder. Interrupts, the timer and stop
// requests are looked at between chunks, never per instruction.
import {
  ilenOf, pc, icount, stopAt, waiting, hostEvent, irqCheck, fatal, fetchPage, fetchAdd,
  timeDeterministic, insnsPerTick, mtimecmp,
  STOP_BUDGET, STOP_WFI, STOP_HOST, STOP_FATAL,
} from './state';
import { executeFast, executeSlow, expandCompressed } from './generated/dispatch';
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
  jitEnabled, jitWant, jitEntry, jitCount, jitEntries, jitInsns, ST_COMPILED, JIT_ICOUNT,
} from './jit/cache';

/** run() stopped so the host can compile the queued hot blocks (only with the JIT on; Rv64Core handles it). */
export const STOP_JIT: u32 = 4;

/** Interpreter entries (a developer counter: each costs an interrupt check). */
export let chunks: u64 = 0;

/** Longest stretch between two interrupt/timer checks in real-time mode. */
const CHUNK: u64 = 1 << 16;

function interp(): void {
  // Everything the loop needs per instruction lives in locals: pc, icount, the chunk end, the
  // fetch page and the TLBs. Only ops that may read or change those globals (traps, CSRs,
  // system, A, F/D, TLB misses: executeFast returns SLOW) see them written back and reloaded.
  let p = pc;
  let ic = icount;
  let end = stopAt;
  let page = fetchPage;
  let add = fetchAdd;
  let tl = tlbLoad;
  let ts = tlbStore;
  while (ic < end) {
    ic++;
    if ((p & ~<u64>0xfff) != page) {
      pc = p;
      icount = ic;
      const ok = fetchRefill(p);
      page = fetchPage;
      add = fetchAdd;
      if (!ok) { p = pc; end = stopAt; tl = tlbLoad; ts = tlbStore; continue; }
    }
    let insn = load<u32>(<usize>(p + add));
    if ((insn & 3) != 3) {
      insn = load<u32>(CTABLE + ((insn & 0xffff) << 2));
    } else if ((<u32>p & 0xfff) == 0xffe) {
      // A 32-bit instruction straddling two pages: the upper half comes from the next page.
      pc = p;
      icount = ic;
      const hi = fetchHigh(p);
      if (fetchFault) {
        fetchFault = false;
        p = pc; end = stopAt; page = fetchPage; add = fetchAdd; tl = tlbLoad; ts = tlbStore;
        continue;
      }
      insn = (insn & 0xffff) | (hi << 16);
    }
    let np = executeFast(insn, p, tl, ts);
    if (np & 1) {
      pc = p;
      icount = ic;
      np = executeSlow(insn, p);
      ic = icount; end = stopAt; page = fetchPage; add = fetchAdd; tl = tlbLoad; ts = tlbStore;
    }
    p = np;
  }
  pc = p;
  icount = ic;
}

/**
 * The interpreter loop with the JIT on: at every block start (the target of a jump, branch or
 * trap, or the instruction after a compiled block) it looks the guest-physical address up;
 * a compiled block runs if it fits the chunk's budget, otherwise the visit is counted.
 */
function interpJit(): void {
  // The same locals as interp(); a compiled block may change any global, so all are reloaded after one.
  let p = pc;
  let ic = icount;
  let end = stopAt;
  let page = fetchPage;
  let add = fetchAdd;
  let tl = tlbLoad;
  let ts = tlbStore;
  let chk = true;
  let after = false;
  while (ic < end) {
    ic++;
    if ((p & ~<u64>0xfff) != page) {
      pc = p;
      icount = ic;
      const ok = fetchRefill(p);
      page = fetchPage;
      add = fetchAdd;
      if (!ok) { p = pc; end = stopAt; tl = tlbLoad; ts = tlbStore; chk = true; continue; }
    }
    if (chk) {
      const host = <u32>(p + add);
      const e = jitEntry(host);
      if (load<u32>(e) == host && load<i32>(e, 4) == ST_COMPILED) {
        const ic0 = ic - 1;
        if (ic0 + <u64>load<u32>(e, 12) <= end) {
          jitEntries++;
          p = call_indirect<u64>(load<u32>(e, 8), p, ic0, end, tl, ts);
          ic = load<u64>(JIT_ICOUNT);
          jitInsns += ic - ic0;
          icount = ic;
          end = stopAt; page = fetchPage; add = fetchAdd; tl = tlbLoad; ts = tlbStore;
          after = true;
          continue;
        }
      } else if (jitCount(e, host)) {
        // The queue is full: stop before this instruction; the host compiles, run() resumes here.
        ic--;
        break;
      }
    }
    let insn = load<u32>(<usize>(p + add));
    if ((insn & 3) != 3) {
      insn = load<u32>(CTABLE + ((insn & 0xffff) << 2));
    } else if ((<u32>p & 0xfff) == 0xffe) {
      pc = p;
      icount = ic;
      const hi = fetchHigh(p);
      if (fetchFault) {
        fetchFault = false;
        p = pc; end = stopAt; page = fetchPage; add = fetchAdd; tl = tlbLoad; ts = tlbStore; chk = true;
        continue;
      }
      insn = (insn & 0xffff) | (hi << 16);
    }
    let np = executeFast(insn, p, tl, ts);
    if (np & 1) {
      pc = p;
      icount = ic;
      np = executeSlow(insn, p);
      ic = icount; end = stopAt; page = fetchPage; add = fetchAdd; tl = tlbLoad; ts = tlbStore;
    }
    // A block that ended before an instruction it cannot compile: the one after is a block start too.
    chk = after || np != p + ilenOf(insn);
    after = false;
    p = np;
  }
  pc = p;
  icount = ic;
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
