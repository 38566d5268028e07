import { describe, expect, it } from 'vitest';
import { ArrayGuestMemory } from '../../src/devices/guest-memory.js';
import { GuestMemoryError, type MmioDevice } from '../../src/devices/bus.js';
import { faultReportingBus, MmioAccessFault, MmioBus } from '../../src/devices/mmio-bus.js';
import { SysCon } from '../../src/devices/syscon.js';

class Recorder implements MmioDevice {
  readonly size = 0x100;
  log: [string, number, number, number | bigint][] = [];
  read(offset: number, size: number): number | bigint {
    this.log.push(['r', offset, size, 0]);
    return size === 8 ? 0x1122_3344_5566_7788n : 0xdead_beef;
  }
  write(offset: number, size: number, value: number | bigint): void {
    this.log.push(['w', offset, size, value]);
  }
}

describe('ArrayGuestMemory', () => {
  it('reads and writes little-endian inside RAM and rejects anything outside', () => {
    const m = new ArrayGuestMemory(0x2000);
    m.writeU64(0x8000_0ff8, 0x0102_0304_0506_0708n);
    expect(m.readU32(0x8000_0ff8)).toBe(0x0506_0708);
    expect(m.readU16(0x8000_0ffe)).toBe(0x0102);
    expect(m.isRam(0x8000_0000, 0x2000)).toBe(true);
    expect(m.isRam(0x8000_0001, 0x2000)).toBe(false);
    expect(m.isRam(0x7fff_ffff, 1)).toBe(false);
    expect(m.isRam(0x8000_0000n + 0x1fffn, 1)).toBe(true);
    expect(m.isRam(0xffff_ffff_ffff_ffffn, 2)).toBe(false);
    expect(m.isRam(0x8000_0000, -1)).toBe(false);
    expect(() => m.read(0x8000_1fff, 2)).toThrow(GuestMemoryError);
    expect(() => m.writeU32(0x1000, 1)).toThrow(GuestMemoryError);
  });

  it('follows RAM that moves when wasm memory grows', () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const ram = () => new Uint8Array(wasm.buffer, 0x1000, 0x2000);
    const m = new ArrayGuestMemory(ram);
    m.writeU32(0x8000_0010, 0xcafe);
    wasm.grow(1); // detaches the old buffer
    expect(m.readU32(0x8000_0010)).toBe(0xcafe);
    m.writeU32(0x8000_0020, 7);
    expect(new DataView(wasm.buffer).getUint32(0x1020, true)).toBe(7);
  });

  it('records pages written by devices', () => {
    const m = new ArrayGuestMemory(0x10000);
    m.write(0x8000_0ffe, new Uint8Array(4));
    m.writeU8(0x8000_5000, 1);
    expect(m.takeDirtyPages()).toEqual([0, 1, 5]);
    expect(m.takeDirtyPages()).toEqual([]);
    const seen: [number, number][] = [];
    const hooked = new ArrayGuestMemory(new Uint8Array(0x2000), 0x8000_0000, (o, l) => seen.push([o, l]));
    hooked.writeU32(0x8000_1000, 5);
    expect(seen).toEqual([[0x1000, 4]]);
  });
});

describe('MmioBus', () => {
  it('routes accesses to the device by offset, normalising values per size', () => {
    const bus = new MmioBus();
    const d = new Recorder();
    bus.map(0x1000_0000, d, 'rec');
    expect(bus.mmioRead(0x1000_0004n, 4)).toBe(0xdead_beef);
    expect(bus.mmioRead(0x1000_0008, 8)).toBe(0x1122_3344_5566_7788n);
    expect(bus.mmioRead(0x1000_0001, 1)).toBe(0xef);
    bus.mmioWrite(0x1000_0010, 1, 0x1ff);
    bus.mmioWrite(0x1000_0010, 8, -1);
    bus.mmioWrite(0x1000_0010, 4, 0x1_2345_6789n);
    expect(d.log.filter((e) => e[0] === 'w').map((e) => e[3])).toEqual([0xff, 0xffff_ffff_ffff_ffffn, 0x2345_6789]);
  });

  it('reports unmapped, straddling and odd-sized accesses as access faults', () => {
    const bus = new MmioBus();
    bus.map(0x1000_0000, new Recorder());
    expect(() => bus.mmioRead(0x2000_0000, 4)).toThrow(MmioAccessFault);
    expect(() => bus.mmioRead(0x1000_00fe, 4)).toThrow(MmioAccessFault);
    expect(() => bus.mmioWrite(0x1000_0000, 3, 0)).toThrow(MmioAccessFault);
    expect(() => bus.mmioWrite(-1n, 1, 0)).toThrow(MmioAccessFault);
    expect(() => bus.mmioRead(0x1000_0000 + 0.5, 1)).toThrow(MmioAccessFault);
    expect(() => bus.mmioRead(NaN, 1)).toThrow(MmioAccessFault);
    expect(() => bus.mmioRead(1n << 64n, 1)).toThrow(MmioAccessFault);
    try {
      bus.mmioWrite(0x1234, 2, 0);
    } catch (e) {
      expect(e).toBeInstanceOf(MmioAccessFault);
      expect((e as MmioAccessFault).address).toBe(0x1234n);
      expect((e as MmioAccessFault).isWrite).toBe(true);
    }
    expect(bus.isMapped(0x1000_00ff)).toBe(true);
    expect(bus.isMapped(0x1000_0100)).toBe(false);
  });

  it('reports faults through a callback for the wasm core, never by exception', () => {
    const bus = new MmioBus();
    bus.map(0x1000_0000, new Recorder());
    let faults = 0;
    const core = faultReportingBus(bus, () => faults++);
    expect(core.mmioRead(0x1000_0000n, 4)).toBe(0xdead_beefn);
    expect(core.mmioRead(0x1000_0000n, 8)).toBe(0x1122_3344_5566_7788n);
    expect(core.mmioRead(0x3000_0000n, 4)).toBe(0n);
    core.mmioWrite(0x3000_0000n, 4, 1n);
    core.mmioWrite(0x1000_0000n, 4, 1n);
    expect(faults).toBe(2);
  });

  it('refuses overlapping regions', () => {
    const bus = new MmioBus();
    bus.map(0x1000, new Recorder());
    expect(() => bus.map(0x10ff, new Recorder())).toThrow(RangeError);
    bus.map(0x1100, new Recorder());
    expect(bus.regions().length).toBe(2);
  });
});

describe('SysCon', () => {
  it('turns finisher writes into poweroff, reboot and fail(code), ignoring anything else', () => {
    const events: string[] = [];
    const s = new SysCon({
      poweroff: () => events.push('off'),
      reboot: () => events.push('reboot'),
      fail: (c) => events.push(`fail ${c}`),
    });
    s.write(0, 4, 0x5555);
    s.write(0, 4, 0x7777);
    s.write(0, 4, (3 << 16) | 0x3333);
    s.write(0, 4, 0x1234);
    s.write(4, 4, 0x5555);
    s.write(0, 1, 0x55);
    s.write(0, 2, 0x5555); // OpenSBI writes 16 bits
    expect(events).toEqual(['off', 'reboot', 'fail 3', 'off']);
    expect(s.read()).toBe(0);
  });
});
