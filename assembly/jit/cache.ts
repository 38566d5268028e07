// The core's half of the JIT (docs/JIT.md): a hash table of block starts keyed by guest-physical
// address (as a host offset in linear memory), hotness counters, a queue of blocks the host
// should compile, a bitmap of RAM pages holding compiled code (a store there drops the page's
// blocks) and the slow-path helpers compiled blocks call. The host (src/engines/rv64/jit/)
// compiles queued blocks into wasm functions and installs them in the exported table.
import { RAM_HOST, RAM_BASE } from '../layout';
import { pc, icount, stopAt, memExc, ramSize } from '../state';
import { loadSlow, storeSlow, tlbFlushStore } from '../mmu';

/** Hash table: JIT_ENTRIES x 16 bytes {u32 host address of the block start, i32 state, u32 table index of its region, u16 max length + u16 entry index in the region}. */
export const JIT_HASH: u32 = 0x80000;
export const JIT_BITS: u32 = 14;
export const JIT_ENTRIES: u32 = 1 << JIT_BITS;
/** Bitmap of RAM pages with compiled (or installed) blocks, laid out like the dirty bitmap. */
export const JIT_CODE: u32 = 0xC0000;
/** Host addresses of blocks waiting to be compiled (u32 each). */
export const JIT_QUEUE: u32 = 0xE0000;
export const JIT_QUEUE_MAX: u32 = 1024;
/** Scratch words shared with compiled blocks: status (u32), trap pc (u64), icount at exit (u64). */
export const JIT_STATUS: u32 = 0xF0000;
export const JIT_PC: u32 = 0xF0008;
export const JIT_ICOUNT: u32 = 0xF0010;

/**
 * Heat of code pages (hashed by host page, JIT_HEAT_ENTRIES u32 counters). With the JIT on, the
 * core runs the plain interpreter loop on pages that are not hot (no per-block-start work at
 * all) and the JIT-aware loop (block lookups, counting, compiled regions) on hot ones. Heat
 * is counted when the fetch moves into a page (1) and when a chunk starts there (JIT_HEAT_CHUNK,
 * a sample that finds loops which never leave their page).
 */
export const JIT_HEAT: u32 = 0xF1000;
export const JIT_HEAT_ENTRIES: u32 = 4096;
export const JIT_HEAT_CHUNK: u32 = 4096;
/** Heat that makes a page hot: (threshold - 1) / 2; with threshold 1 (tests) every page is hot from the start. */
export let jitPageHot: u32 = 0;
/** Page entries (and chunk starts) on pages still cold: counted, then interpreted without lookups. */
export let jitPageWarmups: u64 = 0;

/** The fetch moved into (or a chunk starts on) the page of `host`: adds `weight` to its heat; true once it is hot. */
export function jitPageEnter(host: u32, weight: u32): bool {
  const h = JIT_HEAT + (((host >> 12) & (JIT_HEAT_ENTRIES - 1)) << 2);
  const heat = load<u32>(h);
  if (heat >= jitPageHot) return true;
  store<u32>(h, heat + weight);
  jitPageWarmups++;
  return heat + weight >= jitPageHot;
}

/** Entry states (>= 0: a hotness count). */
export const ST_QUEUED: i32 = -1;
export const ST_COMPILED: i32 = -2;
/** The host cannot compile a block here (first instruction not supported): never ask again. */
export const ST_NEVER: i32 = -3;

export let jitEnabled: bool = false;
export let jitThreshold: i32 = 32;
/** Queue length that ends the chunk so run() returns STOP_JIT and the host compiles. */
export let jitBatch: u32 = 64;
export let jitQueueLen: u32 = 0;
/** Set when the queue reached jitBatch: runInstructions returns STOP_JIT after the chunk. */
export let jitWant: bool = false;
/** Bumped by every full flush, so the host knows its table slots are free again. */
export let jitGeneration: u32 = 0;
/** fence.i ran: the host must compare every block with the code it was compiled from before blocks run again. */
export let jitVerifyPending: bool = false;
/** Set by an invalidation during a compiled block's slow path: the block must stop after that instruction. */
export let jitInvalidated: bool = false;

// Counters (docs/JIT.md)
export let jitEntries: u64 = 0;
export let jitInsns: u64 = 0;
export let jitLookupMisses: u64 = 0;
/** Visits to a block start not counted: both slots of its pair hold compiled (or queued) blocks. */
export let jitCrowded: u64 = 0;
export let jitPageInvalidations: u64 = 0;
export let jitBlocksDropped: u64 = 0;
export let jitFlushes: u64 = 0;

/**
 * The table is two-way: a block start lives in its home slot or in the slot beside it
 * (`jitEntry(host) ^ 16`, the other half of a 32-byte pair). A block being counted never takes
 * a slot from a compiled one: before, two block starts 32 KiB apart took turns evicting each
 * other, and each one evicted ran interpreted until it was counted hot and compiled again
 * (docs/JIT.md, "The block table").
 */
// @ts-ignore: decorator
@inline export function jitEntry(host: u32): u32 {
  return JIT_HASH + (((host >> 1) & (JIT_ENTRIES - 1)) << 4);
}

