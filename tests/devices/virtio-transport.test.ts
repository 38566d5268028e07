import { describe, expect, it } from 'vitest';
import { ArrayGuestMemory } from '../../src/devices/guest-memory.js';
import { VirtioMmioTransport, REG, VIRTIO_MMIO_MAGIC } from '../../src/devices/virtio/mmio-transport.js';
import { VirtioRng } from '../../src/devices/virtio/rng.js';
import { VirtioBlock } from '../../src/devices/virtio/block.js';
import { MemoryOverlayDisk } from '../../src/devices/backends/disk.js';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from '../../src/devices/virtio/device.js';
import { TestIrq, TestVirtioDriver } from './helpers/virtio-driver.js';

function setup() {
  const mem = new ArrayGuestMemory(1 << 20);
  const irq = new TestIrq();
  const fill = (b: Uint8Array) => b.fill(0xab);
  const t = new VirtioMmioTransport(new VirtioRng(fill), mem, irq);
  const drv = new TestVirtioDriver(t, mem, mem.base + 0x1000);
  return { mem, irq, t, drv };
}

describe('VirtioMmioTransport', () => {
  it('identifies itself as a version 2 virtio-mmio device', () => {
    const { drv } = setup();
    expect(drv.r(REG.MagicValue)).toBe(VIRTIO_MMIO_MAGIC);
    expect(drv.r(REG.Version)).toBe(2);
    expect(drv.r(REG.DeviceID)).toBe(4);
    expect(drv.r(REG.Status)).toBe(0);
    expect(drv.deviceFeatures()).toBe(VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX);
    drv.w(REG.QueueSel, 0);
    expect(drv.r(REG.QueueNumMax)).toBe(64);
    drv.w(REG.QueueSel, 1);
    expect(drv.r(REG.QueueNumMax)).toBe(0); // no such queue
    expect(drv.r(REG.SHMLenLow)).toBe(0xffff_ffff);
  });

  it('accepts FEATURES_OK for a subset including VERSION_1', () => {
    const { drv } = setup();
    const s = drv.negotiate(VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX);
    expect(s).toBe(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  });

  it('refuses FEATURES_OK to a legacy driver (no VERSION_1) and to unoffered features', () => {
    const { drv } = setup();
    expect(drv.negotiate(0n) & STATUS_FEATURES_OK).toBe(0);
    drv.w(REG.Status, 0);
    drv.w(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    drv.w(REG.DriverFeaturesSel, 1);
    drv.w(REG.DriverFeatures, 1); // VERSION_1
    drv.w(REG.DriverFeaturesSel, 0);
    drv.w(REG.DriverFeatures, 1 << 5); // never offered by rng
    drv.w(REG.Status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    expect(drv.r(REG.Status) & STATUS_FEATURES_OK).toBe(0);
    drv.w(REG.Status, drv.r(REG.Status) | STATUS_DRIVER_OK);
    expect(drv.r(REG.Status) & STATUS_DRIVER_OK).toBe(0); // DRIVER_OK needs FEATURES_OK
  });

  it('accepts DRIVER_OK written alone once FEATURES_OK is set, and never clears bits short of reset', () => {
    const { drv } = setup();
    drv.negotiate();
    drv.w(REG.Status, STATUS_DRIVER_OK);
    expect(drv.r(REG.Status)).toBe(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    drv.w(REG.Status, 64); // the driver cannot set NEEDS_RESET
    expect(drv.r(REG.Status) & 64).toBe(0);
  });

  it('freezes driver features after FEATURES_OK', () => {
    const { drv, t } = setup();
    drv.negotiate(VIRTIO_F_VERSION_1);
    drv.w(REG.DriverFeaturesSel, 0);
    drv.w(REG.DriverFeatures, 1 << 28);
    expect(t.driverFeatures).toBe(VIRTIO_F_VERSION_1);
  });

  it('programs queue addresses from 32-bit halves and reads them back', () => {
    const { drv } = setup();
    drv.negotiate();
    const q = drv.setupQueue(0, 16);
    expect(drv.r(REG.QueueReady)).toBe(1);
    expect(drv.r(REG.QueueNum)).toBe(16);
    expect(drv.r(REG.QueueDescLow)).toBe(q.desc);
    expect(drv.r(REG.QueueDriverLow)).toBe(q.avail);
    expect(drv.r(REG.QueueDeviceLow)).toBe(q.used);
    drv.w(REG.QueueDescLow, 0x1234); // ignored while the queue is ready
    expect(drv.r(REG.QueueDescLow)).toBe(q.desc);
  });

  it('serves a request, interrupts, and lowers the line on InterruptACK', () => {
    const { drv, irq, mem } = setup();
    drv.init(1);
    const buf = drv.alloc.alloc(32);
    drv.post(0, [{ addr: buf, len: 32, write: true }]);
    expect(irq.level).toBe(false);
    drv.notify(0);
    expect(drv.takeUsed(0)).toEqual([{ id: 0, len: 32 }]);
    expect(mem.read(buf, 32).every((b) => b === 0xab)).toBe(true);
    expect(irq.level).toBe(true);
    expect(drv.r(REG.InterruptStatus)).toBe(1);
    drv.w(REG.InterruptACK, 1);
    expect(irq.level).toBe(false);
  });

  it('picks up buffers posted before DRIVER_OK when DRIVER_OK is set', () => {
    const { drv } = setup();
    drv.negotiate();
    drv.setupQueue(0, 8);
    drv.post(0, [{ len: 4, write: true }]);
    drv.notify(0); // too early: ignored
    expect(drv.takeUsed(0)).toEqual([]);
    drv.driverOk();
    expect(drv.takeUsed(0).length).toBe(1);
  });

  it('suppresses interrupts when the driver sets VIRTQ_AVAIL_F_NO_INTERRUPT', () => {
    const { drv, irq, mem } = setup();
    drv.init(1);
    mem.writeU16(drv.queues[0].avail, 1);
    drv.post(0, [{ len: 4, write: true }]);
    drv.notify(0);
    expect(drv.takeUsed(0).length).toBe(1);
    expect(irq.level).toBe(false);
  });

  it('follows used_event with EVENT_IDX and publishes avail_event', () => {
    const { drv, irq, mem } = setup();
    drv.init(1, VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX, 8);
    const q = drv.queues[0];
    mem.writeU16(q.avail + 4 + 2 * 8, 1); // used_event = 1: interrupt when the second buffer is used
    drv.post(0, [{ len: 4, write: true }]);
    drv.notify(0);
    expect(irq.level).toBe(false);
    expect(mem.readU16(q.used + 4 + 8 * 8)).toBe(1); // avail_event = next index we will look at
    drv.post(0, [{ len: 4, write: true }]);
    drv.notify(0);
    expect(irq.level).toBe(true);
    expect(drv.takeUsed(0).length).toBe(2);
  });

  it('resets everything on status 0', () => {
    const { drv, irq, t } = setup();
    drv.init(1);
    drv.post(0, [{ len: 4, write: true }]);
    drv.notify(0);
    expect(irq.level).toBe(true);
    drv.w(REG.Status, 0);
    expect(irq.level).toBe(false);
    expect(drv.r(REG.Status)).toBe(0);
    expect(drv.r(REG.InterruptStatus)).toBe(0);
    drv.w(REG.QueueSel, 0);
    expect(drv.r(REG.QueueReady)).toBe(0);
    expect(drv.r(REG.QueueDescLow)).toBe(0);
    expect(t.driverFeatures).toBe(0n);
    // And it works again after a fresh bring-up.
    drv.init(1);
    drv.post(0, [{ len: 4, write: true }]);
    drv.notify(0);
    expect(drv.takeUsed(0).length).toBe(1);
  });

  it('reads device config space with byte, half and word accesses and bumps the generation on change', () => {
    const mem = new ArrayGuestMemory(1 << 20);
    const disk = new MemoryOverlayDisk(new Uint8Array(1 << 20));
    const t = new VirtioMmioTransport(new VirtioBlock(disk), mem, new TestIrq());
    expect(t.read(REG.Config, 4)).toBe(2048); // capacity in sectors, low word
    expect(t.read(REG.Config + 4, 4)).toBe(0);
    expect(t.read(REG.Config, 1)).toBe(0);
    expect(t.read(REG.Config + 1, 2)).toBe(8);
    expect(t.read(REG.Config + 20, 4)).toBe(512); // blk_size
    expect(t.read(REG.Config + 0x200, 4)).toBe(0);
    const gen = t.read(REG.ConfigGeneration, 4);
    t.configChanged();
    expect(t.read(REG.ConfigGeneration, 4)).toBe(gen + 1);
  });

  it('ignores non-32-bit register accesses and unknown registers', () => {
    const { t } = setup();
    expect(t.read(REG.MagicValue, 2)).toBe(0);
    expect(t.read(REG.MagicValue + 1, 4)).toBe(0);
    t.write(REG.Status, 1, 0xff);
    expect(t.read(REG.Status, 4)).toBe(0);
    t.write(0x0f0, 4, 1);
    expect(t.read(0x0f0, 4)).toBe(0);
  });

  it('saves and restores a running queue', () => {
    const a = setup();
    a.drv.init(1, VIRTIO_F_VERSION_1, 8);
    a.drv.post(0, [{ len: 4, write: true }]);
    a.drv.notify(0);
    a.drv.takeUsed(0);
    const state = JSON.parse(JSON.stringify(a.t.saveState()));
    // Same RAM (as a snapshot would restore it), fresh transport.
    const irq = new TestIrq();
    const t2 = new VirtioMmioTransport(new VirtioRng((b) => b.fill(1)), a.mem, irq);
    t2.loadState(state);
    expect(t2.read(REG.Status, 4) & STATUS_DRIVER_OK).toBe(STATUS_DRIVER_OK);
    expect(irq.level).toBe(true); // the unacknowledged interrupt survives
    const drv2 = Object.assign(new TestVirtioDriver(t2, a.mem, a.mem.base + 0x8_0000), {});
    drv2.queues[0] = a.drv.queues[0];
    drv2.post(0, [{ len: 4, write: true }]);
    drv2.notify(0);
    expect(drv2.takeUsed(0)).toEqual([{ id: 1, len: 4 }]);
  });
});
