// Memory: Sv39/Sv48 translation (priv spec 1.12, 4.3-4.5), three direct-mapped software TLBs
// (fetch, load, store) holding host addends, physical dispatch (RAM, CLINT, tohost, host MMIO),
// misaligned accesses, and the dirty bitmap of guest-physical pages.
import {
  TLB_BASE, TLB_TABLE_BYTES, TLB_ENTRIES, DIRTY, RAM_HOST, RAM_BASE, CLINT_BASE, CLINT_SIZE,
} from './layout';
import {
  priv, mstatus, satp, ramSize, memExc, mmioFaultFlag, tohostAddr, hostEvent, stopAt, icount,
  fetchPage, fetchAdd, pc, PRIV_M, PRIV_S, PRIV_U,
  MSTATUS_MPRV, MSTATUS_MPP, MSTATUS_MPP_SHIFT, MSTATUS_SUM, MSTATUS_MXR,
  CAUSE_FETCH_ACCESS, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS,
  CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE,
} from './state';
import { raiseException } from './trap';
import { clintRead, clintWrite } from './clint';
import { JIT_CODE, jitCheckWrite, isCodePage } from './jit/cache';

@external("env", "mmioRead")
declare function mmioRead(addr: u64, size: u32): u64;
@external("env", "mmioWrite")
declare function mmioWrite(addr: u64, size: u32, value: u64): void;

export const ACC_FETCH: u32 = 0;
export const ACC_LOAD: u32 = 1;
export const ACC_STORE: u32 = 2;

const PTE_V: u64 = 1 << 0;
const PTE_R: u64 = 1 << 1;
const PTE_W: u64 = 1 << 2;
const PTE_X: u64 = 1 << 3;
const PTE_U: u64 = 1 << 4;
const PTE_A: u64 = 1 << 6;
const PTE_D: u64 = 1 << 7;
const PPN_MASK: u64 = (<u64>1 << 44) - 1;

/** Counters a developer can print (docs/CORE-ABI.md). */
export let tlbMisses: u64 = 0;
export let tlbFlushes: u64 = 0;

// ---------------------------------------------------------------- TLB

/** The tables in use: fetch by priv, load/store by the effective data privilege (MPRV). */
export let tlbFetch: u32 = TLB_BASE + 2 * 3 * TLB_TABLE_BYTES;
export let tlbLoad: u32 = TLB_BASE + (2 * 3 + 1) * TLB_TABLE_BYTES;
export let tlbStore: u32 = TLB_BASE + (2 * 3 + 2) * TLB_TABLE_BYTES;

/**
 * TLB context of a privilege: U 0, S 1, M 2. Any other value (which no legal state holds) maps to
 * 2 as well, so a table address is always inside the TLB area whatever priv or MPP say.
 */
// @ts-ignore: decorator
@inline function ctxOf(p: u32): u32 { return p == PRIV_U ? 0 : p == PRIV_S ? 1 : 2; }
// @ts-ignore: decorator
@inline function table(ctx: u32, kind: u32): u32 { return TLB_BASE + (ctx * 3 + kind) * TLB_TABLE_BYTES; }

/** Points the TLBs at the tables of the current privilege and MPRV/MPP. Call after any change of those. */
export function tlbSelect(): void {
  tlbFetch = table(ctxOf(priv), 0);
  const d = ctxOf(dataPriv());
  tlbLoad = table(d, 1);
  tlbStore = table(d, 2);
  fetchPage = 0xffffffffffffffff;
}

/** Drops every cached translation (all contexts). */
export function tlbFlushAll(): void {
  memory.fill(TLB_BASE, 0xff, TLB_TABLE_BYTES * 9);
  tlbSelect();
  tlbFlushes++;
}

/** satp or sfence.vma: drops the translated contexts (U and S); M is untranslated. */
export function tlbFlushTranslated(): void {
  memory.fill(TLB_BASE, 0xff, TLB_TABLE_BYTES * 6);
  fetchPage = 0xffffffffffffffff;
  tlbFlushes++;
}

