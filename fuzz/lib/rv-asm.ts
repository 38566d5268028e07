// A few RV64 instruction encoders and an ELF writer, enough for the fuzzers' generated guest
// programs (no toolchain needed at fuzz time).

const r = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number): number =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const i = (imm: number, rs1: number, f3: number, rd: number, op: number): number =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const s = (imm: number, rs2: number, rs1: number, f3: number, op: number): number =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op) >>> 0;

export const A = {
  addi: (rd: number, rs1: number, imm: number) => i(imm, rs1, 0, rd, 0x13),
  addiw: (rd: number, rs1: number, imm: number) => i(imm, rs1, 0, rd, 0x1b),
  xori: (rd: number, rs1: number, imm: number) => i(imm, rs1, 4, rd, 0x13),
  andi: (rd: number, rs1: number, imm: number) => i(imm, rs1, 7, rd, 0x13),
  slli: (rd: number, rs1: number, sh: number) => i(sh & 63, rs1, 1, rd, 0x13),
  srli: (rd: number, rs1: number, sh: number) => i(sh & 63, rs1, 5, rd, 0x13),
  lui: (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37) >>> 0,
  auipc: (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x17) >>> 0,
  add: (rd: number, a: number, b: number) => r(0, b, a, 0, rd, 0x33),
  sub: (rd: number, a: number, b: number) => r(0x20, b, a, 0, rd, 0x33),
  xor: (rd: number, a: number, b: number) => r(0, b, a, 4, rd, 0x33),
  or: (rd: number, a: number, b: number) => r(0, b, a, 6, rd, 0x33),
  and: (rd: number, a: number, b: number) => r(0, b, a, 7, rd, 0x33),
  mul: (rd: number, a: number, b: number) => r(1, b, a, 0, rd, 0x33),
  addw: (rd: number, a: number, b: number) => r(0, b, a, 0, rd, 0x3b),
  /** Loads by size: 1, 2, 4, 8 bytes (unsigned for 1, 2, 4). */
  load: (size: number, rd: number, rs1: number, imm: number) => i(imm, rs1, ({ 1: 4, 2: 5, 4: 6, 8: 3 } as Record<number, number>)[size]!, rd, 0x03),
  store: (size: number, rs2: number, rs1: number, imm: number) => s(imm, rs2, rs1, ({ 1: 0, 2: 1, 4: 2, 8: 3 } as Record<number, number>)[size]!, 0x23),
  beq: (a: number, b: number, off: number) => branch(0, a, b, off),
  bne: (a: number, b: number, off: number) => branch(1, a, b, off),
  blt: (a: number, b: number, off: number) => branch(4, a, b, off),
  bltu: (a: number, b: number, off: number) => branch(6, a, b, off),
  jal: (rd: number, off: number) =>
    ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0,
  jalr: (rd: number, rs1: number, imm: number) => i(imm, rs1, 0, rd, 0x67),
  csrrw: (rd: number, csr: number, rs1: number) => i(csr, rs1, 1, rd, 0x73),
  csrrs: (rd: number, csr: number, rs1: number) => i(csr, rs1, 2, rd, 0x73),
  mret: () => 0x30200073,
  wfi: () => 0x10500073,
  ecall: () => 0x00000073,
  fenceI: () => 0x0000100f,
  fence: () => 0x0ff0000f,
};

function branch(f3: number, a: number, b: number, off: number): number {
  return ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (b << 20) | (a << 15) | (f3 << 12) |
    (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0;
}

/** Instructions that put the 64-bit `value` into `rd` (lui/addiw, then shifts and addi). */
export function li(rd: number, value: bigint): number[] {
  const v = BigInt.asIntN(64, value);
  if (v >= -2048n && v < 2048n) return [A.addi(rd, 0, Number(v))];
  if (v >= -(2n ** 31n) && v < 2n ** 31n) {
    const lo = Number(BigInt.asIntN(12, v));
    const hi = Number(BigInt.asUintN(20, (v - BigInt(lo)) >> 12n));
    return lo === 0 ? [A.lui(rd, hi)] : [A.lui(rd, hi), A.addiw(rd, rd, lo)];
  }
  const lo = Number(BigInt.asIntN(12, v));
  const hi = (v - BigInt(lo)) >> 12n;
  const out = [...li(rd, hi), A.slli(rd, rd, 12)];
  if (lo !== 0) out.push(A.addi(rd, rd, lo));
  return out;
}

export function words(insns: number[]): Uint8Array {
  const out = new Uint8Array(insns.length * 4);
  const dv = new DataView(out.buffer);
  insns.forEach((w, k) => dv.setUint32(k * 4, w, true));
  return out;
}

export interface ElfSpec {
  entry: bigint;
  segments: { paddr: bigint; vaddr?: bigint; data: Uint8Array; memSize?: number; flags?: number }[];
}

/** An ELF64 RISC-V executable with one PT_LOAD per segment (no sections). */
export function writeElf(spec: ElfSpec): Uint8Array {
  const phoff = 64;
  const dataStart = phoff + 56 * spec.segments.length;
  const size = dataStart + spec.segments.reduce((n, seg) => n + seg.data.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 243, true); // EM_RISCV
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, spec.entry, true);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, spec.segments.length, true);
  dv.setUint16(58, 64, true);
  let data = dataStart;
  spec.segments.forEach((seg, k) => {
    const o = phoff + 56 * k;
    dv.setUint32(o, 1, true);
    dv.setUint32(o + 4, seg.flags ?? 7, true);
    dv.setBigUint64(o + 8, BigInt(data), true);
    dv.setBigUint64(o + 16, seg.vaddr ?? seg.paddr, true);
    dv.setBigUint64(o + 24, seg.paddr, true);
    dv.setBigUint64(o + 32, BigInt(seg.data.length), true);
    dv.setBigUint64(o + 40, BigInt(seg.memSize ?? seg.data.length), true);
    dv.setBigUint64(o + 48, 0x1000n, true);
    out.set(seg.data, data);
    data += seg.data.length;
  });
  return out;
}
