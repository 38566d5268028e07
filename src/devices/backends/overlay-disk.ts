// A block back end that keeps a base image read-only and the guest's writes in an overlay file
// (format: overlay-format.ts), through a synchronous OverlayStore: a Node file
// (overlay-node-store.ts) or an OPFS sync access handle in a worker (overlay-opfs-store.ts).
//
// Writes complete in memory (like a disk's volatile write cache, which virtio-blk FLUSH and ATA
// FLUSH CACHE empty); flush() writes every changed chunk to its free slot and then flushes the
// store, so it returns only once the data and the index (the slot headers) are durable. Memory is
// bounded: past SPILL_BYTES of changed chunks they go to the file early (not yet durable).

import { forEachChunk, SECTOR_SIZE, type BlockBackend } from './disk.js';
import {
  DEFAULT_CHUNK_BYTES, decodeOverlayHeader, decodeSlot, encodeOverlayHeader, encodeSlot, HEADER_BYTES,
  HEADER_USED_BYTES, hex, OverlayFormatError, SLOT_HEADER_BYTES, slotBytes, slotOffset,
} from './overlay-format.js';

/** Where the overlay's bytes live. Every call is synchronous; flush() makes written bytes durable. */
export interface OverlayStore {
  size(): number;
  /** Reads into `into` from `at`; returns the bytes read (fewer at the end of the file). */
  read(into: Uint8Array, at: number): number;
  write(data: Uint8Array, at: number): void;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

/** The read-only image under the overlay. */
export interface BaseImage {
  readonly byteLength: number;
  /** sha256 of the whole image (32 bytes): an overlay only opens over the base it was made for. */
  readonly sha256: Uint8Array;
  /** Fills `into` from `at` (never past byteLength). */
  read(into: Uint8Array, at: number): void;
}

/** A base image held in memory (the page's disk images, tests). */
export function memoryBase(bytes: Uint8Array, sha256: Uint8Array): BaseImage {
  return {
    byteLength: bytes.length,
    sha256,
    read: (into, at) => into.set(bytes.subarray(at, at + into.length)),
  };
}

/** The generation of an overlay that holds nothing: every such disk is its base image. */
export const PRISTINE_GENERATION = 'base';

function randomNonce(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(16));
}

/** Changed chunks held in memory before they go to the file unflushed. */
export const SPILL_BYTES = 16 * 1024 * 1024;

interface ChunkPlace {
  pair: number;
  /** Slot with the last flushed version, or -1 (never flushed). */
  durable: -1 | 0 | 1;
  /** Slot with the newest version in the file (may be unflushed), or -1 (none). */
  current: -1 | 0 | 1;
}

export interface OverlayDiskOptions {
  serial?: string;
  chunkBytes?: number;
  readOnly?: boolean;
  /** Written into the header at open (Node: the process id). */
  pid?: number;
  spillBytes?: number;
  /** Called with the pid the header names before it is replaced; throws to refuse the open. */
  checkOwner?: (previousPid: number) => void;
}

/**
 * An OverlayDisk over `store`. `reset`: the overlay starts over from nothing (a VM reset), which
 * also clears one that would be refused (made for another base image, damaged). The store is
 * closed when the overlay is refused.
 */
export function openOverlayDisk(store: OverlayStore, base: BaseImage, options: OverlayDiskOptions & { reset?: boolean }): OverlayDisk {
  try {
    if (options.reset) store.truncate(0);
    return new OverlayDisk(store, base, options);
  } catch (err) {
    store.close();
    throw err;
  }
}

export class OverlayDisk implements BlockBackend {
  readonly byteLength: number;
  readonly readOnly: boolean;
  readonly serial: string;
  readonly chunkBytes: number;
  /** The pid the header named before this open (0 = none), for "in use by" checks. */
  readonly previousPid: number;
  private readonly places = new Map<number, ChunkPlace>();
  private readonly dirty = new Map<number, Uint8Array>();
  private freePairs: number[] = [];
  private pairCount = 0;
  private seq = 1;
  private closed = false;
  private readonly spillBytes: number;
  private nonce: Uint8Array;
  private pid: number;

