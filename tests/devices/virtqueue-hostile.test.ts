// A hostile driver: every malformed ring must end in DEVICE_NEEDS_RESET, a configuration interrupt,
// and no further processing. Nothing may throw to the caller or hang.

import { describe, expect, it } from 'vitest';
import { ArrayGuestMemory } from '../../src/devices/guest-memory.js';
import { VirtioMmioTransport, REG, INT_CONFIG_CHANGE } from '../../src/devices/virtio/mmio-transport.js';
import { VirtioRng } from '../../src/devices/virtio/rng.js';
import { VirtioBlock } from '../../src/devices/virtio/block.js';
import { VirtioNet } from '../../src/devices/virtio/net.js';
import { VirtioConsole } from '../../src/devices/virtio/console.js';
import { MemoryOverlayDisk } from '../../src/devices/backends/disk.js';
import { BufferConsole } from '../../src/devices/backends/console.js';
import { createNetPair } from '../../src/devices/backends/net.js';
import { STATUS_DEVICE_NEEDS_RESET, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioDevice } from '../../src/devices/virtio/device.js';
import { TestIrq, TestVirtioDriver } from './helpers/virtio-driver.js';

const RAM = 1 << 20;

function setup(device: VirtioDevice = new VirtioRng((b) => b.fill(7)), features = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC, queues = 1) {
  const mem = new ArrayGuestMemory(RAM);
  const irq = new TestIrq();
  const t = new VirtioMmioTransport(device, mem, irq);
  const drv = new TestVirtioDriver(t, mem, mem.base + 0x1000);
  drv.init(queues, features, 8);
  return { mem, irq, t, drv };
}

function expectNeedsReset(s: ReturnType<typeof setup>, reason: RegExp): void {
  expect(s.drv.r(REG.Status) & STATUS_DEVICE_NEEDS_RESET).toBe(STATUS_DEVICE_NEEDS_RESET);
  expect(s.drv.r(REG.InterruptStatus) & INT_CONFIG_CHANGE).toBe(INT_CONFIG_CHANGE);
  expect(s.irq.level).toBe(true);
  expect(s.t.failureReason).toMatch(reason);
}

/** After a failure the device ignores the queue, and a reset brings it back. */
function expectRecoversAfterReset(s: ReturnType<typeof setup>, queues = 1): void {
  const used = s.drv.takeUsed(0).length;
  s.drv.post(0, [{ len: 4, write: true }]);
  s.drv.notify(0);
  expect(s.drv.takeUsed(0).length).toBe(0);
  void used;
  s.drv.init(queues, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC, 8);
  expect(s.drv.r(REG.Status) & STATUS_DEVICE_NEEDS_RESET).toBe(0);
  expect(s.t.failureReason).toBeNull();
}

