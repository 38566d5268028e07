// Split virtqueue, device side (virtio 1.2, section 2.7). Everything read from guest memory is checked:
// ring addresses and alignment, the available index (may not run ahead by more than the queue size),
// descriptor indices, chain length (a loop ends after queue-size steps), indirect tables, buffer
// addresses and lengths (wholly in RAM), the order of device-readable before device-writable buffers,
// and the total length of a chain. A violation throws VirtqueueError; the transport catches it and puts
// the device into DEVICE_NEEDS_RESET. Nothing here loops without a bound.

import type { GuestMemory } from '../bus.js';
import { boolField, DeviceStateError, intField } from '../state-fields.js';

export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtqueueError';
  }
}

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_MAX_SIZE = 32768;
/** Upper bound on the bytes one chain may describe; keeps a hostile chain from making the host allocate GiBs. */
export const VIRTQ_MAX_CHAIN_BYTES = 64 << 20;
// (virtio-blk advertises seg_max * size_max = 126 * 512 KiB below this; frames and console buffers are far smaller.)

/** A guest buffer, already checked to lie wholly in RAM. */
export interface Segment {
  addr: number;
  len: number;
}

/** One request: a head index and its buffers, split by direction. */
export interface DescriptorChain {
  head: number;
  /** Device-readable buffers (driver -> device), in order. */
  readable: Segment[];
  /** Device-writable buffers (device -> driver), in order. */
  writable: Segment[];
  readableLength: number;
  writableLength: number;
}

export interface VirtqueueState {
  version: 1;
  size: number;
  ready: boolean;
  descAddr: string;
  driverAddr: string;
  deviceAddr: string;
  lastAvailIdx: number;
  usedIdx: number;
  signalledUsedIdx: number;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

export class Virtqueue {
  /**
   * The most bytes one chain may describe. A device whose buffers only name guest memory (the
   * balloon's free page reports: up to 32 blocks of 4 MiB) raises it to the size of RAM.
   */
  maxChainBytes = VIRTQ_MAX_CHAIN_BYTES;
  /** QueueNum as written by the driver. */
  size: number;
  ready = false;
  descAddr = 0n;
  driverAddr = 0n;
  deviceAddr = 0n;
  /** Negotiated features the ring format depends on (set by the transport at FEATURES_OK). */
  indirectEnabled = false;
  eventIdxEnabled = false;

  private lastAvailIdx = 0;
  private usedIdx = 0;
  /** Used index at the last interrupt we sent (EVENT_IDX suppression and "anything new?"). */
  private signalledUsedIdx = 0;
  private budget = 0;
  private desc = 0;
  private avail = 0;
  private used = 0;

  constructor(
    private readonly memory: GuestMemory,
    readonly maxSize: number,
  ) {
    if (!isPowerOfTwo(maxSize) || maxSize > VIRTQ_MAX_SIZE) throw new RangeError('Virtqueue: bad max size');
    this.size = maxSize;
  }

  /** Back to the reset state (device reset): not ready, addresses cleared. */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descAddr = this.driverAddr = this.deviceAddr = 0n;
    this.indirectEnabled = this.eventIdxEnabled = false;
    this.lastAvailIdx = this.usedIdx = this.signalledUsedIdx = 0;
    this.desc = this.avail = this.used = 0;
  }

  /**
   * Called when the driver sets QueueReady: checks size and ring placement (spec 2.7: alignment 16/2/4,
   * all three areas in RAM). Throws VirtqueueError when the driver's setup is unusable.
   */
  enable(): void {
    const n = this.size;
    if (!isPowerOfTwo(n) || n > this.maxSize) throw new VirtqueueError(`queue size ${n} is not a power of two <= ${this.maxSize}`);
    const m = this.memory;
    if (this.descAddr & 15n || !m.isRam(this.descAddr, 16 * n)) throw new VirtqueueError('descriptor table outside RAM or misaligned');
    if (this.driverAddr & 1n || !m.isRam(this.driverAddr, 6 + 2 * n)) throw new VirtqueueError('available ring outside RAM or misaligned');
    if (this.deviceAddr & 3n || !m.isRam(this.deviceAddr, 6 + 8 * n)) throw new VirtqueueError('used ring outside RAM or misaligned');
    this.desc = Number(this.descAddr);
    this.avail = Number(this.driverAddr);
    this.used = Number(this.deviceAddr);
    this.lastAvailIdx = this.usedIdx = this.signalledUsedIdx = 0;
    this.ready = true;
  }

