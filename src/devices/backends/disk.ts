// Block back ends: the host side of a virtual disk. Synchronous by design: Node reads files with
// readSync, a browser worker uses an OPFS sync access handle, and tests use memory.

export const SECTOR_SIZE = 512;

/** A disk as the block front end sees it. Offsets and lengths are in bytes; the front end checks ranges. */
export interface BlockBackend {
  /** Size in bytes. */
  readonly byteLength: number;
  readonly readOnly: boolean;
  /** Serial number reported by GET_ID (at most 20 bytes are used). */
  readonly serial: string;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  /** Makes written data durable (a no-op for memory back ends). */
  flush(): void;
  /**
   * Persistent disks only (overlay-disk.ts): a name for the current contents, so that a machine
   * state saved with the disk knows whether the disk is still as it was. 'base' when the disk
   * holds no write at all (then it is its base image, and a state's disk may always be copied on).
   */
  generation?(): string;
}

/**
 * Makes `target` hold what `source` holds (a machine state's disk put back on a persistent disk):
 * only pieces that differ are written, then the target is flushed.
 */
export function copyDiskInto(target: BlockBackend, source: { byteLength: number; read(offset: number, length: number): Uint8Array }): void {
  if (target.byteLength !== source.byteLength) {
    throw new RangeError(`the saved disk is ${source.byteLength} bytes, this disk ${target.byteLength}`);
  }
  const piece = 64 * 1024;
  for (let at = 0; at < target.byteLength; at += piece) {
    const n = Math.min(piece, target.byteLength - at);
    const want = source.read(at, n);
    const have = target.read(at, n);
    if (!sameBytes(want, have)) target.write(at, want);
  }
  target.flush();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Splits the byte range [offset, offset + length) of a disk at chunk boundaries: `each` gets the
 * chunk's index, where in the chunk the piece starts, its length, and how much came before it.
 */
export function forEachChunk(
  offset: number,
  length: number,
  chunkBytes: number,
  each: (index: number, within: number, n: number, done: number) => void,
): void {
  let done = 0;
  while (done < length) {
    const pos = offset + done;
    const index = Math.floor(pos / chunkBytes);
    const within = pos - index * chunkBytes;
    const n = Math.min(chunkBytes - within, length - done);
    each(index, within, n, done);
    done += n;
  }
}

export interface MemoryOverlayDiskState {
  version: 1;
  chunkSize: number;
  byteLength: number;
  /** Overlay chunks by index: only what the guest wrote. */
  chunks: { index: number; data: Uint8Array }[];
}

/**
 * A read-only base image plus a copy-on-write overlay, kept in memory in chunks of `chunkSize` bytes.
 * The base is never modified until commit() is called (e.g. the user chose to keep their work).
 */
export class MemoryOverlayDisk implements BlockBackend {
  readonly byteLength: number;
  readonly chunkSize: number;
  private overlay = new Map<number, Uint8Array>();

  constructor(
    private readonly base: Uint8Array,
    options: { chunkSize?: number; readOnly?: boolean; serial?: string } = {},
  ) {
    this.chunkSize = options.chunkSize ?? 4096;
    if (this.chunkSize < SECTOR_SIZE || this.chunkSize & (this.chunkSize - 1)) throw new RangeError('chunk size must be a power of two >= 512');
    this.byteLength = base.length;
    this.readOnly = options.readOnly ?? false;
    this.serial = options.serial ?? 'tabvisor-disk';
  }

  readonly readOnly: boolean;
  readonly serial: string;

  private checkRange(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new RangeError(`disk access ${offset}+${length} beyond ${this.byteLength} bytes`);
    }
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    const out = new Uint8Array(length);
    forEachChunk(offset, length, this.chunkSize, (index, within, n, done) => {
      const pos = offset + done;
      const chunk = this.overlay.get(index);
      out.set(chunk ? chunk.subarray(within, within + n) : this.base.subarray(pos, pos + n), done);
    });
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new Error('disk is read-only');
    this.checkRange(offset, data.length);
    forEachChunk(offset, data.length, this.chunkSize, (index, within, n, done) => {
      let chunk = this.overlay.get(index);
      if (chunk === undefined) {
        // Copy on write: the chunk starts as the base's content (the last chunk may be short).
        chunk = new Uint8Array(this.chunkSize);
        const start = index * this.chunkSize;
        chunk.set(this.base.subarray(start, Math.min(start + this.chunkSize, this.byteLength)));
        this.overlay.set(index, chunk);
      }
      chunk.set(data.subarray(done, done + n), within);
    });
  }

  flush(): void {}

  /** Bytes held by the overlay. */
  get overlayBytes(): number {
    return this.overlay.size * this.chunkSize;
  }

  /** The overlay's chunks (index, data), e.g. to persist them elsewhere. */
  overlayChunks(): IterableIterator<[number, Uint8Array]> {
    return this.overlay.entries();
  }

  /** Writes the overlay back into the base image and empties it. */
  commit(): void {
    for (const [index, chunk] of this.overlay) {
      const start = index * this.chunkSize;
      const n = Math.min(this.chunkSize, this.byteLength - start);
      this.base.set(chunk.subarray(0, n), start);
    }
    this.overlay.clear();
  }

  /** Drops every write since the last commit (back to the clean base). */
  discard(): void {
    this.overlay.clear();
  }

  saveState(): MemoryOverlayDiskState {
    return {
      version: 1,
      chunkSize: this.chunkSize,
      byteLength: this.byteLength,
      chunks: [...this.overlay].map(([index, data]) => ({ index, data: data.slice() })),
    };
  }

  loadState(s: object): void {
    const st = s as Partial<MemoryOverlayDiskState>;
    if (st.version !== 1) throw new Error(`MemoryOverlayDisk: unsupported state version ${String(st.version)}`);
    if (st.chunkSize !== this.chunkSize || st.byteLength !== this.byteLength) throw new Error('MemoryOverlayDisk: state is for a different disk');
    const chunks = new Map<number, Uint8Array>();
    const count = Math.ceil(this.byteLength / this.chunkSize);
    if (!Array.isArray(st.chunks) || st.chunks.length > count) throw new Error('MemoryOverlayDisk: bad chunk list in state');
    for (const c of st.chunks) {
      if (typeof c !== 'object' || c === null || chunks.has(c.index)) throw new Error('MemoryOverlayDisk: bad chunk in state');
      if (!Number.isInteger(c.index) || c.index < 0 || c.index >= count || !(c.data instanceof Uint8Array) || c.data.length !== this.chunkSize) {
        throw new Error('MemoryOverlayDisk: bad chunk in state');
      }
      chunks.set(c.index, c.data.slice());
    }
    this.overlay = chunks;
  }
}
