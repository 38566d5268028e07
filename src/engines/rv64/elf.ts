// ELF64 little-endian RISC-V loader: PT_LOAD segments at their physical addresses (bss zeroed),
// the entry point, and symbol lookup (tohost/fromhost for the HTIF protocol). Every offset and
// size in the file is checked against the file before it is used: a malformed file throws
// ElfError with one line, never a RangeError from a read out of bounds.

import { EngineConfigError } from '../create.js';

export interface ElfSegment {
  paddr: bigint;
  vaddr: bigint;
  fileOffset: number;
  fileSize: number;
  memSize: number;
  flags: number;
}

export interface ElfImage {
  entry: bigint;
  segments: ElfSegment[];
  /** Symbol name -> value, from .symtab (empty if stripped). */
  symbols: Map<string, bigint>;
}

/** A file that is not a loadable RV64 ELF; a configuration error (the CLI's exit status 2). */
export class ElfError extends EngineConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const PHDR_BYTES = 56;
const SHDR_BYTES = 64;
const SYM_BYTES = 24;
/** No segment is larger than the largest RAM (2 GiB); more is a damaged size field. */
const MAX_SEGMENT_BYTES = 2 ** 32;

/** Does [off, off + size) lie inside a file of `length` bytes (u64 fields, no overflow)? */
function inFile(off: bigint, size: bigint, length: number): boolean {
  return off <= BigInt(length) && size <= BigInt(length) - off;
}

/**
 * Parses an ELF64 RISC-V executable; throws ElfError with a one-line explanation otherwise.
 * A symbol table that is present but damaged is refused too (rather than dropped): without it
 * `tohost` would silently not work and a test program would hang instead of passing or failing.
 */
export function parseElf(bytes: Uint8Array): ElfImage {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('not an ELF file (bad magic)');
  }
  if (bytes.length < 64) throw new ElfError(`truncated ELF file (${bytes.length} bytes, the header alone is 64)`);
  if (bytes[4] === 1) throw new ElfError('32-bit ELF; an RV64 (ELFCLASS64) program is needed');
  if (bytes[4] !== 2) throw new ElfError(`unknown ELF class ${bytes[4]}`);
  if (bytes[5] !== 1) throw new ElfError('big-endian ELF; RISC-V is little-endian');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV) throw new ElfError(`ELF for machine ${machine}, not RISC-V (${EM_RISCV})`);
  const type = dv.getUint16(16, true);
  if (type !== 2 && type !== 3) throw new ElfError(`ELF type ${type} is not an executable`);
  const entry = dv.getBigUint64(24, true);
  const segments = readSegments(bytes, dv);
  const symbols = readSymbols(bytes, dv);
  return { entry, segments, symbols };
}

function readSegments(bytes: Uint8Array, dv: DataView): ElfSegment[] {
  const phoff = dv.getBigUint64(32, true);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phnum === 0) throw new ElfError('no program headers (nothing to load)');
  if (phnum === 0xffff) throw new ElfError('extended program header numbering is not supported');
  if (phentsize < PHDR_BYTES) throw new ElfError(`program header entries of ${phentsize} bytes (ELF64 needs ${PHDR_BYTES})`);
  if (!inFile(phoff, BigInt(phnum) * BigInt(phentsize), bytes.length)) throw new ElfError('program headers run past the end of the file');

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = Number(phoff) + i * phentsize;
    if (dv.getUint32(o, true) !== PT_LOAD) continue;
    const off = dv.getBigUint64(o + 8, true);
    const paddr = dv.getBigUint64(o + 24, true);
    const fileSize = dv.getBigUint64(o + 32, true);
    const memSize = dv.getBigUint64(o + 40, true);
    if (fileSize > memSize) throw new ElfError(`segment ${i} has a file size larger than its memory size`);
    if (memSize > BigInt(MAX_SEGMENT_BYTES)) throw new ElfError(`segment ${i} is ${memSize} bytes, larger than any RAM`);
    if (!inFile(off, fileSize, bytes.length)) throw new ElfError(`segment ${i} runs past the end of the file`);
    if (paddr + memSize > (1n << 64n)) throw new ElfError(`segment ${i} wraps around the address space`);
    segments.push({
      flags: dv.getUint32(o + 4, true),
      fileOffset: Number(off),
      vaddr: dv.getBigUint64(o + 16, true),
      paddr,
      fileSize: Number(fileSize),
      memSize: Number(memSize),
    });
  }
  if (segments.length === 0) throw new ElfError('no loadable (PT_LOAD) segments');
  const sorted = segments.filter((s) => s.memSize > 0).sort((a, b) => (a.paddr < b.paddr ? -1 : a.paddr > b.paddr ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.paddr + BigInt(prev.memSize) > sorted[i]!.paddr) {
      throw new ElfError(`segments at 0x${prev.paddr.toString(16)} and 0x${sorted[i]!.paddr.toString(16)} overlap`);
    }
  }
  return segments;
}

