// A small virtio-mmio driver for tests: negotiates like Linux's virtio_mmio.c, lays out split rings in
// ArrayGuestMemory and posts real descriptor chains. Tests also use it to post hostile ones.

import { ArrayGuestMemory } from '../../../src/devices/guest-memory.js';
import { REG, type VirtioMmioTransport } from '../../../src/devices/virtio/mmio-transport.js';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_F_VERSION_1,
} from '../../../src/devices/virtio/device.js';

export interface Buffer {
  /** Guest address; allocated when omitted. */
  addr?: number;
  /** Contents for a device-readable buffer. */
  data?: Uint8Array;
  /** Length (defaults to data.length). */
  len?: number;
  /** Device-writable. */
  write?: boolean;
}

export interface QueueLayout {
  size: number;
  desc: number;
  avail: number;
  used: number;
  nextDesc: number;
  availIdx: number;
  lastUsed: number;
}

export class BumpAllocator {
  constructor(private next: number) {}
  alloc(len: number, align = 16): number {
    this.next = Math.ceil(this.next / align) * align;
    const a = this.next;
    this.next += len;
    return a;
  }
}

export class TestVirtioDriver {
  readonly queues: QueueLayout[] = [];
  readonly alloc: BumpAllocator;

  constructor(
    readonly transport: VirtioMmioTransport,
    readonly mem: ArrayGuestMemory,
    allocBase = mem.base + 0x10_0000,
  ) {
    this.alloc = new BumpAllocator(allocBase);
  }

  r(off: number): number {
    return this.transport.read(off, 4);
  }

  w(off: number, v: number): void {
    this.transport.write(off, 4, v);
  }

  deviceFeatures(): bigint {
    this.w(REG.DeviceFeaturesSel, 0);
    const lo = BigInt(this.r(REG.DeviceFeatures));
    this.w(REG.DeviceFeaturesSel, 1);
    const hi = BigInt(this.r(REG.DeviceFeatures));
    return (hi << 32n) | lo;
  }

  /** Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns the status read back. */
  negotiate(wanted: bigint = VIRTIO_F_VERSION_1): number {
    this.w(REG.Status, 0);
    this.w(REG.Status, STATUS_ACKNOWLEDGE);
    this.w(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    const features = this.deviceFeatures() & wanted;
    this.w(REG.DriverFeaturesSel, 0);
    this.w(REG.DriverFeatures, Number(features & 0xffff_ffffn));
    this.w(REG.DriverFeaturesSel, 1);
    this.w(REG.DriverFeatures, Number(features >> 32n));
    this.w(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    return this.r(REG.Status);
  }

  setupQueue(index: number, size?: number): QueueLayout {
    this.w(REG.QueueSel, index);
    const max = this.r(REG.QueueNumMax);
    const n = size ?? max;
    const q: QueueLayout = {
      size: n,
      desc: this.alloc.alloc(16 * n, 16),
      avail: this.alloc.alloc(6 + 2 * n, 2),
      used: this.alloc.alloc(6 + 8 * n, 4),
      nextDesc: 0,
      availIdx: 0,
      lastUsed: 0,
    };
    this.w(REG.QueueNum, n);
    this.w(REG.QueueDescLow, q.desc);
    this.w(REG.QueueDescHigh, 0);
    this.w(REG.QueueDriverLow, q.avail);
    this.w(REG.QueueDriverHigh, 0);
    this.w(REG.QueueDeviceLow, q.used);
    this.w(REG.QueueDeviceHigh, 0);
    this.w(REG.QueueReady, 1);
    this.queues[index] = q;
    return q;
  }

  driverOk(): void {
    this.w(REG.Status, this.r(REG.Status) | STATUS_DRIVER_OK);
  }

  /** Full bring-up: negotiate, set up `queueCount` queues, DRIVER_OK. */
  init(queueCount: number, wanted: bigint = VIRTIO_F_VERSION_1, size?: number): void {
    this.negotiate(wanted);
    for (let i = 0; i < queueCount; i++) this.setupQueue(i, size);
    this.driverOk();
  }

  /** Allocates (and fills) the buffers' memory; returns addresses and lengths. */
  private place(bufs: Buffer[]): { addr: number; len: number; write: boolean }[] {
    return bufs.map((b) => {
      const len = b.len ?? b.data?.length ?? 0;
      const addr = b.addr ?? this.alloc.alloc(Math.max(len, 1), 8);
      if (b.data && b.addr === undefined) this.mem.write(addr, b.data);
      return { addr, len, write: b.write ?? false };
    });
  }

  writeDesc(table: number, i: number, addr: bigint | number, len: number, flags: number, next: number): void {
    const d = table + 16 * i;
    this.mem.writeU64(d, BigInt(addr));
    this.mem.writeU32(d + 8, len);
    this.mem.writeU16(d + 12, flags);
    this.mem.writeU16(d + 14, next);
  }

  /** Posts a chain (direct descriptors) without notifying; returns the head index. */
  post(qi: number, bufs: Buffer[]): number {
    const q = this.queues[qi];
    const placed = this.place(bufs);
    const head = q.nextDesc;
    placed.forEach((b, k) => {
      const i = (head + k) % q.size;
      const last = k === placed.length - 1;
      this.writeDesc(q.desc, i, b.addr, b.len, (last ? 0 : 1) | (b.write ? 2 : 0), (i + 1) % q.size);
    });
    q.nextDesc = (head + placed.length) % q.size;
    this.publish(qi, head);
    return head;
  }

  /** Posts a chain through one indirect descriptor. */
  postIndirect(qi: number, bufs: Buffer[]): number {
    const q = this.queues[qi];
    const placed = this.place(bufs);
    const table = this.alloc.alloc(16 * placed.length, 16);
    placed.forEach((b, k) => {
      const last = k === placed.length - 1;
      this.writeDesc(table, k, b.addr, b.len, (last ? 0 : 1) | (b.write ? 2 : 0), k + 1);
    });
    const head = q.nextDesc;
    this.writeDesc(q.desc, head, table, 16 * placed.length, 4, 0);
    q.nextDesc = (head + 1) % q.size;
    this.publish(qi, head);
    return head;
  }

  /** Puts `head` into the available ring and bumps the index. */
  publish(qi: number, head: number): void {
    const q = this.queues[qi];
    this.mem.writeU16(q.avail + 4 + 2 * (q.availIdx % q.size), head);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.mem.writeU16(q.avail + 2, q.availIdx);
  }

  notify(qi: number): void {
    this.w(REG.QueueNotify, qi);
  }

  /** Used entries since the last call. */
  takeUsed(qi: number): { id: number; len: number }[] {
    const q = this.queues[qi];
    const idx = this.mem.readU16(q.used + 2);
    const out: { id: number; len: number }[] = [];
    while (q.lastUsed !== idx) {
      const e = q.used + 4 + 8 * (q.lastUsed % q.size);
      out.push({ id: this.mem.readU32(e), len: this.mem.readU32(e + 4) });
      q.lastUsed = (q.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** Reads InterruptStatus and acknowledges it. */
  ackInterrupt(): number {
    const s = this.r(REG.InterruptStatus);
    this.w(REG.InterruptACK, s);
    return s;
  }
}

/** An IrqLine that records its level. */
export class TestIrq {
  level = false;
  raised = 0;
  set(level: boolean): void {
    if (level && !this.level) this.raised++;
    this.level = level;
  }
}
