// Where the virt board's loaders put things in RAM, as QEMU's hw/riscv/boot.c does: firmware at
// the start of RAM, the kernel Image at 0x8020_0000 (where fw_jump jumps), the initrd halfway into
// RAM above the kernel (at most 128 MiB above it), the device tree at the end of RAM aligned down to
// 16 MiB. Debian's fw_jump (OpenSBI 1.1, generic platform) copies the tree to FW_JUMP_FDT_ADDR =
// 0x8220_0000 before entering the kernel, so nothing else may sit there. Every range is checked
// against RAM and against the others, so a configuration that cannot boot is refused up front.

import type { ElfImage } from './elf.js';

export const RAM_BASE = 0x8000_0000;
/** fw_jump's FW_JUMP_ADDR: the kernel's load address and entry. */
export const KERNEL_BASE = 0x8020_0000;
/** fw_jump's FW_JUMP_FDT_ADDR: where it copies the device tree for the kernel. */
export const FW_JUMP_FDT_ADDR = 0x8220_0000;

const MiB = 1024 * 1024;
const PAGE = 4096;

/** A RISC-V Linux Image header (Documentation/riscv/boot-image-header.rst). */
export interface LinuxImageHeader {
  /** Bytes of RAM the kernel needs from its load address (image plus bss), 0 if unknown. */
  imageSize: number;
  textOffset: number;
}

/** Parses the header when `bytes` is a RISC-V Linux Image ("RSC\x05" at 0x38), else undefined. */
export function parseLinuxImage(bytes: Uint8Array): LinuxImageHeader | undefined {
  if (bytes.length < 0x40) return undefined;
  if (bytes[0x38] !== 0x52 || bytes[0x39] !== 0x53 || bytes[0x3a] !== 0x43 || bytes[0x3b] !== 0x05) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { textOffset: Number(dv.getBigUint64(8, true)), imageSize: Number(dv.getBigUint64(16, true)) };
}

/**
 * Where an ELF kernel goes: at its physical addresses when they are in RAM (a program linked for
 * the board); otherwise (a Linux vmlinux, linked at kernel-virtual addresses with physical ones
 * from 0) where its Image would be, lowest virtual address at KERNEL_BASE. Linux's early boot code
 * runs from wherever it was loaded, and fw_jump enters it at KERNEL_BASE.
 */
export function placeElf(elf: ElfImage): ElfImage {
  const ramBase = BigInt(RAM_BASE);
  if (elf.segments.every((s) => s.paddr >= ramBase && s.paddr < ramBase + (1n << 32n))) return elf;
  const lo = elf.segments.reduce((m, s) => (s.vaddr < m ? s.vaddr : m), elf.segments[0]!.vaddr);
  const delta = BigInt(KERNEL_BASE) - lo;
  const at = (a: bigint): bigint => BigInt.asUintN(64, a + delta);
  return { ...elf, entry: at(elf.entry), segments: elf.segments.map((s) => ({ ...s, paddr: at(s.vaddr) })) };
}

export interface Range {
  name: string;
  start: number;
  end: number; // exclusive
}

export interface BootLayoutInput {
  memoryBytes: number;
  firmwareBytes?: number;
  /** RAM the kernel occupies from `kernelStart` (file size or its header's image size, whichever is larger). */
  kernelStart: number;
  kernelBytes: number;
  initrdBytes?: number;
  dtbBytes: number;
  /** Whether fw_jump will copy the tree to FW_JUMP_FDT_ADDR. */
  fwJumpFdtCopy: boolean;
}

export interface BootLayout {
  initrd?: { start: number; end: number };
  dtb: number;
  ranges: Range[];
}

export class BootLayoutError extends Error {
  override name = 'BootLayoutError';
}

const alignDown = (v: number, a: number): number => Math.floor(v / a) * a;
const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

/** Places the initrd and the device tree; throws BootLayoutError (one line for the user) when they cannot fit. */
export function planBootLayout(p: BootLayoutInput): BootLayout {
  const ramEnd = RAM_BASE + p.memoryBytes;
  const ranges: Range[] = [];
  if (p.firmwareBytes !== undefined) ranges.push({ name: 'firmware', start: RAM_BASE, end: RAM_BASE + p.firmwareBytes });
  ranges.push({ name: 'kernel', start: p.kernelStart, end: p.kernelStart + p.kernelBytes });
  if (p.fwJumpFdtCopy) ranges.push({ name: "fw_jump's copy of the device tree", start: FW_JUMP_FDT_ADDR, end: FW_JUMP_FDT_ADDR + p.dtbBytes });

  const checkInRam = (r: Range): void => {
    if (r.start < RAM_BASE || r.end > ramEnd) {
      throw new BootLayoutError(`the ${r.name} (0x${r.start.toString(16)}..0x${r.end.toString(16)}) does not fit in ${mib(p.memoryBytes)} of RAM; give more memory`);
    }
  };
  ranges.forEach(checkInRam);

  // Device tree: end of RAM, aligned down to 16 MiB when that still leaves it in RAM (QEMU), else a page.
  let dtb = alignDown(ramEnd - p.dtbBytes, 16 * MiB);
  if (dtb < RAM_BASE || overlapsAny({ name: '', start: dtb, end: dtb + p.dtbBytes }, ranges)) dtb = alignDown(ramEnd - p.dtbBytes, PAGE);
  const dtbRange = { name: 'device tree', start: dtb, end: dtb + p.dtbBytes };
  checkInRam(dtbRange);
  ranges.push(dtbRange);

  let initrd: { start: number; end: number } | undefined;
  if (p.initrdBytes !== undefined) {
    // QEMU: halfway into RAM above the kernel, at most 128 MiB above it, so the kernel never clobbers
    // it. When that spot is taken: right after something already placed, or just below the tree.
    const size = p.initrdBytes;
    const kernelEnd = p.kernelStart + p.kernelBytes;
    const candidates = [
      alignUp(p.kernelStart + Math.min(p.memoryBytes / 2, 128 * MiB), PAGE),
      ...ranges.map((r) => alignUp(r.end, PAGE)).sort((a, b) => a - b),
      alignDown(dtb - size, PAGE),
    ];
    const start = candidates.find((c) => c >= kernelEnd && c + size <= ramEnd && !overlapsAny({ name: '', start: c, end: c + size }, ranges));
    if (start === undefined) {
      throw new BootLayoutError(
        `the ${mib(size)} initrd does not fit in ${mib(p.memoryBytes)} of RAM next to the firmware, kernel and device tree; give more memory`);
    }
    initrd = { start, end: start + size };
    ranges.push({ name: 'initrd', ...initrd });
  }

  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!;
      const b = ranges[j]!;
      if (a.start < b.end && b.start < a.end) throw new BootLayoutError(`the ${a.name} and the ${b.name} overlap in RAM (the kernel or initrd is too large)`);
    }
  }
  return initrd ? { initrd, dtb, ranges } : { dtb, ranges };
}

function overlapsAny(r: Range, others: Range[]): boolean {
  return others.some((o) => r.start < o.end && o.start < r.end);
}
