import { describe, expect, it } from 'vitest';
import { ArrayGuestMemory } from '../../src/devices/guest-memory.js';
import { VirtioMmioTransport, REG } from '../../src/devices/virtio/mmio-transport.js';
import {
  VirtioBlock,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from '../../src/devices/virtio/block.js';
import { VirtioConsole } from '../../src/devices/virtio/console.js';
import { VirtioRng } from '../../src/devices/virtio/rng.js';
import { VirtioNet, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS } from '../../src/devices/virtio/net.js';
import { MemoryOverlayDisk, type BlockBackend } from '../../src/devices/backends/disk.js';
import { BufferConsole } from '../../src/devices/backends/console.js';
import { createNetPair } from '../../src/devices/backends/net.js';
import { VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioDevice } from '../../src/devices/virtio/device.js';
import { TestIrq, TestVirtioDriver } from './helpers/virtio-driver.js';
import { VIRTQ_MAX_CHAIN_BYTES } from '../../src/devices/virtio/virtqueue.js';

function bringUp(device: VirtioDevice, queues: number, features = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC) {
  const mem = new ArrayGuestMemory(4 << 20);
  const irq = new TestIrq();
  const t = new VirtioMmioTransport(device, mem, irq);
  const drv = new TestVirtioDriver(t, mem);
  drv.init(queues, features | (drv.deviceFeatures() & ~(VIRTIO_F_INDIRECT_DESC | (1n << 29n))));
  return { mem, irq, t, drv };
}

function blkHeader(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return h;
}

function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
}

