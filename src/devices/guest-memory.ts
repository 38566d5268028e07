// Guest RAM over a plain Uint8Array: the RAM implementation device tests (and other layers' tests) use,
// and a reference for the wasm-backed one the engine provides. Every access is bounds-checked.

import { GuestMemoryError, type GuestMemory } from './bus.js';

export const RAM_BASE = 0x8000_0000;
const PAGE_SHIFT = 12;

/** Converts a guest address to a JS number; anything beyond 2^53 cannot be RAM and yields -1. */
function addrToNumber(addr: bigint | number): number {
  if (typeof addr === 'bigint') {
    return addr >= 0n && addr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(addr) : -1;
  }
  return Number.isSafeInteger(addr) && addr >= 0 ? addr : -1;
}

export class ArrayGuestMemory implements GuestMemory {
  readonly base: number;
  readonly size: number;
  private array: Uint8Array;
  private dataView: DataView;
  private readonly source: (() => Uint8Array) | undefined;
  /** One bit per 4 KiB page written through this interface (device DMA); read by snapshot code. */
  private readonly dirty: Uint8Array;

  /**
   * `ram` is a size in bytes, an existing array to use as RAM (not copied), or a function returning
   * it, e.g. `() => core.ram` for the core's RAM inside wasm memory: it is called again whenever the
   * array it gave has been detached (the wasm memory grew). `onWrite` is told of every device write
   * (offset from base, length), e.g. to mark the core's own dirty bitmap.
   */
  constructor(
    ram: number | Uint8Array | (() => Uint8Array),
    base: number = RAM_BASE,
    private readonly onWrite?: (offset: number, length: number) => void,
  ) {
    this.source = typeof ram === 'function' ? ram : undefined;
    this.array = typeof ram === 'number' ? new Uint8Array(ram) : typeof ram === 'function' ? ram() : ram;
    this.size = this.array.length;
    this.base = base;
    this.dataView = new DataView(this.array.buffer, this.array.byteOffset, this.array.byteLength);
    this.dirty = new Uint8Array(Math.ceil((this.size >>> PAGE_SHIFT) / 8) + 1);
  }

  /** The RAM bytes (index 0 = guest-physical `base`). */
  get bytes(): Uint8Array {
    if (this.array.byteLength !== this.size && this.source !== undefined) this.refresh();
    return this.array;
  }

  private get view(): DataView {
    if (this.array.byteLength !== this.size && this.source !== undefined) this.refresh();
    return this.dataView;
  }

  private refresh(): void {
    const a = this.source!();
    if (a.length !== this.size) throw new GuestMemoryError('guest RAM changed size');
    this.array = a;
    this.dataView = new DataView(a.buffer, a.byteOffset, a.byteLength);
  }

  /** Offset into `bytes` of [addr, addr+len), or -1 when any part lies outside RAM. */
  offsetOf(addr: bigint | number, len: number): number {
    if (!Number.isSafeInteger(len) || len < 0) return -1;
    const a = addrToNumber(addr);
    if (a < this.base) return -1;
    const off = a - this.base;
    return off + len <= this.size ? off : -1;
  }

  isRam(addr: bigint | number, len: number): boolean {
    return this.offsetOf(addr, len) >= 0;
  }

  private check(addr: bigint | number, len: number): number {
    const off = this.offsetOf(addr, len);
    if (off < 0) throw new GuestMemoryError(`guest access outside RAM: ${addr.toString(16)}+${len}`);
    return off;
  }

  private markDirty(off: number, len: number): void {
    if (len === 0) return;
    this.onWrite?.(off, len);
    const last = (off + len - 1) >>> PAGE_SHIFT;
    for (let p = off >>> PAGE_SHIFT; p <= last; p++) this.dirty[p >>> 3] |= 1 << (p & 7);
  }

  read(addr: bigint | number, len: number): Uint8Array {
    const off = this.check(addr, len);
    return this.bytes.slice(off, off + len);
  }

  write(addr: bigint | number, data: Uint8Array): void {
    const off = this.check(addr, data.length);
    this.bytes.set(data, off);
    this.markDirty(off, data.length);
  }

  readU8(addr: bigint | number): number {
    return this.bytes[this.check(addr, 1)];
  }
  readU16(addr: bigint | number): number {
    return this.view.getUint16(this.check(addr, 2), true);
  }
  readU32(addr: bigint | number): number {
    return this.view.getUint32(this.check(addr, 4), true);
  }
  readU64(addr: bigint | number): bigint {
    return this.view.getBigUint64(this.check(addr, 8), true);
  }
  writeU8(addr: bigint | number, value: number): void {
    const off = this.check(addr, 1);
    this.bytes[off] = value;
    this.markDirty(off, 1);
  }
  writeU16(addr: bigint | number, value: number): void {
    const off = this.check(addr, 2);
    this.view.setUint16(off, value, true);
    this.markDirty(off, 2);
  }
  writeU32(addr: bigint | number, value: number): void {
    const off = this.check(addr, 4);
    this.view.setUint32(off, value >>> 0, true);
    this.markDirty(off, 4);
  }
  writeU64(addr: bigint | number, value: bigint): void {
    const off = this.check(addr, 8);
    this.view.setBigUint64(off, BigInt.asUintN(64, value), true);
    this.markDirty(off, 8);
  }

  /** Page numbers (relative to base) written since the last call; clears the record. */
  takeDirtyPages(): number[] {
    const pages: number[] = [];
    for (let i = 0; i < this.dirty.length; i++) {
      const b = this.dirty[i];
      if (b === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) pages.push(i * 8 + bit);
      this.dirty[i] = 0;
    }
    return pages;
  }
}
