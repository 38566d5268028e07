// Disassembler for traces and error messages, driven by the instruction table (instructions.ts).
import {
  C_IMMEDIATES,
  compressedImmediate,
  compressedRegister,
  decodeCompressed,
  decodeInstruction,
  type InstructionDef,
} from './instructions.js';

const XNAMES = [
  'zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6',
];
const FNAMES = [
  'ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3', 'fa4', 'fa5',
  'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10', 'fs11', 'ft8', 'ft9', 'ft10', 'ft11',
];
const RM = ['rne', 'rtz', 'rdn', 'rup', 'rmm', 'rm5', 'rm6', 'dyn'];

const CSR_NAMES: Record<number, string> = {
  0x001: 'fflags', 0x002: 'frm', 0x003: 'fcsr', 0xc00: 'cycle', 0xc01: 'time', 0xc02: 'instret',
  0x100: 'sstatus', 0x104: 'sie', 0x105: 'stvec', 0x106: 'scounteren', 0x10a: 'senvcfg', 0x140: 'sscratch',
  0x141: 'sepc', 0x142: 'scause', 0x143: 'stval', 0x144: 'sip', 0x180: 'satp', 0x300: 'mstatus',
  0x301: 'misa', 0x302: 'medeleg', 0x303: 'mideleg', 0x304: 'mie', 0x305: 'mtvec', 0x306: 'mcounteren',
  0x30a: 'menvcfg', 0x320: 'mcountinhibit', 0x340: 'mscratch', 0x341: 'mepc', 0x342: 'mcause',
  0x343: 'mtval', 0x344: 'mip', 0xb00: 'mcycle', 0xb02: 'minstret', 0xf11: 'mvendorid', 0xf12: 'marchid',
  0xf13: 'mimpid', 0xf14: 'mhartid', 0xf15: 'mconfigptr', 0x7a0: 'tselect', 0x7a1: 'tdata1', 0x7a2: 'tdata2',
};

export function csrName(csr: number): string {
  if (CSR_NAMES[csr]) return CSR_NAMES[csr]!;
  if (csr >= 0x3a0 && csr <= 0x3af) return `pmpcfg${csr - 0x3a0}`;
  if (csr >= 0x3b0 && csr <= 0x3ef) return `pmpaddr${csr - 0x3b0}`;
  return '0x' + csr.toString(16);
}

function immOf(d: InstructionDef, insn: number): number {
  switch (d.format) {
    case 'I':
    case 'CSR':
    case 'CSRI':
      return insn >> 20;
    case 'SHIFT':
      return (insn >>> 20) & 0x3f;
    case 'S':
      return ((insn >> 25) << 5) | ((insn >>> 7) & 31);
    case 'B':
      return ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) | (((insn >>> 25) & 0x3f) << 5) | (((insn >>> 8) & 0xf) << 1);
    case 'U':
      return insn >>> 12;
    case 'J':
      return ((insn >> 31) << 20) | (((insn >>> 12) & 0xff) << 12) | (((insn >>> 20) & 1) << 11) | (((insn >>> 21) & 0x3ff) << 1);
    default:
      return 0;
  }
}

const hex = (v: bigint): string => '0x' + v.toString(16);

/** Formats one 32-bit instruction at `pc`. Unknown encodings read as ".word 0x...". */
export function disassemble32(insn: number, pc: bigint = 0n): string {
  insn >>>= 0;
  const d = decodeInstruction(insn);
  if (!d) return `.word 0x${insn.toString(16).padStart(8, '0')}`;
  const rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31, rs2 = (insn >>> 20) & 31, rs3 = insn >>> 27;
  const imm = immOf(d, insn);
  const ops = d.operands
    ? d.operands.split(',').map((o) => {
        switch (o) {
          case 'rd': return XNAMES[rd];
          case 'rs1': return XNAMES[rs1];
          case 'rs2': return XNAMES[rs2];
          case 'frd': return FNAMES[rd];
          case 'frs1': return FNAMES[rs1];
          case 'frs2': return FNAMES[rs2];
          case 'frs3': return FNAMES[rs3];
          case 'imm': return d.format === 'U' ? '0x' + imm.toString(16) : String(imm);
          case 'shamt': return String(imm);
          case 'off(rs1)': return `${imm}(${XNAMES[rs1]})`;
          case '(rs1)': return `(${XNAMES[rs1]})`;
          case 'target': return hex(BigInt.asUintN(64, pc + BigInt(imm)));
          case 'csr': return csrName((insn >>> 20) & 0xfff);
          case 'uimm': return String(rs1);
          case 'rm': return RM[(insn >>> 12) & 7];
          case 'pred': return fenceSet(insn >>> 24);
          case 'succ': return fenceSet(insn >>> 20);
          case 'aqrl': return ((insn >>> 26) & 1 ? 'aq' : '') + ((insn >>> 25) & 1 ? 'rl' : '') || undefined;
          default: return o;
        }
      }).filter((x): x is string => x !== undefined && x !== '')
    : [];
  return ops.length ? `${d.name} ${ops.join(', ')}` : d.name;
}

function fenceSet(bits: number): string {
  const s = (bits & 8 ? 'i' : '') + (bits & 4 ? 'o' : '') + (bits & 2 ? 'r' : '') + (bits & 1 ? 'w' : '');
  return s || '0';
}

/** Formats a 16-bit instruction by its compressed mnemonic. */
export function disassemble16(h: number, pc: bigint = 0n): string {
  h &= 0xffff;
  const d = decodeCompressed(h);
  if (!d) return `.half 0x${h.toString(16).padStart(4, '0')}`;
  const imm = d.imm ? compressedImmediate(C_IMMEDIATES[d.imm]!, h) : 0;
  const reg = (r: string, names: string[]): string => {
    const n = r.replace("'", '');
    const spec = (n === 'rd' ? d.rd : n === 'rs1' ? d.rs1 : d.rs2) ?? 'x0';
    return names[compressedRegister(spec, h)]!;
  };
  const ops = d.operands
    ? d.operands.split(',').map((o) => {
        const fp = o.startsWith('f') && o !== 'off(sp)';
        const base = fp ? o.slice(1) : o;
        if (base.startsWith('rd') || base.startsWith('rs')) return reg(base, fp ? FNAMES : XNAMES);
        if (o === 'imm' || o === 'uimm' || o === 'shamt') return String(imm);
        if (o === 'target') return hex(BigInt.asUintN(64, pc + BigInt(imm)));
        if (o === 'off(sp)') return `${imm}(sp)`;
        if (o === "off(rs1')") return `${imm}(${reg("rs1'", XNAMES)})`;
        return o;
      })
    : [];
  return ops.length ? `${d.name} ${ops.join(', ')}` : d.name;
}

/** Disassembles the instruction whose first halfword is `lo` (and second `hi` when 32-bit). */
export function disassemble(lo: number, hi: number, pc: bigint = 0n): { text: string; length: 2 | 4 } {
  if ((lo & 3) !== 3) return { text: disassemble16(lo, pc), length: 2 };
  return { text: disassemble32(((hi & 0xffff) << 16) | (lo & 0xffff), pc), length: 4 };
}
