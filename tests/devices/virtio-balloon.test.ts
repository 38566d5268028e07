// virtio-balloon: the host sets a target, the guest inflates (pages discarded), reports free
// ranges (discarded), and writes `actual`; hostile PFNs and ranges are checked.

import { describe, expect, it } from 'vitest';
import { ArrayGuestMemory } from '../../src/devices/guest-memory.js';
import { VirtioMmioTransport, REG } from '../../src/devices/virtio/mmio-transport.js';
import { VirtioBalloon, VIRTIO_BALLOON_F_PAGE_REPORTING } from '../../src/devices/virtio/balloon.js';
import { STATUS_DEVICE_NEEDS_RESET, VIRTIO_F_VERSION_1 } from '../../src/devices/virtio/device.js';
import { TestIrq, TestVirtioDriver } from './helpers/virtio-driver.js';

const RAM = 4 << 20;

function setup(ram = RAM) {
  const mem = new ArrayGuestMemory(ram);
  const discards: [number, number][] = [];
  const dev = new VirtioBalloon({
    isRam: (a, l) => mem.isRam(a, l),
    discard: (a, l) => {
      discards.push([a, l]);
      mem.write(a, new Uint8Array(l));
    },
  }, ram / 4096);
  const irq = new TestIrq();
  const t = new VirtioMmioTransport(dev, mem, irq);
  const drv = new TestVirtioDriver(t, mem);
  drv.init(3, VIRTIO_F_VERSION_1 | VIRTIO_BALLOON_F_PAGE_REPORTING);
  return { mem, dev, t, drv, irq, discards };
}

function pfns(list: number[]): Uint8Array {
  const b = new Uint8Array(list.length * 4);
  list.forEach((p, i) => new DataView(b.buffer).setUint32(i * 4, p, true));
  return b;
}

describe('VirtioBalloon', () => {
  it('raises a configuration change for a new target and zeroes the pages the guest inflates', () => {
    const { mem, dev, t, drv } = setup();
    drv.ackInterrupt();
    dev.setTarget(100);
    expect(t.read(REG.Config, 4)).toBe(100);
    expect(drv.ackInterrupt() & 2).toBe(2);
    const page = mem.base + 0x200000;
    mem.write(page, new Uint8Array(4096).fill(0xaa));
    const list = drv.alloc.alloc(8);
    mem.write(list, pfns([page / 4096, 0x10 /* not RAM: ignored */]));
    drv.post(0, [{ addr: list, len: 8 } as never]);
    drv.notify(0);
    expect(drv.takeUsed(0).length).toBe(1);
    expect(mem.read(page, 4096).every((b) => b === 0)).toBe(true);
    expect(dev.stats.inflatedPages).toBe(1);
    // The driver reports how many pages the balloon holds.
    const seen: number[] = [];
    dev.onActualChanged = (p) => seen.push(p);
    t.write(REG.Config + 4, 4, 1);
    expect(seen).toEqual([1]);
    expect(dev.stats.actualPages).toBe(1);
  });

  it('discards ranges the guest reports as free, and refuses unaligned ones (device needs reset)', () => {
    const { mem, dev, drv, t, discards } = setup();
    const free = mem.base + 0x300000;
    mem.write(free, new Uint8Array(8192).fill(7));
    drv.post(2, [{ addr: free, len: 8192 } as never]);
    drv.notify(2);
    expect(drv.takeUsed(2).length).toBe(1);
    expect(discards).toEqual([[free, 8192]]);
    expect(mem.read(free, 8192).every((b) => b === 0)).toBe(true);
    expect(dev.stats.reportedBytes).toBe(8192);
    drv.post(2, [{ addr: free + 100, len: 4096 } as never]);
    drv.notify(2);
    expect(t.read(REG.Status, 4) & STATUS_DEVICE_NEEDS_RESET).toBe(STATUS_DEVICE_NEEDS_RESET);
  });

  it('discards reported ranges that are device-writable, as Linux posts them (virtqueue_add_inbuf)', () => {
    const { mem, dev, drv, discards } = setup();
    const free = mem.base + 0x380000;
    mem.write(free, new Uint8Array(2 * 4096).fill(9));
    drv.post(2, [{ addr: free, len: 4096, write: true }, { addr: free + 4096, len: 4096, write: true }]);
    drv.notify(2);
    expect(drv.takeUsed(2).length).toBe(1);
    expect(discards).toEqual([[free, 4096], [free + 4096, 4096]]);
    expect(mem.read(free, 8192).every((b) => b === 0)).toBe(true);
    expect(dev.stats.reportedBytes).toBe(8192);
  });

  it('takes a report of more than 64 MiB (32 blocks of 4 MiB, as Linux sends them), never more than RAM', () => {
    const ram = 136 << 20;
    const { mem, dev, drv, t } = setup(ram);
    const blocks = Array.from({ length: 32 }, (_, i) => ({ addr: mem.base + (8 << 20) + (4 << 20) * i, len: 4 << 20, write: true }));
    drv.post(2, blocks);
    drv.notify(2);
    expect((t as unknown as { failure: string | null }).failure).toBeNull();
    expect(drv.takeUsed(2).length).toBe(1);
    expect(dev.stats.reportedBytes).toBe(128 << 20);
    expect(t.read(REG.Status, 4) & STATUS_DEVICE_NEEDS_RESET).toBe(0);
    // The same range named twice over adds up past RAM: refused.
    drv.post(2, [...blocks, ...blocks.slice(0, 3)]);
    drv.notify(2);
    expect(t.read(REG.Status, 4) & STATUS_DEVICE_NEEDS_RESET).toBe(STATUS_DEVICE_NEEDS_RESET);
  });

  it('refuses a PFN buffer of a length that is not whole PFNs', () => {
    const { drv, t, mem } = setup();
    const list = drv.alloc.alloc(6);
    mem.write(list, new Uint8Array(6));
    drv.post(0, [{ addr: list, len: 6 } as never]);
    drv.notify(0);
    expect(t.read(REG.Status, 4) & STATUS_DEVICE_NEEDS_RESET).toBe(STATUS_DEVICE_NEEDS_RESET);
  });

  it('saves and loads target and actual; a state beyond RAM is refused', () => {
    const { dev } = setup();
    dev.setTarget(50);
    const s = dev.saveState();
    const other = setup().dev;
    other.loadState(s);
    expect(other.stats.targetPages).toBe(50);
    expect(() => other.loadState({ version: 1, numPages: 1e9, actual: 0 })).toThrow(/bad state/);
  });
});
