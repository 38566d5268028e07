// ELF64 little-endian RISC-V loader: PT_LOAD segments at their physical addresses (bss zeroed),
// the entry point, and symbol lookup (tohost/fromhost for the HTIF protocol).

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

export class ElfError extends Error {
  override name = 'ElfError';
}

const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;

/** Parses an ELF64 RISC-V executable; throws ElfError with a one-line explanation otherwise. */
export function parseElf(bytes: Uint8Array): ElfImage {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('not an ELF file (bad magic)');
  }
  if (bytes[4] === 1) throw new ElfError('32-bit ELF; an RV64 (ELFCLASS64) program is needed');
  if (bytes[4] !== 2) throw new ElfError(`unknown ELF class ${bytes[4]}`);
  if (bytes[5] !== 1) throw new ElfError('big-endian ELF; RISC-V is little-endian');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV) throw new ElfError(`ELF for machine ${machine}, not RISC-V (${EM_RISCV})`);
  const type = dv.getUint16(16, true);
  if (type !== 2 && type !== 3) throw new ElfError(`ELF type ${type} is not an executable`);
  const entry = dv.getBigUint64(24, true);
  const phoff = Number(dv.getBigUint64(32, true));
  const shoff = Number(dv.getBigUint64(40, true));
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);

  const segments: ElfSegment[] = [];
  if (phoff + phnum * phentsize > bytes.length) throw new ElfError('program headers run past the end of the file');
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (dv.getUint32(o, true) !== PT_LOAD) continue;
    const seg: ElfSegment = {
      flags: dv.getUint32(o + 4, true),
      fileOffset: Number(dv.getBigUint64(o + 8, true)),
      vaddr: dv.getBigUint64(o + 16, true),
      paddr: dv.getBigUint64(o + 24, true),
      fileSize: Number(dv.getBigUint64(o + 32, true)),
      memSize: Number(dv.getBigUint64(o + 40, true)),
    };
    if (seg.fileOffset + seg.fileSize > bytes.length) throw new ElfError(`segment ${i} runs past the end of the file`);
    if (seg.fileSize > seg.memSize) throw new ElfError(`segment ${i} has a file size larger than its memory size`);
    segments.push(seg);
  }
  if (segments.length === 0) throw new ElfError('no loadable (PT_LOAD) segments');

  const symbols = new Map<string, bigint>();
  if (shoff > 0 && shnum > 0 && shoff + shnum * shentsize <= bytes.length) {
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      if (dv.getUint32(o + 4, true) !== SHT_SYMTAB) continue;
      const symOff = Number(dv.getBigUint64(o + 24, true));
      const symSize = Number(dv.getBigUint64(o + 32, true));
      const link = dv.getUint32(o + 40, true);
      const entsize = Number(dv.getBigUint64(o + 56, true)) || 24;
      const so = shoff + link * shentsize;
      if (link >= shnum) continue;
      const strOff = Number(dv.getBigUint64(so + 24, true));
      const strSize = Number(dv.getBigUint64(so + 32, true));
      if (symOff + symSize > bytes.length || strOff + strSize > bytes.length) continue;
      for (let s = symOff; s + entsize <= symOff + symSize; s += entsize) {
        const nameOff = dv.getUint32(s, true);
        if (nameOff === 0 || nameOff >= strSize) continue;
        let end = strOff + nameOff;
        while (end < strOff + strSize && bytes[end] !== 0) end++;
        const name = new TextDecoder().decode(bytes.subarray(strOff + nameOff, end));
        if (!symbols.has(name)) symbols.set(name, dv.getBigUint64(s + 8, true));
      }
    }
  }
  return { entry, segments, symbols };
}

/** Copies the segments into RAM (ramBase = guest physical address of ram[0]); zeroes bss. */
export function loadElfInto(image: ElfImage, bytes: Uint8Array, ram: Uint8Array, ramBase: bigint): void {
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
  }
}