  constructor(
    private readonly store: OverlayStore,
    private readonly base: BaseImage,
    options: OverlayDiskOptions = {},
  ) {
    if (base.byteLength < SECTOR_SIZE) throw new OverlayFormatError('the base image is smaller than one 512-byte sector');
    this.byteLength = base.byteLength;
    this.readOnly = options.readOnly ?? false;
    this.serial = options.serial ?? 'tabvisor-vda';
    this.spillBytes = options.spillBytes ?? SPILL_BYTES;
    this.pid = options.pid ?? 0;
    const size = store.size();
    if (size === 0) {
      this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
      this.previousPid = 0;
      this.nonce = randomNonce();
      this.writeHeader();
      return;
    }
    const head = new Uint8Array(HEADER_USED_BYTES);
    const header = decodeOverlayHeader(head.subarray(0, store.read(head, 0)), { bytes: base.byteLength, sha256: base.sha256 });
    this.chunkBytes = header.chunkBytes;
    this.previousPid = header.pid;
    this.nonce = header.nonce;
    options.checkOwner?.(header.pid);
    this.scan(size);
    if (!this.readOnly && options.pid !== undefined) this.writeHeader();
  }

  /**
   * Names the disk's contents: equal generations mean equal contents (a machine state saved with
   * one can be restored over the disk as it is). Flushes first, so the name covers every write.
   */
  generation(): string {
    this.flush();
    return this.places.size === 0 ? PRISTINE_GENERATION : `${hex(this.nonce)}:${this.seq - 1}`;
  }

  /** Chunks the overlay holds (flushed or not). */
  get chunkCount(): number {
    const all = new Set([...this.places.keys(), ...this.dirty.keys()]);
    return all.size;
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    const out = new Uint8Array(length);
    forEachChunk(offset, length, this.chunkBytes, (index, within, n, done) => {
      const pos = offset + done;
      const dirty = this.dirty.get(index);
      if (dirty) out.set(dirty.subarray(within, within + n), done);
      else {
        const place = this.places.get(index);
        if (place && place.current >= 0) {
          this.readStore(out.subarray(done, done + n), slotOffset(this.chunkBytes, place.pair, place.current as 0 | 1) + SLOT_HEADER_BYTES + within);
        } else this.base.read(out.subarray(done, done + n), pos);
      }
    });
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new Error('disk is read-only');
    this.checkRange(offset, data.length);
    forEachChunk(offset, data.length, this.chunkBytes, (index, within, n, done) => {
      let chunk = this.dirty.get(index);
      if (!chunk) {
        chunk = this.loadChunk(index);
        this.dirty.set(index, chunk);
      }
      chunk.set(data.subarray(done, done + n), within);
    });
    if (this.dirty.size * this.chunkBytes > this.spillBytes) this.writeDirty();
  }

  /** Makes every write so far durable: chunks to their free slots, then the store's flush. */
  flush(): void {
    if (this.closed) throw new Error('disk is closed');
    if (this.readOnly) return;
    const written = this.writeDirty();
    if (written.length === 0 && !this.unflushed) return;
    this.store.flush();
    for (const place of this.places.values()) place.durable = place.current;
    this.unflushed = false;
  }

  /** Drops every guest write: the disk is the base image again (durably), under a new name. */
  discard(): void {
    this.dirty.clear();
    this.places.clear();
    this.freePairs = [];
    this.pairCount = 0;
    this.seq = 1;
    this.store.truncate(HEADER_BYTES);
    this.nonce = randomNonce();
    this.writeHeader();
  }

  /** Bytes the overlay file takes (header and slot pairs). */
  get fileBytes(): number {
    return HEADER_BYTES + this.pairCount * 2 * slotBytes(this.chunkBytes);
  }