/** SUM or MXR changed: load/store permissions of U and S pages change. */
export function tlbFlushData(): void {
  for (let ctx: u32 = 0; ctx < 2; ctx++) memory.fill(table(ctx, 1), 0xff, TLB_TABLE_BYTES * 2);
  tlbFlushes++;
}

/** clearDirty: every store table, so the next store to each page marks it again. */
export function tlbFlushStore(): void {
  for (let ctx: u32 = 0; ctx < 3; ctx++) memory.fill(table(ctx, 2), 0xff, TLB_TABLE_BYTES);
}

/** sfence.vma with an address: drop the entry for that page in every translated table. */
export function tlbFlushPage(va: u64): void {
  const o = (<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4;
  for (let t: u32 = 0; t < 6; t++) store<u64>(TLB_BASE + t * TLB_TABLE_BYTES + o, 0xffffffffffffffff);
  fetchPage = 0xffffffffffffffff;
}

// @ts-ignore: decorator
@inline function tlbBase(acc: u32): u32 {
  return acc == ACC_FETCH ? tlbFetch : acc == ACC_LOAD ? tlbLoad : tlbStore;
}

// ---------------------------------------------------------------- physical memory

// @ts-ignore: decorator
@inline export function isRam(pa: u64, size: u32): bool {
  return pa - RAM_BASE <= ramSize - <u64>size && pa >= RAM_BASE;
}

// @ts-ignore: decorator
@inline export function ramHost(pa: u64): usize {
  return <usize>(pa - RAM_BASE) + RAM_HOST;
}

// @ts-ignore: decorator
@inline export function markDirty(pa: u64): void {
  const page = <u32>((pa - RAM_BASE) >> 12);
  const a = DIRTY + (page >> 3);
  store<u8>(a, load<u8>(a) | <u8>(<u32>1 << (page & 7)));
}

/**
 * A guest write of `size` bytes at physical RAM address `pa`: drops compiled blocks it overlaps
 * (docs/JIT.md). Pages holding compiled code never enter the store TLB, so every write reaches this.
 */
// @ts-ignore: decorator
@inline export function codeWrite(pa: u64, size: u32): void {
  const page = <u32>((pa - RAM_BASE) >> 12);
  if ((load<u8>(JIT_CODE + (page >> 3)) & (<u32>1 << (page & 7))) != 0) jitCheckWrite(page, <u32>pa & 0xfff, size);
}

// @ts-ignore: decorator
@inline export function ramLoad(h: usize, size: u32): u64 {
  if (size == 8) return load<u64>(h);
  if (size == 4) return <u64>load<u32>(h);
  if (size == 2) return <u64>load<u16>(h);
  return <u64>load<u8>(h);
}

// @ts-ignore: decorator
@inline export function ramStore(h: usize, size: u32, v: u64): void {
  if (size == 8) store<u64>(h, v);
  else if (size == 4) store<u32>(h, <u32>v);
  else if (size == 2) store<u16>(h, <u16>v);
  else store<u8>(h, <u8>v);
}

/** Reads `size` bytes at physical `pa`; on a bus error raises an access fault with tval = va. */
function physLoad(pa: u64, size: u32, va: u64, acc: u32): u64 {
  if (isRam(pa, size)) return ramLoad(ramHost(pa), size);
  if (pa - CLINT_BASE < CLINT_SIZE) return clintRead(<u32>(pa - CLINT_BASE), size);
  mmioFaultFlag = false;
  const v = mmioRead(pa, size);
  if (mmioFaultFlag) {
    mmioFaultFlag = false;
    memFault(acc == ACC_FETCH ? CAUSE_FETCH_ACCESS : CAUSE_LOAD_ACCESS, va);
    return 0;
  }
  return v;
}

function physStore(pa: u64, size: u32, v: u64, va: u64): void {
  if (isRam(pa, size)) {
    ramStore(ramHost(pa), size, v);
    markDirty(pa);
    codeWrite(pa, size);
    if (tohostAddr != 0 && pa <= tohostAddr + 7 && pa + <u64>size > tohostAddr) {
      hostEvent = true;
      stopAt = icount;
    }
    return;
  }
  if (pa - CLINT_BASE < CLINT_SIZE) {
    clintWrite(<u32>(pa - CLINT_BASE), size, v);
    return;
  }
  mmioFaultFlag = false;
  mmioWrite(pa, size, v);
  if (mmioFaultFlag) {
    mmioFaultFlag = false;
    memFault(CAUSE_STORE_ACCESS, va);
  }
}

/** Raises a memory exception and flags it for the instruction, which then stops. */
export function memFault(cause: u32, tval: u64): void {
  raiseException(cause, tval);
  memExc = true;
}

// ---------------------------------------------------------------- translation

/** Privilege that loads and stores run at (MPRV, priv spec 3.1.6.3). */
// @ts-ignore: decorator
@inline function dataPriv(): u32 {
  if (priv == PRIV_M && (mstatus & MSTATUS_MPRV) != 0) return <u32>((mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
  return priv;
}

// @ts-ignore: decorator
@inline function pageFaultCause(acc: u32): u32 {
  return acc == ACC_FETCH ? CAUSE_FETCH_PAGE : acc == ACC_LOAD ? CAUSE_LOAD_PAGE : CAUSE_STORE_PAGE;
}

// @ts-ignore: decorator
@inline function accessFaultCause(acc: u32): u32 {
  return acc == ACC_FETCH ? CAUSE_FETCH_ACCESS : acc == ACC_LOAD ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS;
}

/** Translates va for an access; on failure raises the fault (tval = va) and returns 0 with memExc set. */
export function translate(va: u64, acc: u32): u64 {
  const p = acc == ACC_FETCH ? priv : dataPriv();
  const mode = <u32>(satp >> 60);
  if (p == PRIV_M || mode == 0) return va;
  const levels: i32 = mode == 9 ? 4 : 3;
  const vaBits: u64 = <u64>(12 + 9 * levels);
  // The upper bits must all equal the top bit of the virtual address.
  if (<u64>((<i64>(va << (64 - vaBits))) >> (64 - vaBits)) != va) {
    memFault(pageFaultCause(acc), va);
    return 0;
  }
  let a = (satp & PPN_MASK) << 12;
  for (let i = levels - 1; i >= 0; i--) {
    const shift = <u64>(12 + 9 * i);
    const pteAddr = a + (((va >> shift) & 511) << 3);
    if (!isRam(pteAddr, 8)) {
      memFault(accessFaultCause(acc), va);
      return 0;
    }
    const h = ramHost(pteAddr);
    const pte = load<u64>(h);
    if ((pte & PTE_V) == 0 || ((pte & PTE_R) == 0 && (pte & PTE_W) != 0) || (pte >> 54) != 0) break;
    if ((pte & (PTE_R | PTE_X)) == 0) {
      a = ((pte >> 10) & PPN_MASK) << 12;
      continue;
    }
    // Leaf: permissions (4.3.2 step 5), U/SUM, misaligned superpage, then A/D.
    if (acc == ACC_FETCH) {
      if ((pte & PTE_X) == 0) break;
    } else if (acc == ACC_LOAD) {
      if ((pte & PTE_R) == 0 && ((mstatus & MSTATUS_MXR) == 0 || (pte & PTE_X) == 0)) break;
    } else if ((pte & PTE_W) == 0) break;
    if (p == PRIV_U) {
      if ((pte & PTE_U) == 0) break;
    } else if ((pte & PTE_U) != 0) {
      if (acc == ACC_FETCH || (mstatus & MSTATUS_SUM) == 0) break;
    }
    const ppn = (pte >> 10) & PPN_MASK;
    const lowMask: u64 = (<u64>1 << (shift - 12)) - 1;
    if ((ppn & lowMask) != 0) break;
    const npte = pte | PTE_A | (acc == ACC_STORE ? PTE_D : 0);
    if (npte != pte) {
      store<u64>(h, npte);
      markDirty(pteAddr);
      codeWrite(pteAddr, 8);
    }
    const offMask: u64 = (<u64>1 << shift) - 1;
    return ((ppn << 12) & ~offMask) | (va & offMask);
  }
  memFault(pageFaultCause(acc), va);
  return 0;
}

/**
 * Translation for debuggers and traces: no permission checks, no A/D updates, no traps.
 * Uses satp as the current privilege (fetch) sees it. Returns all ones when unmapped.
 */
export function peekTranslate(va: u64): u64 {
  const mode = <u32>(satp >> 60);
  if (priv == PRIV_M || mode == 0) return va;
  const levels: i32 = mode == 9 ? 4 : 3;
  const vaBits: u64 = <u64>(12 + 9 * levels);
  if (<u64>((<i64>(va << (64 - vaBits))) >> (64 - vaBits)) != va) return 0xffffffffffffffff;
  let a = (satp & PPN_MASK) << 12;
  for (let i = levels - 1; i >= 0; i--) {
    const shift = <u64>(12 + 9 * i);
    const pteAddr = a + (((va >> shift) & 511) << 3);
    if (!isRam(pteAddr, 8)) break;
    const pte = load<u64>(ramHost(pteAddr));
    if ((pte & PTE_V) == 0 || (pte >> 54) != 0) break;
    const ppn = (pte >> 10) & PPN_MASK;
    if ((pte & (PTE_R | PTE_X)) == 0) { a = ppn << 12; continue; }
    const offMask: u64 = (<u64>1 << shift) - 1;
    return ((ppn << 12) & ~offMask) | (va & offMask);
  }
  return 0xffffffffffffffff;
}

/** Translates, and caches RAM pages in the TLB of that access type. Returns the physical address. */
function translateFill(va: u64, acc: u32): u64 {
  tlbMisses++;
  const pa = translate(va, acc);
  if (memExc) return 0;
  const page = pa & ~<u64>0xfff;
  if (isRam(page, 4096)) {
    // The page holding tohost is never cached for stores, so every store to it reaches physStore.
    if (acc == ACC_STORE) {
      if (tohostAddr != 0 && (tohostAddr & ~<u64>0xfff) == page) return pa;
      // Nor is a page holding compiled code: its stores must reach codeWrite.
      if (isCodePage(page)) return pa;
      markDirty(page);
    }
    const e = tlbBase(acc) + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
    store<u64>(e, va & ~<u64>0xfff);
    store<u64>(e, <u64>ramHost(page) - (va & ~<u64>0xfff), 8);
  }
  return pa;
}

// ---------------------------------------------------------------- data access

// @ts-ignore: decorator
@inline export function tagMask(size: u32): u64 {
  return ~(<u64>0xfff & ~(<u64>size - 1));
}

/** Load of 1/2/4/8 bytes, zero-extended. Fast path: one compare in the load TLB. */
// @ts-ignore: decorator
@inline export function loadMem(va: u64, size: u32): u64 {
  const e = tlbLoad + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
  if (load<u64>(e) == (va & tagMask(size))) return ramLoad(<usize>(va + load<u64>(e, 8)), size);
  return loadSlow(va, size);
}

// @ts-ignore: decorator
@inline export function storeMem(va: u64, size: u32, v: u64): void {
  const e = tlbStore + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
  if (load<u64>(e) == (va & tagMask(size))) ramStore(<usize>(va + load<u64>(e, 8)), size, v);
  else storeSlow(va, size, v);
}

export function loadSlow(va: u64, size: u32): u64 {
  const off = <u32>va & 0xfff;
  if (off + size > 4096) {
    // Misaligned across a page: translate both pages first (either may fault), then read bytes.
    const n1: u32 = 4096 - off;
    const pa1 = translate(va, ACC_LOAD);
    if (memExc) return 0;
    const va2 = (va + 4096) & ~<u64>0xfff;
    const pa2 = translate(va2, ACC_LOAD);
    if (memExc) return 0;
    let v: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const b = i < n1 ? physLoad(pa1 + i, 1, va, ACC_LOAD) : physLoad(pa2 + (i - n1), 1, va2, ACC_LOAD);
      if (memExc) return 0;
      v |= b << (<u64>i << 3);
    }
    return v;
  }
  const pa = translateFill(va, ACC_LOAD);
  if (memExc) return 0;
  if ((va & (<u64>size - 1)) != 0 && !isRam(pa, size)) {
    // misaligned device access: byte by byte
    let v: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      v |= physLoad(pa + i, 1, va, ACC_LOAD) << (<u64>i << 3);
      if (memExc) return 0;
    }
    return v;
  }
  return physLoad(pa, size, va, ACC_LOAD);
}

export function storeSlow(va: u64, size: u32, v: u64): void {
  const off = <u32>va & 0xfff;
  if (off + size > 4096) {
    const n1: u32 = 4096 - off;
    const pa1 = translate(va, ACC_STORE);
    if (memExc) return;
    const va2 = (va + 4096) & ~<u64>0xfff;
    const pa2 = translate(va2, ACC_STORE);
    if (memExc) return;
    for (let i: u32 = 0; i < size; i++) {
      const b = (v >> (<u64>i << 3)) & 0xff;
      if (i < n1) physStore(pa1 + i, 1, b, va);
      else physStore(pa2 + (i - n1), 1, b, va2);
      if (memExc) return;
    }
    return;
  }
  const pa = translateFill(va, ACC_STORE);
  if (memExc) return;
  if ((va & (<u64>size - 1)) != 0 && !isRam(pa, size)) {
    for (let i: u32 = 0; i < size; i++) {
      physStore(pa + i, 1, (v >> (<u64>i << 3)) & 0xff, va);
      if (memExc) return;
    }
    return;
  }
  physStore(pa, size, v, va);
}

/**
 * Host address of an aligned RAM location for an atomic read-modify-write (store permission),
 * or 0 if the location is not RAM (the caller then uses loadSlow/storeSlow) or the access faulted.
 */
export function amoHost(va: u64, size: u32): usize {
  const e = tlbStore + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
  if (load<u64>(e) == (va & tagMask(size))) return <usize>(va + load<u64>(e, 8));
  const pa = translateFill(va, ACC_STORE);
  if (memExc) return 0;
  if (!isRam(pa, size)) return 0;
  if (tohostAddr != 0 && pa <= tohostAddr + 7 && pa + <u64>size > tohostAddr) return 0;
  markDirty(pa);
  codeWrite(pa, size);
  return ramHost(pa);
}

// ---------------------------------------------------------------- instruction fetch

/** Set when a fetch faulted (the trap is already taken). */
export let fetchFault: bool = false;

/** Makes pc's page the fetch page (fetch TLB, then a walk). Returns false if the fetch faulted. */
export function fetchRefill(va: u64): bool {
  const page = va & ~<u64>0xfff;
  const e = tlbFetch + ((<u32>(va >> 12) & (TLB_ENTRIES - 1)) << 4);
  if (load<u64>(e) != page) {
    tlbMisses++;
    const pa = translate(va, ACC_FETCH);
    if (memExc) {
      memExc = false;
      return false;
    }
    const ppage = pa & ~<u64>0xfff;
    if (!isRam(ppage, 4096)) {
      memFault(CAUSE_FETCH_ACCESS, va);
      memExc = false;
      return false;
    }
    store<u64>(e, page);
    store<u64>(e, <u64>ramHost(ppage) - page, 8);
  }
  fetchPage = page;
  fetchAdd = load<u64>(e, 8);
  return true;
}

/** Upper half of a 32-bit instruction whose lower half is the last halfword of a page. */
export function fetchHigh(va: u64): u32 {
  const va2 = va + 2;
  const pa = translate(va2, ACC_FETCH);
  if (memExc) {
    memExc = false;
    fetchFault = true;
    return 0;
  }
  if (!isRam(pa, 2)) {
    memFault(CAUSE_FETCH_ACCESS, va2);
    memExc = false;
    fetchFault = true;
    return 0;
  }
  return <u32>load<u16>(ramHost(pa));
}

