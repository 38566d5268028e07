// What an engine offers for saving or moving a machine while its guest runs (live snapshots,
// pre-copy migration): its RAM, the pages written since the last look (the core's dirty bitmap),
// and the rest of the machine as a state whose RAM is a page set. Engines without dirty-page
// tracking (v86) do not offer it; the callers then use saveState() in a pause.

/** Guest RAM pages of 4 KiB: `indices` (ascending page numbers) and their bytes back to back. */
export interface PageSet {
  indices: Uint32Array;
  data: Uint8Array;
}

export const PAGE_BYTES = 4096;

export interface LiveStateSource {
  /** Guest RAM size in bytes. */
  readonly ramBytes: number;
  /** A live view of guest RAM (valid until the next await: take it again after one). */
  ram(): Uint8Array;
  /** The pages written since the previous call (a bitmap: bit p & 7 of byte p >> 3), and forgets them. */
  takeDirty(): Uint8Array;
  /**
   * The machine's state with `pages` as its RAM (the machine must be paused). `delta`: the pages
   * are only those written since a base the reader already holds (migration, incremental files).
   */
  stateWithPages(pages: PageSet, delta: boolean): Uint8Array;
}

/** What an engine offers to receive a machine page by page (the target of a pre-copy migration). */
export interface LiveStateTarget {
  /** Builds the machine (not running) from a state whose RAM may be partial. */
  beginIncoming(state: Uint8Array): Promise<void>;
  /** Writes pages into the machine's RAM. */
  writePages(pages: PageSet): void;
  /** Loads the final state over the RAM received so far (its pages are a delta). */
  finishIncoming(state: Uint8Array): Promise<void>;
}

export interface LiveCapable {
  /** Undefined while the engine holds no machine. */
  liveState(): LiveStateSource | undefined;
  readonly incoming: LiveStateTarget;
  /** A state saved by stateWithPages(…, delta) made whole again with `pages` as all of its RAM. */
  replaceRam(frozen: Uint8Array, pages: PageSet): Uint8Array;
}

export function isLiveCapable(engine: object): engine is LiveCapable {
  return typeof (engine as Partial<LiveCapable>).liveState === 'function' && (engine as Partial<LiveCapable>).incoming !== undefined;
}

/** Page numbers set in a bitmap, ascending. */
export function bitmapPages(bitmap: Uint8Array, pageCount: number): Uint32Array {
  let n = 0;
  for (let i = 0; i < bitmap.length; i++) {
    let b = bitmap[i]!;
    while (b) { n++; b &= b - 1; }
  }
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < bitmap.length; i++) {
    const b = bitmap[i]!;
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      const p = i * 8 + bit;
      if (b & (1 << bit) && p < pageCount) out[k++] = p;
    }
  }
  return k === n ? out : out.subarray(0, k);
}

/** Copies the listed pages out of `ram` into a PageSet. */
export function copyPages(ram: Uint8Array, indices: Uint32Array): PageSet {
  const data = new Uint8Array(indices.length * PAGE_BYTES);
  for (let i = 0; i < indices.length; i++) {
    const start = indices[i]! * PAGE_BYTES;
    data.set(ram.subarray(start, start + PAGE_BYTES), i * PAGE_BYTES);
  }
  return { indices, data };
}

/** Writes a PageSet into `ram`; refuses (RangeError) a malformed set or a page past the end. */
export function writePageSet(ram: Uint8Array, pages: PageSet): void {
  const { indices, data } = pages;
  if (data.length !== indices.length * PAGE_BYTES) throw new RangeError('page set: data length does not match its page count');
  const count = Math.floor(ram.length / PAGE_BYTES);
  for (let i = 0; i < indices.length; i++) {
    const p = indices[i]!;
    if (p >= count) throw new RangeError(`page set: page ${p} is beyond the ${count} pages of RAM`);
    ram.set(data.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES), p * PAGE_BYTES);
  }
}

/** True when the 4 KiB page at byte `start` of `ram` holds only zeros. */
export function pageIsZero(ram: Uint8Array, words: Int32Array | undefined, start: number): boolean {
  if (words) {
    const w0 = start >>> 2;
    for (let i = w0; i < w0 + PAGE_BYTES / 4; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = start; i < start + PAGE_BYTES; i++) if (ram[i] !== 0) return false;
  return true;
}

/** An Int32Array over `ram` when it is 4-byte aligned (fast zero tests), else undefined. */
export function wordsOf(ram: Uint8Array): Int32Array | undefined {
  return ram.byteOffset % 4 === 0 && ram.length % 4 === 0 ? new Int32Array(ram.buffer, ram.byteOffset, ram.length / 4) : undefined;
}

export const EMPTY_PAGES: PageSet = { indices: new Uint32Array(0), data: new Uint8Array(0) };