describe('VirtioBlock over MemoryOverlayDisk', () => {
  function setup(baseBytes = 64 * 1024, readOnly = false) {
    const base = pattern(baseBytes, 1);
    const pristine = base.slice();
    const disk = new MemoryOverlayDisk(base, { readOnly, serial: 'disk-0123' });
    const blk = new VirtioBlock(disk);
    return { base, pristine, disk, blk, ...bringUp(blk, 1) };
  }

  /** Posts a request: header, data, status; returns the status byte address. */
  function request(d: TestVirtioDriver, type: number, sector: number, data: { out?: Uint8Array; inLen?: number }, indirect = false): { status: number; dataAddr: number } {
    const status = d.alloc.alloc(1, 1);
    const bufs = [{ data: blkHeader(type, sector) }];
    let dataAddr = 0;
    if (data.out) {
      dataAddr = d.alloc.alloc(data.out.length);
      d.mem.write(dataAddr, data.out);
      bufs.push({ addr: dataAddr, len: data.out.length } as never);
    }
    if (data.inLen) {
      dataAddr = d.alloc.alloc(data.inLen);
      bufs.push({ addr: dataAddr, len: data.inLen, write: true } as never);
    }
    bufs.push({ addr: status, len: 1, write: true } as never);
    if (indirect) d.postIndirect(0, bufs);
    else d.post(0, bufs);
    d.notify(0);
    return { status, dataAddr };
  }

  it('advertises capacity, seg_max, blk_size and flush', () => {
    const { t, drv } = setup();
    expect(t.read(REG.Config, 4)).toBe(128);
    expect(t.read(REG.Config + 8, 4)).toBe(512 * 1024); // size_max
    expect(t.read(REG.Config + 12, 4)).toBe(126); // seg_max
    expect(126 * 512 * 1024 + 17).toBeLessThan(VIRTQ_MAX_CHAIN_BYTES);
    expect(drv.deviceFeatures() & VIRTIO_BLK_F_FLUSH).toBe(VIRTIO_BLK_F_FLUSH);
    expect(drv.deviceFeatures() & VIRTIO_BLK_F_RO).toBe(0n);
  });

  it('reads sectors from the base image', () => {
    const { drv, mem, pristine } = setup();
    const { status, dataAddr } = request(drv, VIRTIO_BLK_T_IN, 3, { inLen: 1024 });
    expect(mem.readU8(status)).toBe(VIRTIO_BLK_S_OK);
    expect(mem.read(dataAddr, 1024)).toEqual(pristine.subarray(3 * 512, 5 * 512));
    expect(drv.takeUsed(0)).toEqual([{ id: 0, len: 1025 }]);
  });

  it('writes go to the overlay, read back, leave the base untouched until commit', () => {
    const { drv, mem, base, pristine, disk } = setup();
    const data = pattern(1536, 99);
    expect(mem.readU8(request(drv, VIRTIO_BLK_T_OUT, 10, { out: data }).status)).toBe(VIRTIO_BLK_S_OK);
    expect(drv.takeUsed(0)[0].len).toBe(1);
    expect(base).toEqual(pristine);
    expect(disk.overlayBytes).toBe(4096); // sectors 10..12 lie in one 4 KiB chunk
    const r = request(drv, VIRTIO_BLK_T_IN, 9, { inLen: 2560 }, true);
    const got = mem.read(r.dataAddr, 2560);
    expect(got.subarray(0, 512)).toEqual(pristine.subarray(9 * 512, 10 * 512));
    expect(got.subarray(512, 2048)).toEqual(data);
    expect(got.subarray(2048)).toEqual(pristine.subarray(13 * 512, 14 * 512));
    expect(mem.readU8(request(drv, VIRTIO_BLK_T_FLUSH, 0, {}).status)).toBe(VIRTIO_BLK_S_OK);
    disk.commit();
    expect(disk.overlayBytes).toBe(0);
    expect(base.subarray(10 * 512, 13 * 512)).toEqual(data);
    expect(base.subarray(0, 10 * 512)).toEqual(pristine.subarray(0, 10 * 512));
  });

  it('moves a 128 KiB request scattered over 32 indirect segments both ways', () => {
    const { drv, mem, disk } = setup(1 << 20);
    const data = pattern(32 * 4096, 5);
    const segs = Array.from({ length: 32 }, (_, i) => ({ data: data.subarray(i * 4096, (i + 1) * 4096) }));
    const st = drv.alloc.alloc(1, 1);
    drv.postIndirect(0, [{ data: blkHeader(VIRTIO_BLK_T_OUT, 64) }, ...segs, { addr: st, len: 1, write: true }]);
    drv.notify(0);
    expect(mem.readU8(st)).toBe(VIRTIO_BLK_S_OK);
    expect(disk.read(64 * 512, data.length)).toEqual(data);
    const outs = Array.from({ length: 32 }, () => drv.alloc.alloc(4096));
    drv.postIndirect(0, [{ data: blkHeader(VIRTIO_BLK_T_IN, 64) }, ...outs.map((addr) => ({ addr, len: 4096, write: true })), { addr: st, len: 1, write: true }]);
    drv.notify(0);
    expect(drv.takeUsed(0).map((u) => u.len)).toEqual([1, 32 * 4096 + 1]);
    outs.forEach((a, i) => expect(mem.read(a, 4096)).toEqual(data.subarray(i * 4096, (i + 1) * 4096)));
  });

  it('discards the overlay and restores it from a saved state', () => {
    const { drv, disk, pristine } = setup();
    request(drv, VIRTIO_BLK_T_OUT, 0, { out: new Uint8Array(512).fill(0xee) });
    const saved = disk.saveState();
    disk.discard();
    expect(disk.read(0, 512)).toEqual(pristine.subarray(0, 512));
    disk.loadState(saved);
    expect(disk.read(0, 512).every((b) => b === 0xee)).toBe(true);
    expect(() => disk.loadState({ ...saved, chunkSize: 512 })).toThrow();
  });

  it('answers IOERR for transfers beyond the end or of partial sectors, and UNSUPP for unknown types', () => {
    const { drv, mem, t } = setup();
    expect(mem.readU8(request(drv, VIRTIO_BLK_T_IN, 127, { inLen: 1024 }).status)).toBe(VIRTIO_BLK_S_IOERR);
    expect(mem.readU8(request(drv, VIRTIO_BLK_T_IN, 2 ** 52, { inLen: 512 }).status)).toBe(VIRTIO_BLK_S_IOERR);
    const huge = drv.alloc.alloc(1, 1);
    drv.post(0, [{ data: (() => { const h = blkHeader(VIRTIO_BLK_T_IN, 0); new DataView(h.buffer).setBigUint64(8, 0xffff_ffff_ffff_ffffn, true); return h; })() }, { len: 512, write: true }, { addr: huge, len: 1, write: true }]);
    drv.notify(0);
    expect(mem.readU8(huge)).toBe(VIRTIO_BLK_S_IOERR);
    expect(mem.readU8(request(drv, VIRTIO_BLK_T_OUT, 0, { out: new Uint8Array(100) }).status)).toBe(VIRTIO_BLK_S_IOERR);
    expect(mem.readU8(request(drv, 11 /* DISCARD, not offered */, 0, {}).status)).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(t.failureReason).toBeNull();
  });

  it('refuses writes to a read-only disk and says so in the features', () => {
    const { drv, mem, pristine, disk } = setup(8192, true);
    expect(drv.deviceFeatures() & VIRTIO_BLK_F_RO).toBe(VIRTIO_BLK_F_RO);
    expect(mem.readU8(request(drv, VIRTIO_BLK_T_OUT, 0, { out: new Uint8Array(512) }).status)).toBe(VIRTIO_BLK_S_IOERR);
    expect(disk.read(0, 512)).toEqual(pristine.subarray(0, 512));
  });

  it('reports the serial for GET_ID', () => {
    const { drv, mem } = setup();
    const r = request(drv, VIRTIO_BLK_T_GET_ID, 0, { inLen: 20 });
    expect(mem.readU8(r.status)).toBe(VIRTIO_BLK_S_OK);
    expect(new TextDecoder().decode(mem.read(r.dataAddr, 9))).toBe('disk-0123');
    expect(mem.readU8(r.dataAddr + 9)).toBe(0);
  });

  it('turns a failing back end into IOERR, not a device failure', () => {
    const failing: BlockBackend = {
      byteLength: 4096,
      readOnly: false,
      serial: 'x',
      read: () => {
        throw new Error('EIO');
      },
      write: () => {},
      flush: () => {},
    };
    const s = bringUp(new VirtioBlock(failing), 1);
    const r = request(s.drv, VIRTIO_BLK_T_IN, 0, { inLen: 512 });
    expect(s.mem.readU8(r.status)).toBe(VIRTIO_BLK_S_IOERR);
    expect(s.t.failureReason).toBeNull();
  });
});