  /** Starts a processing pass: at most `size` chains are taken in one pass, whatever the rings say. */
  beginBatch(): void {
    this.budget = this.size;
  }

  /** True when the driver has made buffers available that we have not taken. */
  hasAvailable(): boolean {
    if (!this.ready) return false;
    return this.memory.readU16(this.avail + 2) !== this.lastAvailIdx;
  }

  /** Takes the next available chain, or null when there is none (or the pass budget is spent). */
  pop(): DescriptorChain | null {
    if (!this.ready || this.budget <= 0) return null;
    const availIdx = this.memory.readU16(this.avail + 2);
    const outstanding = (availIdx - this.lastAvailIdx) & 0xffff;
    if (outstanding > this.size) throw new VirtqueueError(`available index jumped by ${outstanding} (queue size ${this.size})`);
    if (outstanding === 0) {
      this.publishAvailEvent();
      return null;
    }
    const head = this.memory.readU16(this.avail + 4 + 2 * (this.lastAvailIdx % this.size));
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    this.budget--;
    this.publishAvailEvent();
    return this.walk(head);
  }

  /** Gives the last popped chain back (the device could not use it yet, e.g. a receive buffer too small). */
  unpop(): void {
    this.lastAvailIdx = (this.lastAvailIdx - 1) & 0xffff;
    this.budget++;
  }

  /** With EVENT_IDX: ask to be notified as soon as the driver adds anything past what we took. */
  private publishAvailEvent(): void {
    if (this.eventIdxEnabled) this.memory.writeU16(this.used + 4 + 8 * this.size, this.lastAvailIdx);
  }

  private walk(head: number): DescriptorChain {
    if (head >= this.size) throw new VirtqueueError(`descriptor index ${head} out of range`);
    const m = this.memory;
    const chain: DescriptorChain = { head, readable: [], writable: [], readableLength: 0, writableLength: 0 };
    let table = this.desc;
    let tableSize = this.size;
    let idx = head;
    let steps = 0;
    let indirect = false;
    let total = 0;
    for (;;) {
      if (++steps > tableSize) throw new VirtqueueError('descriptor chain longer than its table (loop?)');
      const d = table + 16 * idx;
      const addr = m.readU64(d);
      const len = m.readU32(d + 8);
      const flags = m.readU16(d + 12);
      const next = m.readU16(d + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirectEnabled) throw new VirtqueueError('indirect descriptor without VIRTIO_F_INDIRECT_DESC');
        if (indirect) throw new VirtqueueError('nested indirect descriptor');
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError('indirect descriptor with NEXT');
        const count = len / 16;
        if (len === 0 || len % 16 !== 0 || count > this.size) throw new VirtqueueError(`bad indirect table length ${len}`);
        if (!m.isRam(addr, len)) throw new VirtqueueError('indirect table outside RAM');
        table = Number(addr);
        tableSize = count;
        idx = 0;
        steps = 0;
        indirect = true;
        continue;
      }
      total += len;
      if (total > this.maxChainBytes) throw new VirtqueueError(`descriptor chain longer than ${this.maxChainBytes} bytes`);
      if (len > 0) {
        if (!m.isRam(addr, len)) throw new VirtqueueError(`buffer 0x${addr.toString(16)}+${len} outside RAM`);
        const seg = { addr: Number(addr), len };
        if (flags & VIRTQ_DESC_F_WRITE) {
          chain.writable.push(seg);
          chain.writableLength += len;
        } else {
          if (chain.writable.length > 0) throw new VirtqueueError('device-readable buffer after a device-writable one');
          chain.readable.push(seg);
          chain.readableLength += len;
        }
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
      if (next >= tableSize) throw new VirtqueueError(`next descriptor index ${next} out of range`);
      idx = next;
    }
  }