function readSymbols(bytes: Uint8Array, dv: DataView): Map<string, bigint> {
  const symbols = new Map<string, bigint>();
  const shoff = dv.getBigUint64(40, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  if (shoff === 0n && shnum === 0) return symbols; // no section headers at all (allowed, like a stripped file)
  if (shnum === 0) throw new ElfError('extended section numbering is not supported');
  if (shentsize < SHDR_BYTES) throw new ElfError(`section header entries of ${shentsize} bytes (ELF64 needs ${SHDR_BYTES})`);
  if (!inFile(shoff, BigInt(shnum) * BigInt(shentsize), bytes.length)) throw new ElfError('section headers run past the end of the file');
  const header = (i: number): number => Number(shoff) + i * shentsize;
  const decoder = new TextDecoder();
  for (let i = 0; i < shnum; i++) {
    const o = header(i);
    if (dv.getUint32(o + 4, true) !== SHT_SYMTAB) continue;
    const bad = (why: string): ElfError => new ElfError(`damaged symbol table (section ${i}: ${why})`);
    const symOff = dv.getBigUint64(o + 24, true);
    const symSize = dv.getBigUint64(o + 32, true);
    const link = dv.getUint32(o + 40, true);
    const entsize = dv.getBigUint64(o + 56, true);
    if (entsize !== BigInt(SYM_BYTES)) throw bad(`entries of ${entsize} bytes, not ${SYM_BYTES}`);
    if (!inFile(symOff, symSize, bytes.length)) throw bad('it runs past the end of the file');
    if (link === 0 || link >= shnum) throw bad(`its string table index ${link} does not exist`);
    const so = header(link);
    const strOff = dv.getBigUint64(so + 24, true);
    const strSize = dv.getBigUint64(so + 32, true);
    if (!inFile(strOff, strSize, bytes.length)) throw bad('its string table runs past the end of the file');
    const strStart = Number(strOff);
    const strEnd = strStart + Number(strSize);
    const end = Number(symOff) + Number(symSize) - (Number(symSize) % SYM_BYTES);
    for (let s = Number(symOff); s < end; s += SYM_BYTES) {
      const nameOff = dv.getUint32(s, true);
      if (nameOff === 0) continue;
      if (nameOff >= Number(strSize)) throw bad(`a symbol name at ${nameOff} is outside its string table`);
      const nul = bytes.subarray(strStart + nameOff, strEnd).indexOf(0);
      if (nul < 0) throw bad('a symbol name runs past its string table');
      const name = decoder.decode(bytes.subarray(strStart + nameOff, strStart + nameOff + nul));
      if (!symbols.has(name)) symbols.set(name, dv.getBigUint64(s + 8, true));
    }
  }
  return symbols;
}

/** Refuses an image whose segments or entry point lie outside RAM [ramBase, ramBase + ramBytes). */
export function checkElfInRam(image: ElfImage, ramBase: bigint, ramBytes: number): void {
  const ramEnd = ramBase + BigInt(ramBytes);
  const range = `RAM is 0x${ramBase.toString(16)}..0x${ramEnd.toString(16)}`;
  for (const s of image.segments) {
    if (s.memSize === 0) continue;
    const end = s.paddr + BigInt(s.memSize);
    if (s.paddr < ramBase || end > ramEnd) {
      throw new ElfError(`segment at 0x${s.paddr.toString(16)}..0x${end.toString(16)} is outside RAM (${range})`);
    }
  }
  if (image.entry < ramBase || image.entry >= ramEnd) {
    throw new ElfError(`the entry point 0x${image.entry.toString(16)} is outside RAM (${range})`);
  }
  if ((image.entry & 1n) !== 0n) throw new ElfError(`the entry point 0x${image.entry.toString(16)} is odd (instructions are 2-byte aligned)`);
}

/** Copies the segments into RAM (ramBase = guest physical address of ram[0]); zeroes bss. */
export function loadElfInto(image: ElfImage, bytes: Uint8Array, ram: Uint8Array, ramBase: bigint, written?: (off: number, len: number) => void): void {
  const ramEnd = ramBase + BigInt(ram.length);
  for (const s of image.segments) {
    if (s.memSize === 0) continue;
    const end = s.paddr + BigInt(s.memSize);
    if (s.paddr < ramBase || end > ramEnd) {
      throw new ElfError(
        `segment at 0x${s.paddr.toString(16)}..0x${end.toString(16)} is outside RAM ` +
          `(0x${ramBase.toString(16)}..0x${ramEnd.toString(16)})`,
      );
    }
    const off = Number(s.paddr - ramBase);
    ram.set(bytes.subarray(s.fileOffset, s.fileOffset + s.fileSize), off);
    ram.fill(0, off + s.fileSize, off + s.memSize);
    written?.(off, s.memSize);
  }
}