describe('VirtioConsole', () => {
  it('sends transmitq buffers to the back end', () => {
    const console = new BufferConsole();
    const { drv } = bringUp(new VirtioConsole(console), 2);
    drv.post(1, [{ data: new TextEncoder().encode('hello ') }, { data: new TextEncoder().encode('world') }]);
    drv.notify(1);
    expect(console.takeText()).toBe('hello world');
    expect(drv.takeUsed(1)).toEqual([{ id: 0, len: 0 }]);
  });

  it('delivers host input into receiveq buffers, waiting for buffers when there are none', () => {
    const console = new BufferConsole();
    const { drv, mem, irq } = bringUp(new VirtioConsole(console), 2);
    console.type('typed before any buffer');
    expect(drv.takeUsed(0)).toEqual([]);
    const a = drv.alloc.alloc(8);
    const b = drv.alloc.alloc(64);
    drv.post(0, [{ addr: a, len: 8, write: true }]);
    drv.post(0, [{ addr: b, len: 64, write: true }]);
    drv.notify(0);
    const used = drv.takeUsed(0);
    expect(used).toEqual([
      { id: 0, len: 8 },
      { id: 1, len: 15 },
    ]);
    expect(new TextDecoder().decode(mem.read(a, 8)) + new TextDecoder().decode(mem.read(b, 15))).toBe('typed before any buffer');
    expect(irq.level).toBe(true);
    drv.ackInterrupt();
    const c = drv.alloc.alloc(16);
    drv.post(0, [{ addr: c, len: 16, write: true }]);
    drv.notify(0);
    console.type('x');
    expect(drv.takeUsed(0)).toEqual([{ id: 2, len: 1 }]);
    expect(mem.readU8(c)).toBe(0x78);
    expect(irq.level).toBe(true);
  });

  it('reports the terminal size and its changes (F_SIZE)', () => {
    const dev = new VirtioConsole(new BufferConsole(), { cols: 120, rows: 40 });
    const { t, drv } = bringUp(dev, 2);
    expect(drv.deviceFeatures() & 1n).toBe(1n);
    expect([t.read(REG.Config, 2), t.read(REG.Config + 2, 2)]).toEqual([120, 40]);
    drv.ackInterrupt();
    dev.setSize(100, 30);
    expect([t.read(REG.Config, 2), t.read(REG.Config + 2, 2)]).toEqual([100, 30]);
    expect(drv.ackInterrupt()).toBe(2);
    dev.setSize(100, 30);
    expect(drv.r(REG.InterruptStatus)).toBe(0); // no change, no interrupt
  });

  it('handles an echoing back end (input arriving while transmitting) without recursion', () => {
    let dev!: VirtioConsole;
    const echo = { write: (d: Uint8Array) => dev.receive(d) };
    dev = new VirtioConsole(echo);
    const { drv, mem } = bringUp(dev, 2);
    const rx = drv.alloc.alloc(16);
    drv.post(0, [{ addr: rx, len: 16, write: true }]);
    drv.notify(0);
    drv.post(1, [{ data: new TextEncoder().encode('ping') }]);
    drv.notify(1);
    expect(drv.takeUsed(0)).toEqual([{ id: 0, len: 4 }]);
    expect(new TextDecoder().decode(mem.read(rx, 4))).toBe('ping');
  });
});