  /** Flushes and closes the store. */
  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.store.close();
    }
  }

  // --- internals ------------------------------------------------------------------------------

  private writeHeader(): void {
    this.store.write(encodeOverlayHeader({
      chunkBytes: this.chunkBytes, baseBytes: this.base.byteLength, baseSha256: this.base.sha256, nonce: this.nonce, pid: this.pid,
    }), 0);
    this.store.flush();
  }

  private unflushed = false;

  private checkRange(offset: number, length: number): void {
    if (this.closed) throw new Error('disk is closed');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new RangeError(`disk access ${offset}+${length} beyond ${this.byteLength} bytes`);
    }
  }

  /** The chunk as the guest sees it now (a copy). */
  private loadChunk(index: number): Uint8Array {
    const chunk = new Uint8Array(this.chunkBytes);
    const place = this.places.get(index);
    if (place && place.current >= 0) {
      this.readStore(chunk, slotOffset(this.chunkBytes, place.pair, place.current as 0 | 1) + SLOT_HEADER_BYTES);
    } else {
      const start = index * this.chunkBytes;
      this.base.read(chunk.subarray(0, Math.min(this.chunkBytes, this.byteLength - start)), start);
    }
    return chunk;
  }

  private readStore(into: Uint8Array, at: number): void {
    const n = this.store.read(into, at);
    if (n < into.length) throw new Error(`disk overlay: short read at ${at} (${n} of ${into.length} bytes)`);
  }

  /** Writes changed chunks to the slot that is not their durable one; returns the chunks written. */
  private writeDirty(): number[] {
    const written: number[] = [];
    for (const [index, data] of this.dirty) {
      let place = this.places.get(index);
      if (!place) {
        place = { pair: this.freePairs.shift() ?? this.pairCount++, durable: -1, current: -1 };
        this.places.set(index, place);
      }
      const slot: 0 | 1 = place.durable === 0 ? 1 : 0;
      this.store.write(encodeSlot(index, this.seq++, data), slotOffset(this.chunkBytes, place.pair, slot));
      place.current = slot;
      written.push(index);
    }
    this.dirty.clear();
    if (written.length) this.unflushed = true;
    return written;
  }

  /** Rebuilds the index from the slot headers (the newest valid slot of each pair wins). */
  private scan(size: number): void {
    const slot = slotBytes(this.chunkBytes);
    const pairs = Math.ceil(Math.max(0, size - HEADER_BYTES) / (2 * slot));
    const chunks = Math.ceil(this.byteLength / this.chunkBytes);
    const buf = new Uint8Array(2 * slot);
    let maxSeq = 0;
    for (let pair = 0; pair < pairs; pair++) {
      const n = this.store.read(buf, slotOffset(this.chunkBytes, pair, 0));
      buf.fill(0, n);
      const a = decodeSlot(buf.subarray(0, slot), this.chunkBytes);
      const b = decodeSlot(buf.subarray(slot), this.chunkBytes);
      const best: { s: 0 | 1; chunk: number; seq: number } | undefined =
        a && (!b || a.seq > b.seq) ? { s: 0, ...a } : b ? { s: 1, ...b } : undefined;
      if (!best) {
        this.freePairs.push(pair); // allocated but never flushed: reusable
        continue;
      }
      if (a && b && a.chunk !== b.chunk) throw new OverlayFormatError(`overlay is corrupted (pair ${pair} holds chunks ${a.chunk} and ${b.chunk})`);
      if (best.chunk >= chunks) throw new OverlayFormatError(`overlay is corrupted (chunk ${best.chunk} is beyond the ${this.byteLength}-byte base)`);
      if (this.places.has(best.chunk)) throw new OverlayFormatError(`overlay is corrupted (chunk ${best.chunk} appears twice)`);
      this.places.set(best.chunk, { pair, durable: best.s, current: best.s });
      maxSeq = Math.max(maxSeq, a?.seq ?? 0, b?.seq ?? 0);
    }
    this.pairCount = pairs;
    this.seq = maxSeq + 1;
  }
}
