// The overlay format and OverlayDisk over a store that can "crash": every write since the last
// flush may or may not have reached the medium, in any order, and one of them may be torn.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { memoryBase, OverlayDisk, type OverlayStore } from '../../src/devices/backends/overlay-disk.js';
import { HEADER_BYTES, OverlayFormatError, slotOffset } from '../../src/devices/backends/overlay-format.js';

/** A store whose durable bytes change only at flush(); crash images mix in unflushed writes. */
class CrashStore implements OverlayStore {
  durable = new Uint8Array(0);
  pending: { data: Uint8Array; at: number }[] = [];
  flushes = 0;
  constructor(initial?: Uint8Array) {
    if (initial) this.durable = initial.slice();
  }
  private cached: Uint8Array | undefined;
  private view(): Uint8Array {
    this.cached ??= applyWrites(this.durable, this.pending);
    return this.cached;
  }
  size(): number { return this.view().length; }
  read(into: Uint8Array, at: number): number {
    const v = this.view();
    const part = v.subarray(Math.min(at, v.length), Math.min(at + into.length, v.length));
    into.set(part);
    return part.length;
  }
  write(data: Uint8Array, at: number): void {
    this.pending.push({ data: data.slice(), at });
    this.cached = undefined;
  }
  truncate(size: number): void {
    const v = this.view();
    const out = new Uint8Array(size);
    out.set(v.subarray(0, size));
    this.pending = [];
    this.cached = undefined;
    this.durable = out; // (truncation modelled as immediate: only discard() uses it)
  }
  flush(): void {
    this.durable = this.view();
    this.pending = [];
    this.cached = undefined;
    this.flushes++;
  }
  close(): void {}
  /** The medium after a crash: `applied` of the pending writes landed, then `torn` bytes of one more. */
  crashImage(applied: number[], torn?: { index: number; bytes: number }): Uint8Array {
    const writes = applied.map((i) => this.pending[i]!);
    if (torn) {
      const w = this.pending[torn.index]!;
      writes.push({ data: w.data.subarray(0, torn.bytes), at: w.at });
    }
    return applyWrites(this.durable, writes);
  }
}

function applyWrites(base: Uint8Array, writes: { data: Uint8Array; at: number }[]): Uint8Array {
  let size = base.length;
  for (const w of writes) size = Math.max(size, w.at + w.data.length);
  const out = new Uint8Array(size);
  out.set(base);
  for (const w of writes) out.set(w.data, w.at);
  return out;
}

function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

function randomBytes(n: number, rnd: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rnd() * 256) | 0;
  return out;
}

const CHUNK = 4096;
const BASE_BYTES = 64 * CHUNK + 1024; // a short last chunk too
const rnd0 = seeded(7);
const baseBytes = randomBytes(BASE_BYTES, rnd0);
const base = memoryBase(baseBytes, new Uint8Array(createHash('sha256').update(baseBytes).digest()));

/** Applies random sector writes to both the disk and a plain model of it. */
function scribble(disk: OverlayDisk, model: Uint8Array, rnd: () => number, count: number, touched?: Uint8Array): void {
  for (let i = 0; i < count; i++) {
    const sectors = 1 + ((rnd() * 24) | 0);
    const start = ((rnd() * (BASE_BYTES / 512 - sectors)) | 0) * 512;
    const data = randomBytes(sectors * 512, rnd);
    disk.write(start, data);
    model.set(data, start);
    touched?.fill(1, start, start + data.length);
  }
}

function chunkOf(bytes: Uint8Array, i: number): Uint8Array {
  return bytes.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, bytes.length));
}