/** The slot holding `host` (its home slot or the one beside it), or its home slot if neither does. */
// @ts-ignore: decorator
@inline export function jitSlot(host: u32): u32 {
  const e = jitEntry(host);
  if (load<u32>(e) == host) return e;
  const b = e ^ 16;
  return load<u32>(b) == host ? b : e;
}

/** Where a new block start goes: a free or counting slot of its pair (the lower count), else 0 (both hold compiled, queued or refused blocks). */
function jitVictim(host: u32): u32 {
  const a = jitEntry(host);
  const b = a ^ 16;
  const sa = load<i32>(a, 4), sb = load<i32>(b, 4);
  if (sa >= 0 && (sb < 0 || sa <= sb)) return a;
  if (sb >= 0) return b;
  return 0;
}

/** Drops every block and counter (fence.i, reset, state load). */
export function jitFlushAll(): void {
  memory.fill(JIT_HASH, 0, JIT_ENTRIES << 4);
  memory.fill(JIT_HEAT, 0, JIT_HEAT_ENTRIES << 2);
  memory.fill(JIT_CODE, 0, <u32>(ramSize >> 15) + 1);
  memory.fill(JIT_LINES, 0, JIT_LINE_ENTRIES << 4);
  jitQueueLen = 0;
  jitWant = false;
  jitVerifyPending = false;
  jitGeneration++;
  jitFlushes++;
  jitInvalidated = true;
}

/**
 * Which 64-byte lines of a code page hold compiled blocks: a direct-mapped table of
 * JIT_LINE_ENTRIES x {u64 page + 1, u64 line mask}. A page whose entry was taken by another
 * page has no mask: any write to it drops all its blocks.
 */
export const JIT_LINES: u32 = 0xE8000;
export const JIT_LINE_ENTRIES: u32 = 2048;

/** Stores that reached a code page without touching compiled code. */
export let jitCodePageStores: u64 = 0;

// @ts-ignore: decorator
@inline export function isCodePage(pa: u64): bool {
  const page = <u32>((pa - RAM_BASE) >> 12);
  return (load<u8>(JIT_CODE + (page >> 3)) & (<u32>1 << (page & 7))) != 0;
}

/** A guest write of `size` bytes at offset `off` of code page `page`: drops the page's blocks if it hits one. */
export function jitCheckWrite(page: u32, off: u32, size: u32): void {
  const le = JIT_LINES + ((page & (JIT_LINE_ENTRIES - 1)) << 4);
  if (load<u64>(le) == <u64>page + 1) {
    const last = off + size - 1 > 0xfff ? 0xfff : off + size - 1;
    const lo = off >> 6, hi = last >> 6;
    const bits = ((hi - lo == 63 ? 0xffffffffffffffff : (<u64>1 << (<u64>(hi - lo) + 1)) - 1)) << <u64>lo;
    if ((load<u64>(le, 8) & bits) == 0) { jitCodePageStores++; return; }
    store<u64>(le, 0);
    store<u64>(le, 0, 8);
  }
  const a = JIT_CODE + (page >> 3);
  store<u8>(a, load<u8>(a) & ~<u8>(<u32>1 << (page & 7)));
  jitPageInvalidations++;
  jitInvalidated = true;
  const lo = RAM_HOST + (page << 12);
  for (let e = JIT_HASH; e < JIT_HASH + (JIT_ENTRIES << 4); e += 16) {
    if (load<u32>(e) - lo < 4096 && load<i32>(e, 4) < 0) {
      store<i32>(e, 0, 4);
      jitBlocksDropped++;
    }
  }
}

/**
 * Host: the block at host address `host` is entry `entry` of the region function at table index
 * `fn`; one pass of it runs at most `len` instructions (`bytes` of code). `weak`: the block is
 * only reached from hot ones, so it does not evict another block from its hash slot (its code
 * is still watched: the region can jump into it).
 */
export function jitInstall(host: u32, fn: u32, len: u32, bytes: u32, entry: u32, weak: u32): void {
  let e = jitSlot(host);
  if (load<u32>(e) != host) {
    // A new entry: a free or counting slot of the pair; a hot block may also evict a compiled one.
    e = jitVictim(host);
    if (e == 0 && weak == 0) e = jitEntry(host);
  }
  if (e != 0) {
    store<u32>(e, host);
    store<i32>(e, ST_COMPILED, 4);
    store<u32>(e, fn, 8);
    store<u32>(e, (len & 0xffff) | (entry << 16), 12);
  }
  const page = (host - RAM_HOST) >> 12;
  const a = JIT_CODE + (page >> 3);
  const had = (load<u8>(a) & (<u32>1 << (page & 7))) != 0;
  if (!had) jitNewCodePages = true;
  store<u8>(a, load<u8>(a) | <u8>(<u32>1 << (page & 7)));
  const le = JIT_LINES + ((page & (JIT_LINE_ENTRIES - 1)) << 4);
  const off = host & 0xfff;
  const lo = off >> 6, hi = (off + (bytes < 1 ? 1 : bytes) - 1) >> 6;
  const bits = ((hi - lo == 63 ? 0xffffffffffffffff : (<u64>1 << (<u64>(hi - lo) + 1)) - 1)) << <u64>lo;
  if (load<u64>(le) == <u64>page + 1) store<u64>(le, load<u64>(le, 8) | bits, 8);
  else if (!had) {
    // Take the slot; the page it held (if any) keeps its code bit without a mask: whole-page invalidation.
    store<u64>(le, <u64>page + 1);
    store<u64>(le, bits, 8);
  }
}

