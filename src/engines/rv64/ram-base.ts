// The base of a machine's incremental snapshots and resets (docs/HYPERVISOR.md, "Live
// snapshots"): a whole saved state (a snapshot file, known by its SHA-256), its RAM pages by
// number, and the pages written since (every look at the core's dirty bitmap is ORed in).

import { bitmapPages, PAGE_BYTES, pageIsZero, wordsOf, writePageSet, copyPages, type PageSet } from '../live-state.js';
import type { StateValue } from './state-codec.js';

export class RamBase {
  /** Page number -> index of that page in the base state's RAM data. */
  private readonly pageAt = new Map<number, number>();
  private readonly baseData: Uint8Array;
  readonly sinceBase: Uint8Array;

  constructor(
    readonly id: string,
    /** The base's decoded machine state (its RAM: non-zero pages). */
    readonly state: { [key: string]: StateValue },
    bitmapBytes: number,
  ) {
    const ram = state.ram as { index: Uint8Array; data: Uint8Array };
    const dv = new DataView(ram.index.buffer, ram.index.byteOffset, ram.index.byteLength);
    for (let i = 0; i < ram.index.length / 4; i++) this.pageAt.set(dv.getUint32(i * 4, true), i);
    this.baseData = ram.data;
    this.sinceBase = new Uint8Array(bitmapBytes);
  }

  /** Remembers pages written (a dirty bitmap taken from the core). */
  noteDirty(bitmap: Uint8Array): void {
    for (let i = 0; i < bitmap.length && i < this.sinceBase.length; i++) this.sinceBase[i]! |= bitmap[i]!;
  }

  /** Forgets every page written: the machine equals the base again (or `pages` differ from it). */
  reset(pages: Iterable<number> = []): void {
    this.sinceBase.fill(0);
    for (const p of pages) this.sinceBase[p >>> 3]! |= 1 << (p & 7);
  }

  written(pageCount: number): Uint32Array {
    return bitmapPages(this.sinceBase, pageCount);
  }

  /** The base's contents of `pages` (zero pages where the base had none). */
  basePages(pages: Uint32Array): PageSet {
    const data = new Uint8Array(pages.length * PAGE_BYTES);
    pages.forEach((p, i) => {
      const at = this.pageAt.get(p);
      if (at !== undefined) data.set(this.baseData.subarray(at * PAGE_BYTES, (at + 1) * PAGE_BYTES), i * PAGE_BYTES);
    });
    return { indices: pages, data };
  }

  /** The base's RAM with a delta's pages laid over it, as non-zero pages; RangeError for a page beyond it. */
  withDelta(ramBytes: number, delta: PageSet): PageSet {
    const ram = new Uint8Array(ramBytes);
    for (const [p, at] of this.pageAt) ram.set(this.baseData.subarray(at * PAGE_BYTES, (at + 1) * PAGE_BYTES), p * PAGE_BYTES);
    writePageSet(ram, delta);
    const words = wordsOf(ram);
    const keep: number[] = [];
    for (let p = 0; p < ramBytes / PAGE_BYTES; p++) if (!pageIsZero(ram, words, p * PAGE_BYTES)) keep.push(p);
    return copyPages(ram, Uint32Array.from(keep));
  }
}
