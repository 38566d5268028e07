// The interpreter loop and run(): fetch through the fetch-page cache, expand compressed
// instructions, dispatch through the generated decoder. Interrupts, the timer and stop
// requests are looked at between chunks, never per instruction.
import {
  ilenOf, pc, icount, stopAt, waiting, hostEvent, irqCheck, fatal, fetchPage, fetchAdd,
  timeDeterministic, insnsPerTick, mtimecmp,
  STOP_BUDGET, STOP_WFI, STOP_HOST, STOP_FATAL,
} from './state';
import { expandCompressed, decodeId, executeId } from './generated/dispatch';
import { CTABLE, C_ILLEGAL, MEMO, MEMO_ENTRIES, MEMO_BYTES } from './layout';

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
import { tlbLoad, tlbStore, tlbFetch } from './mmu';
import {
  jitEnabled, jitWant, jitSlot, jitCount, jitPageEnter, JIT_HEAT_CHUNK, jitThreshold, jitLookupMisses, jitEntries, jitInsns, ST_COMPILED, JIT_ICOUNT,
} from './jit/cache';

/** run() stopped so the host can compile the queued hot blocks (only with the JIT on; Rv64Core handles it). */
export const STOP_JIT: u32 = 4;

/** Interpreter entries (a developer counter: each costs an interrupt check). */
export let chunks: u64 = 0;

/** Longest stretch between two interrupt/timer checks in real-time mode. */
const CHUNK: u64 = 1 << 16;

/**
 * The decode memo at MEMO: a direct-mapped table, indexed by the host address of the
 * instruction (halfword granular, so 32 KiB of code map to distinct entries), of 16-byte
 * entries {u32 word as fetched, u32 instruction (a compressed one expanded), u32 id}.
 * Decoding is a pure function of the fetched bits, so an entry whose word equals the word just
 * fetched is right whatever wrote the code since: nothing ever invalidates it, and guest
 * state (snapshots) does not include it.
 *
 * The last halfword of a page is never stored: a 32-bit instruction there takes its upper half
 * from the next virtual page, not from the word fetched. Entries for that offset are only used
 * by that offset (32 KiB is a multiple of the page size), so they keep memoInit's word 0, whose
 * decode (a compressed, illegal instruction) holds at any offset: the hit path needs no check.
 */
export function memoInit(): void {
  const insn0 = load<u32>(CTABLE); // word 0 is compressed (0x0000: illegal)
  const id0 = decodeId(insn0);
  for (let i: u32 = 0; i < MEMO_ENTRIES; i++) {
    const e = MEMO + (i << 4);
    store<u32>(e, 0);
    store<u32>(e, insn0, 4);
    store<u32>(e, id0, 8);
  }
}

