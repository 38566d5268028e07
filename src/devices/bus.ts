// The narrow boundary between device front ends and the machine that hosts them.
// Front ends (UART, PLIC, virtio-mmio) see guest memory and interrupt lines only through these.

/** Guest-physical memory as a device sees it (DMA). Every access is bounds-checked by the implementer. */
export interface GuestMemory {
  /** True when [addr, addr+len) lies wholly in guest RAM. */
  isRam(addr: bigint | number, len: number): boolean;
  /** Copies guest RAM into a new array; throws GuestMemoryError when out of RAM. */
  read(addr: bigint | number, len: number): Uint8Array;
  /** Copies bytes into guest RAM (marks the pages dirty); throws GuestMemoryError when out of RAM. */
  write(addr: bigint | number, data: Uint8Array): void;
  readU16(addr: bigint | number): number;
  readU32(addr: bigint | number): number;
  readU64(addr: bigint | number): bigint;
  writeU16(addr: bigint | number, value: number): void;
  writeU32(addr: bigint | number, value: number): void;
  writeU64(addr: bigint | number, value: bigint): void;
}

export class GuestMemoryError extends Error {}

/** An interrupt controller input. Devices set their line's level; the controller decides the rest. */
export interface IrqLine {
  set(level: boolean): void;
}

/** A memory-mapped device region. Offsets are relative to the device's base; size is 1, 2, 4 or 8. */
export interface MmioDevice {
  readonly size: number;
  read(offset: number, size: number): number | bigint;
  write(offset: number, size: number, value: number | bigint): void;
}