describe('OverlayDisk', () => {
  it('reads the base until written, keeps the base untouched, and survives a reopen after flush', () => {
    const store = new CrashStore();
    const disk = new OverlayDisk(store, base, { chunkBytes: CHUNK });
    expectSame(disk.read(0, BASE_BYTES), baseBytes);
    const model = baseBytes.slice();
    scribble(disk, model, seeded(1), 40);
    expectSame(disk.read(0, BASE_BYTES), model);
    disk.flush();
    expect(createHash('sha256').update(baseBytes).digest()).toEqual(Buffer.from(base.sha256));
    const again = new OverlayDisk(new CrashStore(store.durable), base, { chunkBytes: CHUNK });
    expectSame(again.read(0, BASE_BYTES), model);
  });

  it.each([
    ['whole chunks at flush', 1 << 30],
    ['chunks also spilled between flushes', 8 * CHUNK],
  ])('a crash at every write step of a flush keeps everything flushed before it (any order, torn writes): %s', (_, spillBytes) => {
    const rnd = seeded(3);
    const store = new CrashStore();
    const disk = new OverlayDisk(store, base, { chunkBytes: CHUNK, spillBytes });
    const synced = baseBytes.slice();
    scribble(disk, synced, rnd, 30);
    disk.flush();
    for (let round = 0; round < 3; round++) {
      const next = synced.slice();
      const touched = new Uint8Array(BASE_BYTES);
      scribble(disk, next, rnd, 30, touched);
      // Look at the store just before this flush's fsync: every pending write is a step.
      const realFlush = store.flush.bind(store);
      let checked = 0;
      store.flush = () => {
        const n = store.pending.length;
        const images: Uint8Array[] = [];
        for (let k = 0; k <= n; k++) images.push(store.crashImage([...Array(k).keys()])); // in order, whole
        for (let k = 0; k < n; k++) {
          images.push(store.crashImage([...Array(k).keys()], { index: k, bytes: (rnd() * store.pending[k]!.data.length) | 0 }));
          const subset = [...Array(n).keys()].filter(() => rnd() < 0.5); // out of order
          images.push(store.crashImage(subset, { index: k, bytes: (rnd() * store.pending[k]!.data.length) | 0 }));
        }
        for (const image of images) {
          const seen = new OverlayDisk(new CrashStore(image), base).read(0, BASE_BYTES);
          for (let c = 0; c * CHUNK < BASE_BYTES; c++) {
            const got = chunkOf(seen, c);
            // Without spills a chunk is wholly old or new; with them an unflushed middle version
            // may show in the bytes written since the flush, never in the others.
            const ok = equal(got, chunkOf(synced, c)) || equal(got, chunkOf(next, c)) ||
              (spillBytes < BASE_BYTES && got.every((b, i) => b === chunkOf(synced, c)[i] || chunkOf(touched, c)[i] === 1));
            if (!ok) throw new Error(`round ${round}: chunk ${c} lost data flushed before the crash`);
          }
          checked++;
        }
        realFlush();
      };
      disk.flush();
      store.flush = realFlush;
      expect(checked).toBeGreaterThan(10);
      synced.set(next);
      expectSame(new OverlayDisk(new CrashStore(store.durable), base).read(0, BASE_BYTES), synced);
    }
  });

  it('ignores a torn slot: the chunk keeps its last flushed version', () => {
    const store = new CrashStore();
    const disk = new OverlayDisk(store, base, { chunkBytes: CHUNK });
    disk.write(0, new Uint8Array(512).fill(0xaa));
    disk.flush();
    disk.write(0, new Uint8Array(512).fill(0xbb));
    disk.flush();
    disk.write(0, new Uint8Array(512).fill(0xcc));
    disk.flush();
    // Tear the newest slot (pair 0 holds chunk 0; the third version went to slot 0).
    const image = store.durable.slice();
    image[slotOffset(CHUNK, 0, 0) + 32 + 100] ^= 0xff;
    expect(new OverlayDisk(new CrashStore(image), base).read(0, 4)).toEqual(new Uint8Array(4).fill(0xbb));
    // A slot cut short at the end of the file
    const cut = store.durable.slice(0, slotOffset(CHUNK, 0, 1) + 40);
    expect(new OverlayDisk(new CrashStore(cut), base).read(0, 4)).toEqual(new Uint8Array(4).fill(0xcc));
  });

  it('reuses a pair that never got a valid slot, and discard() goes back to the base durably', () => {
    const store = new CrashStore();
    const disk = new OverlayDisk(store, base, { chunkBytes: CHUNK });
    disk.write(0, new Uint8Array(512).fill(1));
    disk.flush();
    disk.write(CHUNK * 5, new Uint8Array(512).fill(2));
    disk.flush();
    const image = store.durable.slice();
    image[slotOffset(CHUNK, 1, 0)] ^= 0xff; // pair 1's only slot is damaged
    const reopened = new OverlayDisk(new CrashStore(image), base);
    expect(reopened.read(CHUNK * 5, 512)).toEqual(baseBytes.subarray(CHUNK * 5, CHUNK * 5 + 512));
    expect(reopened.fileBytes).toBe(HEADER_BYTES + 2 * 2 * (32 + CHUNK));
    reopened.write(CHUNK * 9, new Uint8Array(512).fill(3));
    reopened.flush();
    expect(reopened.fileBytes).toBe(HEADER_BYTES + 2 * 2 * (32 + CHUNK)); // pair 1 reused
    disk.discard();
    expect(store.durable.length).toBe(HEADER_BYTES);
    expectSame(new OverlayDisk(new CrashStore(store.durable), base).read(0, BASE_BYTES), baseBytes);
  });

  it('names its contents: "base" while empty, a new name after each flushed change and after discard', () => {
    const store = new CrashStore();
    const disk = new OverlayDisk(store, base, { chunkBytes: CHUNK });
    expect(disk.generation()).toBe('base');
    disk.write(0, new Uint8Array(512).fill(9));
    const first = disk.generation(); // flushes
    expect(first).toMatch(/^[0-9a-f]{32}:\d+$/);
    expect(store.pending).toEqual([]);
    expect(new OverlayDisk(new CrashStore(store.durable), base).generation()).toBe(first); // a reopen agrees
    expect(disk.generation()).toBe(first); // nothing new
    disk.write(512, new Uint8Array(512).fill(8));
    const second = disk.generation();
    expect(second).not.toBe(first);
    disk.discard();
    expect(disk.generation()).toBe('base');
    disk.write(0, new Uint8Array(512).fill(9));
    expect(disk.generation().split(':')[0]).not.toBe(first.split(':')[0]); // another overlay now
  });

  it('refuses files that are not an overlay for this base, with one line', () => {
    const store = new CrashStore();
    new OverlayDisk(store, base, { chunkBytes: CHUNK }).flush();
    const good = store.durable;
    const open = (bytes: Uint8Array, b = base): string => {
      try {
        new OverlayDisk(new CrashStore(bytes), b);
        return 'opened';
      } catch (err) {
        expect(err).toBeInstanceOf(OverlayFormatError);
        return (err as Error).message;
      }
    };
    expect(open(new TextEncoder().encode('hello world, not an overlay'))).toBe('not a Tabvisor disk overlay');
    expect(open(good.slice(0, 20))).toBe('overlay is truncated (header cut short)');
    const bad = good.slice();
    bad[30] ^= 1;
    expect(open(bad)).toBe('overlay header is corrupted (checksum mismatch)');
    const other = baseBytes.slice();
    other[0] ^= 1;
    expect(open(good, memoryBase(other, new Uint8Array(createHash('sha256').update(other).digest())))).toMatch(/^overlay belongs to another base image \(made for 263168 bytes/);
    for (const message of [open(bad), open(good.slice(0, 20))]) expect(message).not.toContain('\n');
  });
});

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** toEqual on big typed arrays is slow; a byte comparison says the same. */
function expectSame(a: Uint8Array, b: Uint8Array): void {
  expect(a.length).toBe(b.length);
  expect(equal(a, b)).toBe(true);
}