describe('VirtioRng', () => {
  it('fills device-writable buffers from crypto.getRandomValues', () => {
    const { drv, mem } = bringUp(new VirtioRng(), 1);
    const a = drv.alloc.alloc(256);
    const b = drv.alloc.alloc(256);
    drv.post(0, [{ addr: a, len: 256, write: true }, { addr: b, len: 256, write: true }]);
    drv.notify(0);
    expect(drv.takeUsed(0)).toEqual([{ id: 0, len: 512 }]);
    const bytes = [...mem.read(a, 256), ...mem.read(b, 256)];
    expect(new Set(bytes).size).toBeGreaterThan(100); // 512 random bytes hit most values; zeros would not
  });
});

describe('VirtioNet', () => {
  const macA = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
  const macB = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x57);

  function frame(dst: Uint8Array, src: Uint8Array, payload: string): Uint8Array {
    const p = new TextEncoder().encode(payload);
    const f = new Uint8Array(14 + p.length);
    f.set(dst, 0);
    f.set(src, 6);
    f[12] = 0x88;
    f[13] = 0xb5; // local experimental ethertype
    f.set(p, 14);
    return f;
  }

  function sendFrame(drv: TestVirtioDriver, f: Uint8Array): void {
    drv.post(1, [{ data: new Uint8Array(12) }, { data: f }]);
    drv.notify(1);
  }

  function postRx(drv: TestVirtioDriver, n: number, len = 1526): number[] {
    const addrs: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = drv.alloc.alloc(len);
      addrs.push(a);
      drv.post(0, [{ addr: a, len, write: true }]);
    }
    drv.notify(0);
    return addrs;
  }

  it('exposes MAC and link status in config', () => {
    const [end] = createNetPair();
    const net = new VirtioNet(macA, end);
    const { t, drv } = bringUp(net, 2);
    expect(drv.deviceFeatures() & (VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS)).toBe(VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS);
    expect([0, 1, 2, 3, 4, 5].map((i) => t.read(REG.Config + i, 1))).toEqual([...macA]);
    expect(t.read(REG.Config + 6, 2)).toBe(1);
    drv.ackInterrupt();
    const gen = t.read(REG.ConfigGeneration, 4);
    net.setLinkUp(false);
    expect(t.read(REG.Config + 6, 2)).toBe(0);
    expect(t.read(REG.ConfigGeneration, 4)).not.toBe(gen);
    expect(drv.ackInterrupt()).toBe(2);
  });

  it('carries frames both ways between two NICs on a pair', () => {
    const [ea, eb] = createNetPair();
    const a = bringUp(new VirtioNet(macA, ea), 2);
    const b = bringUp(new VirtioNet(macB, eb), 2);
    const rxB = postRx(b.drv, 2);
    const rxA = postRx(a.drv, 1);
    const fab = frame(macB, macA, 'hello from A');
    sendFrame(a.drv, fab);
    expect(a.drv.takeUsed(1)).toEqual([{ id: 0, len: 0 }]);
    const usedB = b.drv.takeUsed(0);
    expect(usedB).toEqual([{ id: 0, len: 12 + fab.length }]);
    expect(b.mem.readU16(rxB[0] + 10)).toBe(1); // num_buffers
    expect(b.mem.read(rxB[0] + 12, fab.length)).toEqual(fab);
    expect(b.irq.level).toBe(true);
    const fba = frame(macA, macB, 'and back');
    sendFrame(b.drv, fba);
    expect(a.mem.read(rxA[0] + 12, fba.length)).toEqual(fba);
  });

  it('queues frames until receive buffers arrive and drops frames too big for them', () => {
    const [ea, eb] = createNetPair();
    const net = new VirtioNet(macA, ea);
    const { drv, mem } = bringUp(net, 2);
    eb.send(frame(macA, macB, 'early'));
    eb.send(frame(macA, macB, 'x'.repeat(200)));
    eb.send(frame(macA, macB, 'late'));
    expect(drv.takeUsed(0)).toEqual([]);
    const rx = postRx(drv, 2, 12 + 64); // room for 64-byte frames only
    const used = drv.takeUsed(0);
    expect(used.map((u) => u.len)).toEqual([12 + 19, 12 + 18]);
    expect(new TextDecoder().decode(mem.read(rx[1] + 12 + 14, 4))).toBe('late');
    expect(net.stats.rxDropped).toBe(1);
  });

  it('drops runt frames the guest sends without failing', () => {
    const [ea, eb] = createNetPair();
    const got: Uint8Array[] = [];
    eb.connect((f) => got.push(f));
    const net = new VirtioNet(macA, ea);
    const { drv, t } = bringUp(net, 2);
    sendFrame(drv, new Uint8Array(5));
    expect(got).toEqual([]);
    expect(net.stats.txDropped).toBe(1);
    expect(t.failureReason).toBeNull();
    sendFrame(drv, frame(macB, macA, 'ok'));
    expect(got.length).toBe(1);
  });
});
