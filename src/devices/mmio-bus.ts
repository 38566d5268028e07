// Routes the core's MMIO accesses to the devices mapped on the board (QEMU virt map, ARCHITECTURE.md).
//
// Contract with the core wrapper: mmioRead/mmioWrite throw MmioAccessFault when no device covers the
// whole access (unmapped hole, access straddling two regions, bad size); the wrapper turns it into a
// load/store access fault (mcause 5 / 7) at that address. Nothing else escapes: devices ignore bad
// offsets within their own window and read them as zero.

import type { MmioDevice } from './bus.js';

function toBigAddress(addr: bigint | number): bigint {
  return typeof addr === 'bigint' ? addr : Number.isSafeInteger(addr) ? BigInt(addr) : -1n;
}

export class MmioAccessFault extends Error {
  constructor(
    readonly address: bigint,
    readonly size: number,
    readonly isWrite: boolean,
  ) {
    super(`MMIO ${isWrite ? 'store' : 'load'} access fault at 0x${address.toString(16)} (size ${size})`);
    this.name = 'MmioAccessFault';
  }
}

interface Mapping {
  base: number;
  end: number; // exclusive
  device: MmioDevice;
  name: string;
}

/** Converts an MMIO value of `size` bytes to the number (size <= 4) or bigint (size 8) devices receive. */
export function normalizeValue(value: number | bigint, size: number): number | bigint {
  if (size === 8) return BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(value));
  const v = typeof value === 'bigint' ? Number(BigInt.asUintN(32, value)) : value;
  return size === 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
}

/** Low 32 bits of a value as an unsigned number, for devices with 32-bit registers. */
export function low32(value: number | bigint): number {
  return typeof value === 'bigint' ? Number(BigInt.asUintN(32, value)) : value >>> 0;
}

export class MmioBus {
  private readonly maps: Mapping[] = [];
  private last: Mapping | undefined;

  /** Maps `device` at guest-physical `base`; overlapping another region is a board bug and throws. */
  map(base: number, device: MmioDevice, name = 'device'): void {
    const end = base + device.size;
    if (!Number.isSafeInteger(base) || base < 0 || device.size <= 0) throw new RangeError(`bad MMIO region for ${name}`);
    for (const m of this.maps) {
      if (base < m.end && m.base < end) throw new RangeError(`${name} at 0x${base.toString(16)} overlaps ${m.name}`);
    }
    this.maps.push({ base, end, device, name });
    this.maps.sort((a, b) => a.base - b.base);
  }

  /** The regions, for diagnostics and the device tree. */
  regions(): { base: number; size: number; name: string }[] {
    return this.maps.map((m) => ({ base: m.base, size: m.end - m.base, name: m.name }));
  }

  private find(addr: bigint | number, size: number): Mapping | undefined {
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return undefined;
    let a: number;
    if (typeof addr === 'bigint') {
      if (addr < 0n || addr > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      a = Number(addr);
    } else {
      if (!Number.isSafeInteger(addr)) return undefined;
      a = addr;
    }
    const l = this.last;
    if (l !== undefined && a >= l.base && a + size <= l.end) return l;
    for (const m of this.maps) {
      if (a >= m.base && a + size <= m.end) {
        this.last = m;
        return m;
      }
    }
    return undefined;
  }

  /** True when an access of `size` bytes at `addr` would reach a device. */
  isMapped(addr: bigint | number, size = 1): boolean {
    return this.find(addr, size) !== undefined;
  }

  /** Reads `size` bytes: a number for sizes 1/2/4 (unsigned), a bigint for 8. Throws MmioAccessFault. */
  mmioRead(addr: bigint | number, size: number): number | bigint {
    const m = this.find(addr, size);
    if (m === undefined) throw new MmioAccessFault(toBigAddress(addr), size, false);
    return normalizeValue(m.device.read(Number(addr) - m.base, size), size);
  }

  /** Writes `size` bytes (little-endian value). Throws MmioAccessFault. */
  mmioWrite(addr: bigint | number, size: number, value: number | bigint): void {
    const m = this.find(addr, size);
    if (m === undefined) throw new MmioAccessFault(toBigAddress(addr), size, true);
    m.device.write(Number(addr) - m.base, size, normalizeValue(value, size));
  }
}

/**
 * The bus as the wasm core's wrapper wants it (src/engines/rv64/core.ts, `Rv64Bus`): bigint values,
 * and a fault reported through `reportFault` (the core's `mmioFault()`) instead of an exception,
 * because an exception must not unwind through wasm frames. A faulting read returns 0n.
 */
export interface FaultReportingBus {
  mmioRead(addr: bigint, size: number): bigint;
  mmioWrite(addr: bigint, size: number, value: bigint): void;
}

export function faultReportingBus(bus: MmioBus, reportFault: () => void): FaultReportingBus {
  return {
    mmioRead(addr: bigint, size: number): bigint {
      try {
        return BigInt.asUintN(64, BigInt(bus.mmioRead(addr, size)));
      } catch (e) {
        if (!(e instanceof MmioAccessFault)) throw e;
        reportFault();
        return 0n;
      }
    },
    mmioWrite(addr: bigint, size: number, value: bigint): void {
      try {
        bus.mmioWrite(addr, size, value);
      } catch (e) {
        if (!(e instanceof MmioAccessFault)) throw e;
        reportFault();
      }
    },
  };
}