describe('virtqueue hostile input', () => {
  it('stops a descriptor loop after queue-size steps', () => {
    const s = setup();
    const q = s.drv.queues[0];
    const buf = s.drv.alloc.alloc(16);
    s.drv.writeDesc(q.desc, 0, buf, 4, 1 | 2, 1);
    s.drv.writeDesc(q.desc, 1, buf, 4, 1 | 2, 0); // 1 -> 0 -> 1 ...
    s.drv.publish(0, 0);
    expect(() => s.drv.notify(0)).not.toThrow();
    expectNeedsReset(s, /loop/);
    expectRecoversAfterReset(s);
  });

  it('stops a self-referencing indirect table', () => {
    const s = setup();
    const q = s.drv.queues[0];
    const table = s.drv.alloc.alloc(32);
    const buf = s.drv.alloc.alloc(16);
    s.drv.writeDesc(table, 0, buf, 4, 1 | 2, 1);
    s.drv.writeDesc(table, 1, buf, 4, 1 | 2, 0);
    s.drv.writeDesc(q.desc, 0, table, 32, 4, 0);
    s.drv.publish(0, 0);
    s.drv.notify(0);
    expectNeedsReset(s, /loop/);
  });

  it('rejects a head index beyond the queue', () => {
    const s = setup();
    s.drv.publish(0, 8);
    s.drv.notify(0);
    expectNeedsReset(s, /index 8 out of range/);
  });

  it('rejects a next index beyond the queue', () => {
    const s = setup();
    const q = s.drv.queues[0];
    s.drv.writeDesc(q.desc, 0, s.drv.alloc.alloc(8), 4, 1 | 2, 200);
    s.drv.publish(0, 0);
    s.drv.notify(0);
    expectNeedsReset(s, /out of range/);
  });

  it('rejects buffers outside RAM, wrapping, and in the MMIO hole', () => {
    for (const [addr, len] of [
      [0x1000_0000n, 4],
      [0x8000_0000n + BigInt(RAM) - 2n, 4],
      [0xffff_ffff_ffff_fff0n, 0x20],
      [0x7fff_fff0n, 0x20],
    ] as const) {
      const s = setup();
      s.drv.writeDesc(s.drv.queues[0].desc, 0, addr, len, 2, 0);
      s.drv.publish(0, 0);
      s.drv.notify(0);
      expectNeedsReset(s, /outside RAM/);
    }
  });

  it('rejects huge lengths without allocating them', () => {
    const s = setup();
    const q = s.drv.queues[0];
    const base = s.mem.base;
    // Eight descriptors each covering the upper half of RAM (away from the rings): 4 MiB is fine.
    for (let i = 0; i < 8; i++) s.drv.writeDesc(q.desc, i, base + RAM / 2, RAM / 2, (i < 7 ? 1 : 0) | 2, i + 1);
    s.drv.publish(0, 0);
    s.drv.notify(0);
    expect(s.t.failureReason).toBeNull();
    expect(s.drv.takeUsed(0)).toEqual([{ id: 0, len: 64 * 1024 }]); // rng gives at most 64 KiB per request
    const t = setup();
    t.drv.writeDesc(t.drv.queues[0].desc, 0, base, 0xffff_ffff, 2, 0);
    t.drv.publish(0, 0);
    t.drv.notify(0);
    expectNeedsReset(t, /longer than|outside RAM/);
  });

  it('caps the total length of a chain even when every buffer is in RAM', () => {
    const big = 16 << 20;
    const mem = new ArrayGuestMemory(big);
    const irq = new TestIrq();
    const t = new VirtioMmioTransport(new VirtioRng((b) => b.fill(1)), mem, irq);
    const drv = new TestVirtioDriver(t, mem, mem.base + 0x1000);
    drv.init(1, VIRTIO_F_VERSION_1, 8);
    // Eight descriptors, each all of RAM: 128 MiB described, over the 64 MiB cap.
    for (let i = 0; i < 8; i++) drv.writeDesc(drv.queues[0].desc, i, mem.base, big, (i < 7 ? 1 : 0) | 2, i + 1);
    drv.publish(0, 0);
    drv.notify(0);
    expect(t.failureReason).toMatch(/longer than 67108864 bytes/);
    expect(irq.level).toBe(true);
  });

  it('rejects the available index running ahead by more than the queue size', () => {
    const s = setup();
    s.mem.writeU16(s.drv.queues[0].avail + 2, 9);
    s.drv.notify(0);
    expectNeedsReset(s, /jumped by 9/);
    const t = setup();
    t.mem.writeU16(t.drv.queues[0].avail + 2, 0xffff); // "backwards" is also a huge jump
    t.drv.notify(0);
    expectNeedsReset(t, /jumped/);
  });

  it('rejects indirect descriptors that were not negotiated, nested, with NEXT, or of bad length', () => {
    const noIndirect = setup(undefined, VIRTIO_F_VERSION_1);
    noIndirect.drv.postIndirect(0, [{ len: 4, write: true }]);
    noIndirect.drv.notify(0);
    expectNeedsReset(noIndirect, /without VIRTIO_F_INDIRECT_DESC/);

    const nested = setup();
    const inner = nested.drv.alloc.alloc(16);
    nested.drv.writeDesc(inner, 0, nested.drv.alloc.alloc(8), 8, 2, 0);
    const outer = nested.drv.alloc.alloc(16);
    nested.drv.writeDesc(outer, 0, inner, 16, 4, 0);
    nested.drv.writeDesc(nested.drv.queues[0].desc, 0, outer, 16, 4, 0);
    nested.drv.publish(0, 0);
    nested.drv.notify(0);
    expectNeedsReset(nested, /nested/);

    const withNext = setup();
    withNext.drv.writeDesc(withNext.drv.queues[0].desc, 0, withNext.drv.alloc.alloc(16), 16, 4 | 1, 1);
    withNext.drv.publish(0, 0);
    withNext.drv.notify(0);
    expectNeedsReset(withNext, /NEXT/);

    const badLen = setup();
    badLen.drv.writeDesc(badLen.drv.queues[0].desc, 0, badLen.drv.alloc.alloc(16), 15, 4, 0);
    badLen.drv.publish(0, 0);
    badLen.drv.notify(0);
    expectNeedsReset(badLen, /indirect table length/);
  });

  it('rejects a readable buffer after a writable one', () => {
    const s = setup();
    s.drv.post(0, [{ len: 4, write: true }, { data: new Uint8Array(4) }]);
    s.drv.notify(0);
    expectNeedsReset(s, /readable buffer after/);
  });

  it('rejects wrong directions for each device', () => {
    const rng = setup();
    rng.drv.post(0, [{ data: new Uint8Array(4) }]);
    rng.drv.notify(0);
    expectNeedsReset(rng, /not device-writable/);

    const con = setup(new VirtioConsole(new BufferConsole()), VIRTIO_F_VERSION_1, 2);
    con.drv.post(1, [{ len: 8, write: true }]);
    con.drv.notify(1);
    expectNeedsReset(con, /transmit buffer is device-writable/);

    const [a] = createNetPair();
    const net = setup(new VirtioNet(new Uint8Array(6), a), VIRTIO_F_VERSION_1, 2);
    net.drv.post(1, [{ len: 64, write: true }]);
    net.drv.notify(1);
    expectNeedsReset(net, /transmit buffer is device-writable/);

    const blk = setup(new VirtioBlock(new MemoryOverlayDisk(new Uint8Array(4096))));
    blk.drv.post(0, [{ data: new Uint8Array(16) }]); // header but no status byte
    blk.drv.notify(0);
    expectNeedsReset(blk, /status byte/);
  });

  it('rejects a queue whose rings are misplaced or whose size is not a power of two', () => {
    const mem = new ArrayGuestMemory(RAM);
    const irq = new TestIrq();
    const t = new VirtioMmioTransport(new VirtioRng(), mem, irq);
    const drv = new TestVirtioDriver(t, mem);
    drv.negotiate();
    drv.w(REG.QueueSel, 0);
    drv.w(REG.QueueNum, 6);
    drv.w(REG.QueueDescLow, mem.base);
    drv.w(REG.QueueDriverLow, mem.base + 0x1000);
    drv.w(REG.QueueDeviceLow, mem.base + 0x2000);
    drv.w(REG.QueueReady, 1);
    expect(t.failureReason).toMatch(/power of two/);
    expect(drv.r(REG.QueueReady)).toBe(0);

    drv.negotiate();
    drv.w(REG.QueueSel, 0);
    drv.w(REG.QueueNum, 8);
    drv.w(REG.QueueDescLow, 0x1000_0000); // MMIO, not RAM
    drv.w(REG.QueueDriverLow, mem.base + 0x1000);
    drv.w(REG.QueueDeviceLow, mem.base + 0x2000);
    drv.w(REG.QueueReady, 1);
    expect(t.failureReason).toMatch(/descriptor table/);

    drv.negotiate();
    drv.w(REG.QueueSel, 0);
    drv.w(REG.QueueNum, 8);
    drv.w(REG.QueueDescLow, mem.base);
    drv.w(REG.QueueDriverLow, mem.base + 0x1000);
    drv.w(REG.QueueDeviceLow, mem.base + 0x2001); // misaligned used ring
    drv.w(REG.QueueReady, 1);
    expect(t.failureReason).toMatch(/used ring/);
    expect(irq.level).toBe(true);
  });

  it('does not loop when the used ring overlaps the available ring', () => {
    const mem = new ArrayGuestMemory(RAM);
    const t = new VirtioMmioTransport(new VirtioRng((b) => b.fill(1)), mem, new TestIrq());
    const drv = new TestVirtioDriver(t, mem, mem.base + 0x1000);
    drv.negotiate();
    drv.w(REG.QueueSel, 0);
    drv.w(REG.QueueNum, 8);
    drv.w(REG.QueueDescLow, mem.base);
    drv.w(REG.QueueDriverLow, mem.base + 0x1000);
    drv.w(REG.QueueDeviceLow, mem.base + 0x1000); // used == avail: our used idx writes move avail idx
    drv.w(REG.QueueReady, 1);
    drv.driverOk();
    for (let i = 0; i < 8; i++) drv.writeDesc(mem.base, i, mem.base + 0x4000, 4, 2, 0);
    mem.writeU16(mem.base + 0x1002, 1);
    const start = Date.now();
    expect(() => drv.w(REG.QueueNotify, 0)).not.toThrow();
    expect(Date.now() - start).toBeLessThan(1000);
  });

  it('ignores a notify for a queue that does not exist', () => {
    const s = setup();
    s.drv.notify(5);
    s.drv.notify(0xffff);
    expect(s.t.failureReason).toBeNull();
  });

  it('survives random garbage in the rings without throwing', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    for (let round = 0; round < 200; round++) {
      const devices: [VirtioDevice, number][] = [
        [new VirtioRng((b) => b.fill(3)), 1],
        [new VirtioBlock(new MemoryOverlayDisk(new Uint8Array(8192))), 1],
        [new VirtioConsole(new BufferConsole()), 2],
        [new VirtioNet(new Uint8Array(6), createNetPair()[0]), 2],
      ];
      const [device, queues] = devices[round % devices.length];
      const s = setup(device, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC, queues);
      const q = s.drv.queues[round % queues];
      // Scribble over the descriptor table and available ring with plausible-looking values.
      for (let i = 0; i < 8; i++) {
        const addr = rand() % 3 === 0 ? s.mem.base + (rand() % RAM) : rand() * 4096;
        s.drv.writeDesc(q.desc, i, addr, rand() % 3 === 0 ? rand() : rand() % 512, rand() & 7, rand() % 12);
        s.mem.writeU16(q.avail + 4 + 2 * i, rand() % 10);
      }
      s.mem.writeU16(q.avail + 2, rand() % 10);
      expect(() => s.drv.notify(round % queues)).not.toThrow();
    }
  });
});