/**
 * fence.i: guest stores already dropped the blocks they touched (codeWrite); what fence.i adds
 * is writes the core did not see (device DMA through the host). The chunk ends after this
 * instruction and run() returns STOP_JIT; the host then drops every block whose code changed.
 */
export function jitFenceI(): void {
  jitVerifyPending = true;
  jitWant = true;
  stopAt = icount;
}

/** Host: drops the block at `host` if it is still installed as table index `fn`. */
export function jitDrop(host: u32, fn: u32): void {
  const e = jitSlot(host);
  if (load<u32>(e) == host && load<i32>(e, 4) == ST_COMPILED && load<u32>(e, 8) == fn) {
    store<i32>(e, 0, 4);
    jitBlocksDropped++;
  }
}

/** Host wrote guest RAM (physical `pa`, `len` bytes) behind the core's back: drop blocks there. */
export function jitHostWrite(pa: u64, len: u32): void {
  if (len == 0) return;
  let a = pa;
  const end = pa + <u64>len;
  while (a < end) {
    const pageEnd = (a | 0xfff) + 1;
    const n = <u32>((end < pageEnd ? end : pageEnd) - a);
    if (isCodePage(a)) jitCheckWrite(<u32>((a - RAM_BASE) >> 12), <u32>a & 0xfff, n);
    a += <u64>n;
  }
  jitInvalidated = false;
}

/** Host: the block at `host` cannot be compiled. */
export function jitRefuse(host: u32): void {
  const e = jitSlot(host);
  if (load<u32>(e) == host) store<i32>(e, ST_NEVER, 4);
}

/** Host, after a batch of jitInstall: stores to newly watched pages must take the slow path. */
export function jitInstalled(): void {
  jitQueueLen = 0;
  jitVerifyPending = false;
  jitWatchNewPages();
}

/**
 * Host, after jitInstall calls outside a drain (a compile that finished in the background):
 * pages that just became code pages may still sit in the store TLB; a drain that added none
 * (a fence.i check, most of a boot's 386) keeps the store TLB warm.
 */
export function jitWatchNewPages(): void {
  if (jitNewCodePages) {
    jitNewCodePages = false;
    tlbFlushStore();
  }
}

/** Host: a queued block will not be installed (its code changed while it compiled): it counts from 0 again. */
export function jitUnqueue(host: u32): void {
  const e = jitSlot(host);
  if (load<u32>(e) == host && load<i32>(e, 4) == ST_QUEUED) store<i32>(e, 0, 4);
}

/** A page got its code bit since the last jitInstalled(): the store TLB must be flushed. */
let jitNewCodePages: bool = false;

/**
 * Counts a visit to a block start that has no compiled block; queues it once hot. Returns true
 * when the queue is full: the caller stops before this instruction so run() returns STOP_JIT
 * and the block runs compiled from its first hot visit on.
 */
export function jitCount(e: u32, host: u32): bool {
  jitLookupMisses++;
  let st: i32 = 0;
  if (load<u32>(e) != host) {
    e = jitVictim(host);
    if (e == 0) { jitCrowded++; return false; }
    store<u32>(e, host);
  } else {
    st = load<i32>(e, 4);
    if (st < 0) return false;
  }
  if (st + 1 < jitThreshold) { store<i32>(e, st + 1, 4); return false; }
  if (jitQueueLen >= JIT_QUEUE_MAX) { store<i32>(e, st + 1, 4); return false; }
  store<u32>(JIT_QUEUE + (jitQueueLen << 2), host);
  jitQueueLen++;
  store<i32>(e, ST_QUEUED, 4);
  if (jitQueueLen < jitBatch) return false;
  jitWant = true;
  return true;
}

// ---- slow paths called by compiled blocks (status: 0 go on, 1 trapped (pc at JIT_PC), 2 stop after this instruction) ----

// @ts-ignore: decorator
@inline function finish(): void {
  if (memExc) {
    memExc = false;
    store<u32>(JIT_STATUS, 1);
    store<u64>(JIT_PC, pc);
    return;
  }
  store<u32>(JIT_STATUS, icount >= stopAt || jitInvalidated ? 2 : 0);
}

export function jitLoad(va: u64, size: u32, p: u64, ic: u64): u64 {
  pc = p;
  icount = ic;
  jitInvalidated = false;
  const v = loadSlow(va, size);
  finish();
  return v;
}

export function jitStore(va: u64, size: u32, v: u64, p: u64, ic: u64): void {
  pc = p;
  icount = ic;
  jitInvalidated = false;
  storeSlow(va, size, v);
  finish();
}