  /** Returns a chain to the driver, `written` bytes having been written into its writable buffers. */
  push(head: number, written: number): void {
    const slot = this.used + 4 + 8 * (this.usedIdx % this.size);
    this.memory.writeU32(slot, head);
    this.memory.writeU32(slot + 4, written >>> 0);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.memory.writeU16(this.used + 2, this.usedIdx);
  }

  /**
   * After a pass: true when the driver wants an interrupt for the chains used since the last one
   * (spec 2.7.7 and 2.7.10: VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX).
   */
  takeNotification(): boolean {
    if (!this.ready || this.usedIdx === this.signalledUsedIdx) return false;
    const old = this.signalledUsedIdx;
    const now = this.usedIdx;
    this.signalledUsedIdx = now;
    if (this.eventIdxEnabled) {
      const usedEvent = this.memory.readU16(this.avail + 4 + 2 * this.size);
      // vring_need_event: notify when used_event lies in [old, now).
      return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.memory.readU16(this.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  saveState(): VirtqueueState {
    return {
      version: 1,
      size: this.size,
      ready: this.ready,
      descAddr: this.descAddr.toString(),
      driverAddr: this.driverAddr.toString(),
      deviceAddr: this.deviceAddr.toString(),
      lastAvailIdx: this.lastAvailIdx,
      usedIdx: this.usedIdx,
      signalledUsedIdx: this.signalledUsedIdx,
    };
  }

  /** Restores a saved queue; re-checks the ring placement (throws VirtqueueError when it is unusable). */
  loadState(s: object): void {
    const st = s as Partial<VirtqueueState>;
    if (st.version !== 1) throw new Error(`Virtqueue: unsupported state version ${String(st.version)}`);
    // Fields as the driver could have written them (addresses u64 as decimal strings, sizes u32,
    // indices u16), else the state is refused.
    const f = st as Record<string, unknown>;
    const big = (name: string): bigint => {
      const x = f[name];
      if (typeof x !== 'string' || !/^[0-9]{1,20}$/.test(x) || BigInt(x) >= 1n << 64n) throw new DeviceStateError(`virtqueue state: bad ${name}`);
      return BigInt(x);
    };
    const size = intField(f, 'size', 0xffff_ffff, 0xffff_ffff, 'virtqueue');
    const descAddr = big('descAddr');
    const driverAddr = big('driverAddr');
    const deviceAddr = big('deviceAddr');
    const ready = boolField(f, 'ready', 'virtqueue');
    const idx = ready ? ['lastAvailIdx', 'usedIdx', 'signalledUsedIdx'].map((n) => intField(f, n, 0xffff, 0xffff, 'virtqueue')) : [];
    this.size = size;
    this.descAddr = descAddr;
    this.driverAddr = driverAddr;
    this.deviceAddr = deviceAddr;
    this.ready = false;
    if (ready) {
      this.enable();
      [this.lastAvailIdx, this.usedIdx, this.signalledUsedIdx] = idx as [number, number, number];
    }
  }
}

/** Copies `length` bytes starting `offset` bytes into the chain's readable buffers (fewer if the chain is shorter). */
export function readChain(memory: GuestMemory, segments: readonly Segment[], offset: number, length: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, length));
  let done = 0;
  let skip = offset;
  for (const s of segments) {
    if (done >= length) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, length - done);
    out.set(memory.read(s.addr + skip, n), done);
    done += n;
    skip = 0;
  }
  return done === length ? out : out.subarray(0, done);
}

/** Copies `data` into the chain's writable buffers starting `offset` bytes in; returns the bytes written. */
export function writeChain(memory: GuestMemory, segments: readonly Segment[], offset: number, data: Uint8Array): number {
  let done = 0;
  let skip = offset;
  for (const s of segments) {
    if (done >= data.length) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, data.length - done);
    memory.write(s.addr + skip, data.subarray(done, done + n));
    done += n;
    skip = 0;
  }
  return done;
}