function interp(): void {
  // pc lives in a local here; the global is set only for the code that reads it (a fetch
  // fault here, traps, CSR and system instructions, the host during MMIO: see executeId).
  let p = pc;
  while (icount < stopAt) {
    icount++;
    if ((p & ~<u64>0xfff) != fetchPage) {
      pc = p;
      if (!fetchRefill(p)) { p = pc; continue; }
      // JIT on: a hot page is run by interpJit (looked up, counted, compiled).
      if (jitEnabled && jitPageEnter(<u32>(p + fetchAdd), 1)) { icount--; modeSwitch = true; break; }
    }
    const h = <u32>(p + fetchAdd);
    const w = load<u32>(<usize>h);
    const e = MEMO + ((h << 3) & (MEMO_BYTES - 1));
    let insn: u32;
    let id: u32;
    if (load<u32>(e) == w) {
      insn = load<u32>(e, 4);
      id = load<u32>(e, 8);
    } else {
      insn = w;
      if ((insn & 3) != 3) {
        insn = load<u32>(CTABLE + ((insn & 0xffff) << 2));
      } else if ((<u32>p & 0xfff) == 0xffe) {
        // A 32-bit instruction straddling two pages: the upper half comes from the next page.
        pc = p;
        const hi = fetchHigh(p);
        if (fetchFault) { fetchFault = false; p = pc; continue; }
        insn = (insn & 0xffff) | (hi << 16);
      }
      id = decodeId(insn);
      // The last halfword of a page is never memoized: its word runs into the next host page.
      if ((<u32>p & 0xfff) != 0xffe) {
        store<u32>(e, w);
        store<u32>(e, insn, 4);
        store<u32>(e, id, 8);
      }
    }
    p = executeId(id, insn, p);
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
    let insn: u32;
    if ((p & ~<u64>0xfff) != fetchPage) {
      pc = p;
      if (!fetchRefill(p)) { p = pc; chk = true; continue; }
      // A page that is not hot yet runs in the plain loop (no lookups).
      if (!jitPageEnter(<u32>(p + fetchAdd), 1)) { icount--; modeSwitch = true; break; }
    }
    if (chk) {
      const host = <u32>(p + fetchAdd);
      const e = jitSlot(host);
      const st = load<i32>(e, 4);
      const mine = load<u32>(e) == host;
      if (mine && st == ST_COMPILED) {
        const ic0 = icount - 1;
        const meta = load<u32>(e, 12);
        if (ic0 + <u64>(meta & 0xffff) <= stopAt) {
          jitEntries++;
          p = call_indirect<u64>(load<u32>(e, 8), p, ic0, stopAt, tlbLoad, tlbStore, meta >> 16, tlbFetch);
          icount = load<u64>(JIT_ICOUNT);
          jitInsns += icount - ic0;
          after = true;
          continue;
        }
      } else if (mine && st >= 0 && st + 1 < jitThreshold) {
        // Still cold: count inline (the common case on a hot page).
        store<i32>(e, st + 1, 4);
        jitLookupMisses++;
      } else if (jitCount(e, host)) {
        // The queue is full: stop before this instruction; the host compiles, run() resumes here.
        icount--;
        break;
      }
    }
    // The decode memo, as in interp().
    const h = <u32>(p + fetchAdd);
    const w = load<u32>(<usize>h);
    const m = MEMO + ((h << 3) & (MEMO_BYTES - 1));
    let id: u32;
    if (load<u32>(m) == w) {
      insn = load<u32>(m, 4);
      id = load<u32>(m, 8);
    } else {
      insn = w;
      if ((insn & 3) != 3) {
        insn = load<u32>(CTABLE + ((insn & 0xffff) << 2));
      } else if ((<u32>p & 0xfff) == 0xffe) {
        pc = p;
        const hi = fetchHigh(p);
        if (fetchFault) { fetchFault = false; p = pc; chk = true; continue; }
        insn = (insn & 0xffff) | (hi << 16);
      }
      id = decodeId(insn);
      if ((<u32>p & 0xfff) != 0xffe) {
        store<u32>(m, w);
        store<u32>(m, insn, 4);
        store<u32>(m, id, 8);
      }
    }
    const np = executeId(id, insn, p);
    // A block that ended before an instruction it cannot compile: the one after is a block start too.
    chk = after || np != p + ilenOf(insn);
    after = false;
    p = np;
  }
  pc = p;
}

/** Set by interp/interpJit when they stop because the fetch moved to a page of the other kind. */
let modeSwitch: bool = false;

/** One chunk with the JIT on: the plain loop on cold pages, the JIT-aware loop on hot ones. */
function runJit(): void {
  // The chunk's first page is sampled if it is the fetch page already (no walk, no fault here:
  // otherwise the plain loop's refill counts it and switches).
  let hot = (pc & ~<u64>0xfff) == fetchPage ? jitPageEnter(<u32>(pc + fetchAdd), JIT_HEAT_CHUNK) : false;
  do {
    modeSwitch = false;
    if (hot) interpJit(); else interp();
    hot = !hot;
  } while (modeSwitch && icount < stopAt);
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
    if (jitEnabled) runJit(); else interp();
    if (fatal != 0) return STOP_FATAL;
    if (hostEvent) return STOP_HOST;
    if (jitWant) { jitWant = false; return STOP_JIT; }
  }
  return STOP_BUDGET;
}
