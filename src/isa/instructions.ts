// The one description of every RV64GC instruction. The AssemblyScript decoder
// (assembly/generated/), the disassembler (src/isa/disasm.ts), the test generator and
// a later JIT all read this table; nothing else lists encodings.
//
// Each 32-bit instruction: mnemonic, extension, format, operand list (for disassembly)
// and its fixed bits as mask/match. Each 16-bit (C) instruction: the same plus the
// 32-bit instruction it expands to, with how each field of the expansion is obtained.

export type Extension = 'I' | 'M' | 'A' | 'F' | 'D' | 'C' | 'Zicsr' | 'Zifencei' | 'Priv';

/** Instruction formats (RISC-V unprivileged spec, chapter 2 and 24). */
export type Format = 'R' | 'R4' | 'I' | 'S' | 'B' | 'U' | 'J' | 'SHIFT' | 'CSR' | 'CSRI' | 'AMO' | 'FENCE' | 'SYS';

export interface InstructionDef {
  /** Mnemonic as in the ISA manual, e.g. "fcvt.w.s". */
  name: string;
  ext: Extension;
  format: Format;
  /** Operands for disassembly, comma separated: rd rs1 rs2 rs3 frd frs1 frs2 frs3 imm off(rs1) target shamt csr uimm rm pred succ aqrl. */
  operands: string;
  mask: number;
  match: number;
  /** The instruction only exists in RV64 (W forms, ld/sd, ...). */
  rv64?: boolean;
}

/** How a field of the 32-bit expansion of a compressed instruction is taken from the 16 bits. */
export type CReg =
  | 'rd' // inst[11:7]
  | 'rs1' // inst[11:7] (same bits as rd in CI/CR formats)
  | 'rs2' // inst[6:2]
  | "rd'" // inst[4:2] + 8
  | "rs1'" // inst[9:7] + 8
  | "rs2'" // inst[4:2] + 8
  | 'x0'
  | 'x1'
  | 'x2';

/** An immediate scattered over the 16 bits: [instHi, instLo, immLo] means inst[instHi:instLo] -> imm[immLo + hi - lo : immLo]. */
export interface CImmediate {
  signed: boolean;
  segments: Array<[number, number, number]>;
}

export interface CompressedDef {
  name: string;
  ext: 'C';
  mask: number;
  match: number;
  operands: string;
  /** The 32-bit instruction (a name in INSTRUCTIONS) this one means. */
  expandsTo: string;
  rd?: CReg;
  rs1?: CReg;
  rs2?: CReg;
  /** Name of an entry of C_IMMEDIATES. */
  imm?: string;
  /** Encodings that are reserved: the instruction is illegal when one of these holds. */
  reservedWhen?: Array<'imm==0' | 'rd==0' | 'rs1==0'>;
  rv64?: boolean;
}

// Field masks of the 32-bit formats.
const OPCODE = 0x7f;
const RD = 0x1f << 7;
const F3 = 0x7 << 12;
const RS1 = 0x1f << 15;
const RS2 = 0x1f << 20;
const F7 = 0x7f << 25;
const F6 = 0x3f << 26;
const F5 = 0x1f << 27;
const FMT = 0x3 << 25;

interface Fixed {
  /** Major opcode (bits 6:0); unused when `all` is given. */
  op?: number;
  f3?: number;
  f7?: number;
  f6?: number;
  f5?: number;
  fmt?: number;
  rs2?: number;
  rs1?: number;
  rd?: number;
  /** All 32 bits fixed. */
  all?: number;
}

function encode(f: Fixed): { mask: number; match: number } {
  if (f.all !== undefined) return { mask: 0xffffffff, match: f.all >>> 0 };
  if (f.op === undefined) throw new Error('isa: an encoding needs an opcode');
  let mask = OPCODE;
  let match = f.op;
  if (f.f3 !== undefined) (mask |= F3), (match |= f.f3 << 12);
  if (f.f7 !== undefined) (mask |= F7), (match |= f.f7 << 25);
  if (f.f6 !== undefined) (mask |= F6), (match |= f.f6 << 26);
  if (f.f5 !== undefined) (mask |= F5), (match |= f.f5 << 27);
  if (f.fmt !== undefined) (mask |= FMT), (match |= f.fmt << 25);
  if (f.rs2 !== undefined) (mask |= RS2), (match |= f.rs2 << 20);
  if (f.rs1 !== undefined) (mask |= RS1), (match |= f.rs1 << 15);
  if (f.rd !== undefined) (mask |= RD), (match |= f.rd << 7);
  return { mask: mask >>> 0, match: match >>> 0 };
}

function def(name: string, ext: Extension, format: Format, operands: string, fixed: Fixed, rv64 = false): InstructionDef {
  const { mask, match } = encode(fixed);
  const d: InstructionDef = { name, ext, format, operands, mask, match };
  if (rv64) d.rv64 = true;
  return d;
}

const LOAD = 0x03, LOAD_FP = 0x07, MISC_MEM = 0x0f, OP_IMM = 0x13, AUIPC = 0x17, OP_IMM_32 = 0x1b;
const STORE = 0x23, STORE_FP = 0x27, AMO = 0x2f, OP = 0x33, LUI = 0x37, OP_32 = 0x3b;
const MADD = 0x43, MSUB = 0x47, NMSUB = 0x4b, NMADD = 0x4f, OP_FP = 0x53;
const BRANCH = 0x63, JALR = 0x67, JAL = 0x6f, SYSTEM = 0x73;

function rvi(): InstructionDef[] {
  const l: InstructionDef[] = [
    def('lui', 'I', 'U', 'rd,imm', { op: LUI }),
    def('auipc', 'I', 'U', 'rd,imm', { op: AUIPC }),
    def('jal', 'I', 'J', 'rd,target', { op: JAL }),
    def('jalr', 'I', 'I', 'rd,off(rs1)', { op: JALR, f3: 0 }),
  ];
  const br = ['beq', 'bne', '', '', 'blt', 'bge', 'bltu', 'bgeu'];
  br.forEach((n, f3) => n && l.push(def(n, 'I', 'B', 'rs1,rs2,target', { op: BRANCH, f3 })));
  const ld = ['lb', 'lh', 'lw', 'ld', 'lbu', 'lhu', 'lwu'];
  ld.forEach((n, f3) => l.push(def(n, 'I', 'I', 'rd,off(rs1)', { op: LOAD, f3 }, n === 'ld' || n === 'lwu')));
  ['sb', 'sh', 'sw', 'sd'].forEach((n, f3) => l.push(def(n, 'I', 'S', 'rs2,off(rs1)', { op: STORE, f3 }, n === 'sd')));
  const opi = ['addi', '', 'slti', 'sltiu', 'xori', '', 'ori', 'andi'];
  opi.forEach((n, f3) => n && l.push(def(n, 'I', 'I', 'rd,rs1,imm', { op: OP_IMM, f3 })));
  l.push(def('slli', 'I', 'SHIFT', 'rd,rs1,shamt', { op: OP_IMM, f3: 1, f6: 0 }));
  l.push(def('srli', 'I', 'SHIFT', 'rd,rs1,shamt', { op: OP_IMM, f3: 5, f6: 0 }));
  l.push(def('srai', 'I', 'SHIFT', 'rd,rs1,shamt', { op: OP_IMM, f3: 5, f6: 0x10 }));
  const ops: Array<[string, number, number]> = [
    ['add', 0, 0], ['sub', 0, 0x20], ['sll', 1, 0], ['slt', 2, 0], ['sltu', 3, 0],
    ['xor', 4, 0], ['srl', 5, 0], ['sra', 5, 0x20], ['or', 6, 0], ['and', 7, 0],
  ];
  for (const [n, f3, f7] of ops) l.push(def(n, 'I', 'R', 'rd,rs1,rs2', { op: OP, f3, f7 }));
  l.push(def('fence', 'I', 'FENCE', 'pred,succ', { op: MISC_MEM, f3: 0 }));
  l.push(def('ecall', 'I', 'SYS', '', { all: 0x00000073 }));
  l.push(def('ebreak', 'I', 'SYS', '', { all: 0x00100073 }));
  // RV64I word forms
  l.push(def('addiw', 'I', 'I', 'rd,rs1,imm', { op: OP_IMM_32, f3: 0 }, true));
  l.push(def('slliw', 'I', 'SHIFT', 'rd,rs1,shamt', { op: OP_IMM_32, f3: 1, f7: 0 }, true));
  l.push(def('srliw', 'I', 'SHIFT', 'rd,rs1,shamt', { op: OP_IMM_32, f3: 5, f7: 0 }, true));
  l.push(def('sraiw', 'I', 'SHIFT', 'rd,rs1,shamt', { op: OP_IMM_32, f3: 5, f7: 0x20 }, true));
  const opw: Array<[string, number, number]> = [
    ['addw', 0, 0], ['subw', 0, 0x20], ['sllw', 1, 0], ['srlw', 5, 0], ['sraw', 5, 0x20],
  ];
  for (const [n, f3, f7] of opw) l.push(def(n, 'I', 'R', 'rd,rs1,rs2', { op: OP_32, f3, f7 }, true));
  return l;
}

function rvm(): InstructionDef[] {
  const l: InstructionDef[] = [];
  ['mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu'].forEach((n, f3) =>
    l.push(def(n, 'M', 'R', 'rd,rs1,rs2', { op: OP, f3, f7: 1 })),
  );
  const w: Array<[string, number]> = [['mulw', 0], ['divw', 4], ['divuw', 5], ['remw', 6], ['remuw', 7]];
  for (const [n, f3] of w) l.push(def(n, 'M', 'R', 'rd,rs1,rs2', { op: OP_32, f3, f7: 1 }, true));
  return l;
}

function rva(): InstructionDef[] {
  const l: InstructionDef[] = [];
  const amos: Array<[string, number]> = [
    ['amoswap', 0x01], ['amoadd', 0x00], ['amoxor', 0x04], ['amoand', 0x0c], ['amoor', 0x08],
    ['amomin', 0x10], ['amomax', 0x14], ['amominu', 0x18], ['amomaxu', 0x1c],
  ];
  for (const [sfx, f3] of [['w', 2], ['d', 3]] as Array<[string, number]>) {
    l.push(def(`lr.${sfx}`, 'A', 'AMO', 'rd,(rs1),aqrl', { op: AMO, f3, f5: 0x02, rs2: 0 }, sfx === 'd'));
    l.push(def(`sc.${sfx}`, 'A', 'AMO', 'rd,rs2,(rs1),aqrl', { op: AMO, f3, f5: 0x03 }, sfx === 'd'));
    for (const [n, f5] of amos) l.push(def(`${n}.${sfx}`, 'A', 'AMO', 'rd,rs2,(rs1),aqrl', { op: AMO, f3, f5 }, sfx === 'd'));
  }
  return l;
}

function rvfd(): InstructionDef[] {
  const l: InstructionDef[] = [
    def('flw', 'F', 'I', 'frd,off(rs1)', { op: LOAD_FP, f3: 2 }),
    def('fsw', 'F', 'S', 'frs2,off(rs1)', { op: STORE_FP, f3: 2 }),
    def('fld', 'D', 'I', 'frd,off(rs1)', { op: LOAD_FP, f3: 3 }),
    def('fsd', 'D', 'S', 'frs2,off(rs1)', { op: STORE_FP, f3: 3 }),
  ];
  for (const [s, fmt, ext] of [['s', 0, 'F'], ['d', 1, 'D']] as Array<[string, number, Extension]>) {
    const other = s === 's' ? 'd' : 's';
    const fd = (n: string, operands: string, f: Omit<Fixed, 'op'> & { op?: number }, rv64 = false) =>
      l.push(def(n, ext, f.op === OP_FP || f.op === undefined ? 'R' : 'R4', operands, { op: OP_FP, ...f }, rv64));
    l.push(def(`fmadd.${s}`, ext, 'R4', 'frd,frs1,frs2,frs3,rm', { op: MADD, fmt }));
    l.push(def(`fmsub.${s}`, ext, 'R4', 'frd,frs1,frs2,frs3,rm', { op: MSUB, fmt }));
    l.push(def(`fnmsub.${s}`, ext, 'R4', 'frd,frs1,frs2,frs3,rm', { op: NMSUB, fmt }));
    l.push(def(`fnmadd.${s}`, ext, 'R4', 'frd,frs1,frs2,frs3,rm', { op: NMADD, fmt }));
    const f7 = (f5: number) => (f5 << 2) | fmt;
    fd(`fadd.${s}`, 'frd,frs1,frs2,rm', { f7: f7(0x00) });
    fd(`fsub.${s}`, 'frd,frs1,frs2,rm', { f7: f7(0x01) });
    fd(`fmul.${s}`, 'frd,frs1,frs2,rm', { f7: f7(0x02) });
    fd(`fdiv.${s}`, 'frd,frs1,frs2,rm', { f7: f7(0x03) });
    fd(`fsqrt.${s}`, 'frd,frs1,rm', { f7: f7(0x0b), rs2: 0 });
    fd(`fsgnj.${s}`, 'frd,frs1,frs2', { f7: f7(0x04), f3: 0 });
    fd(`fsgnjn.${s}`, 'frd,frs1,frs2', { f7: f7(0x04), f3: 1 });
    fd(`fsgnjx.${s}`, 'frd,frs1,frs2', { f7: f7(0x04), f3: 2 });
    fd(`fmin.${s}`, 'frd,frs1,frs2', { f7: f7(0x05), f3: 0 });
    fd(`fmax.${s}`, 'frd,frs1,frs2', { f7: f7(0x05), f3: 1 });
    // fcvt.s.d (fmt S, rs2 = 1) and fcvt.d.s (fmt D, rs2 = 0)
    fd(`fcvt.${s}.${other}`, 'frd,frs1,rm', { f7: f7(0x08), rs2: s === 's' ? 1 : 0 });
    fd(`feq.${s}`, 'rd,frs1,frs2', { f7: f7(0x14), f3: 2 });
    fd(`flt.${s}`, 'rd,frs1,frs2', { f7: f7(0x14), f3: 1 });
    fd(`fle.${s}`, 'rd,frs1,frs2', { f7: f7(0x14), f3: 0 });
    fd(`fclass.${s}`, 'rd,frs1', { f7: f7(0x1c), f3: 1, rs2: 0 });
    const ints: Array<[string, number, boolean]> = [['w', 0, false], ['wu', 1, false], ['l', 2, true], ['lu', 3, true]];
    for (const [i, rs2, r64] of ints) {
      fd(`fcvt.${i}.${s}`, 'rd,frs1,rm', { f7: f7(0x18), rs2 }, r64);
      fd(`fcvt.${s}.${i}`, 'frd,rs1,rm', { f7: f7(0x1a), rs2 }, r64);
    }
    const x = s === 's' ? 'w' : 'd';
    fd(`fmv.x.${x}`, 'rd,frs1', { f7: f7(0x1c), f3: 0, rs2: 0 }, s === 'd');
    fd(`fmv.${x}.x`, 'frd,rs1', { f7: f7(0x1e), f3: 0, rs2: 0 }, s === 'd');
  }
  return l;
}

function system(): InstructionDef[] {
  const l: InstructionDef[] = [];
  ['', 'csrrw', 'csrrs', 'csrrc', '', 'csrrwi', 'csrrsi', 'csrrci'].forEach((n, f3) => {
    if (n) l.push(def(n, 'Zicsr', f3 < 4 ? 'CSR' : 'CSRI', f3 < 4 ? 'rd,csr,rs1' : 'rd,csr,uimm', { op: SYSTEM, f3 }));
  });
  l.push(def('fence.i', 'Zifencei', 'I', '', { op: MISC_MEM, f3: 1 }));
  l.push(def('sret', 'Priv', 'SYS', '', { all: 0x10200073 }));
  l.push(def('mret', 'Priv', 'SYS', '', { all: 0x30200073 }));
  l.push(def('wfi', 'Priv', 'SYS', '', { all: 0x10500073 }));
  l.push(def('sfence.vma', 'Priv', 'R', 'rs1,rs2', { op: SYSTEM, f3: 0, f7: 0x09, rd: 0 }));
  return l;
}

/** Every 32-bit instruction of RV64GC + Zicsr + Zifencei + the privileged instructions. */
export const INSTRUCTIONS: readonly InstructionDef[] = [...rvi(), ...rvm(), ...rva(), ...rvfd(), ...system()];

/** Immediates of the compressed formats (unprivileged spec, chapter 16). */
export const C_IMMEDIATES: Record<string, CImmediate> = {
  // c.addi4spn nzuimm[9:2]
  ciw_nzuimm: { signed: false, segments: [[12, 11, 4], [10, 7, 6], [6, 6, 2], [5, 5, 3]] },
  // c.lw / c.sw uimm[6:2]
  cl_w: { signed: false, segments: [[12, 10, 3], [6, 6, 2], [5, 5, 6]] },
  // c.ld / c.sd / c.fld / c.fsd uimm[7:3]
  cl_d: { signed: false, segments: [[12, 10, 3], [6, 5, 6]] },
  // c.addi, c.addiw, c.li, c.andi imm[5:0] (signed)
  ci_imm: { signed: true, segments: [[12, 12, 5], [6, 2, 0]] },
  // c.slli, c.srli, c.srai shamt[5:0]
  ci_shamt: { signed: false, segments: [[12, 12, 5], [6, 2, 0]] },
  // c.addi16sp nzimm[9:4] (signed)
  ci_16sp: { signed: true, segments: [[12, 12, 9], [6, 6, 4], [5, 5, 6], [4, 3, 7], [2, 2, 5]] },
  // c.lui nzimm[17:12] (signed)
  ci_lui: { signed: true, segments: [[12, 12, 17], [6, 2, 12]] },
  // c.j offset[11:1] (signed)
  cj: { signed: true, segments: [[12, 12, 11], [11, 11, 4], [10, 9, 8], [8, 8, 10], [7, 7, 6], [6, 6, 7], [5, 3, 1], [2, 2, 5]] },
  // c.beqz / c.bnez offset[8:1] (signed)
  cb: { signed: true, segments: [[12, 12, 8], [11, 10, 3], [6, 5, 6], [4, 3, 1], [2, 2, 5]] },
  // c.lwsp uimm[7:2]
  ci_lwsp: { signed: false, segments: [[12, 12, 5], [6, 4, 2], [3, 2, 6]] },
  // c.ldsp / c.fldsp uimm[8:3]
  ci_ldsp: { signed: false, segments: [[12, 12, 5], [6, 5, 3], [4, 2, 6]] },
  // c.swsp uimm[7:2]
  css_w: { signed: false, segments: [[12, 9, 2], [8, 7, 6]] },
  // c.sdsp / c.fsdsp uimm[8:3]
  css_d: { signed: false, segments: [[12, 10, 3], [9, 7, 6]] },
};

function c(
  name: string,
  mask: number,
  match: number,
  operands: string,
  expandsTo: string,
  fields: Pick<CompressedDef, 'rd' | 'rs1' | 'rs2' | 'imm' | 'reservedWhen' | 'rv64'>,
): CompressedDef {
  return { name, ext: 'C', mask, match, operands, expandsTo, ...fields };
}

// Masks: quadrant + funct3 = 0xe003; with bit 12 = 0xf003; CB ALU ops = 0xec03 / 0xfc63.
/** Every RV64C instruction, with its expansion. Order: more specific encodings first. */
export const COMPRESSED: readonly CompressedDef[] = [
  // Quadrant 0
  c('c.addi4spn', 0xe003, 0x0000, "rd',uimm", 'addi', { rd: "rd'", rs1: 'x2', imm: 'ciw_nzuimm', reservedWhen: ['imm==0'] }),
  c('c.fld', 0xe003, 0x2000, "frd',off(rs1')", 'fld', { rd: "rd'", rs1: "rs1'", imm: 'cl_d' }),
  c('c.lw', 0xe003, 0x4000, "rd',off(rs1')", 'lw', { rd: "rd'", rs1: "rs1'", imm: 'cl_w' }),
  c('c.ld', 0xe003, 0x6000, "rd',off(rs1')", 'ld', { rd: "rd'", rs1: "rs1'", imm: 'cl_d', rv64: true }),
  c('c.fsd', 0xe003, 0xa000, "frs2',off(rs1')", 'fsd', { rs2: "rs2'", rs1: "rs1'", imm: 'cl_d' }),
  c('c.sw', 0xe003, 0xc000, "rs2',off(rs1')", 'sw', { rs2: "rs2'", rs1: "rs1'", imm: 'cl_w' }),
  c('c.sd', 0xe003, 0xe000, "rs2',off(rs1')", 'sd', { rs2: "rs2'", rs1: "rs1'", imm: 'cl_d', rv64: true }),
  // Quadrant 1
  c('c.addi', 0xe003, 0x0001, 'rd,imm', 'addi', { rd: 'rd', rs1: 'rd', imm: 'ci_imm' }),
  c('c.addiw', 0xe003, 0x2001, 'rd,imm', 'addiw', { rd: 'rd', rs1: 'rd', imm: 'ci_imm', reservedWhen: ['rd==0'], rv64: true }),
  c('c.li', 0xe003, 0x4001, 'rd,imm', 'addi', { rd: 'rd', rs1: 'x0', imm: 'ci_imm' }),
  c('c.addi16sp', 0xef83, 0x6101, 'imm', 'addi', { rd: 'x2', rs1: 'x2', imm: 'ci_16sp', reservedWhen: ['imm==0'] }),
  c('c.lui', 0xe003, 0x6001, 'rd,imm', 'lui', { rd: 'rd', imm: 'ci_lui', reservedWhen: ['imm==0'] }),
  c('c.srli', 0xec03, 0x8001, "rd',shamt", 'srli', { rd: "rs1'", rs1: "rs1'", imm: 'ci_shamt' }),
  c('c.srai', 0xec03, 0x8401, "rd',shamt", 'srai', { rd: "rs1'", rs1: "rs1'", imm: 'ci_shamt' }),
  c('c.andi', 0xec03, 0x8801, "rd',imm", 'andi', { rd: "rs1'", rs1: "rs1'", imm: 'ci_imm' }),
  c('c.sub', 0xfc63, 0x8c01, "rd',rs2'", 'sub', { rd: "rs1'", rs1: "rs1'", rs2: "rs2'" }),
  c('c.xor', 0xfc63, 0x8c21, "rd',rs2'", 'xor', { rd: "rs1'", rs1: "rs1'", rs2: "rs2'" }),
  c('c.or', 0xfc63, 0x8c41, "rd',rs2'", 'or', { rd: "rs1'", rs1: "rs1'", rs2: "rs2'" }),
  c('c.and', 0xfc63, 0x8c61, "rd',rs2'", 'and', { rd: "rs1'", rs1: "rs1'", rs2: "rs2'" }),
  c('c.subw', 0xfc63, 0x9c01, "rd',rs2'", 'subw', { rd: "rs1'", rs1: "rs1'", rs2: "rs2'", rv64: true }),
  c('c.addw', 0xfc63, 0x9c21, "rd',rs2'", 'addw', { rd: "rs1'", rs1: "rs1'", rs2: "rs2'", rv64: true }),
  c('c.j', 0xe003, 0xa001, 'target', 'jal', { rd: 'x0', imm: 'cj' }),
  c('c.beqz', 0xe003, 0xc001, "rs1',target", 'beq', { rs1: "rs1'", rs2: 'x0', imm: 'cb' }),
  c('c.bnez', 0xe003, 0xe001, "rs1',target", 'bne', { rs1: "rs1'", rs2: 'x0', imm: 'cb' }),
  // Quadrant 2
  c('c.slli', 0xe003, 0x0002, 'rd,shamt', 'slli', { rd: 'rd', rs1: 'rd', imm: 'ci_shamt' }),
  c('c.fldsp', 0xe003, 0x2002, 'frd,off(sp)', 'fld', { rd: 'rd', rs1: 'x2', imm: 'ci_ldsp' }),
  c('c.lwsp', 0xe003, 0x4002, 'rd,off(sp)', 'lw', { rd: 'rd', rs1: 'x2', imm: 'ci_lwsp', reservedWhen: ['rd==0'] }),
  c('c.ldsp', 0xe003, 0x6002, 'rd,off(sp)', 'ld', { rd: 'rd', rs1: 'x2', imm: 'ci_ldsp', reservedWhen: ['rd==0'], rv64: true }),
  c('c.jr', 0xf07f, 0x8002, 'rs1', 'jalr', { rd: 'x0', rs1: 'rs1', reservedWhen: ['rs1==0'] }),
  c('c.mv', 0xf003, 0x8002, 'rd,rs2', 'add', { rd: 'rd', rs1: 'x0', rs2: 'rs2' }),
  c('c.ebreak', 0xffff, 0x9002, '', 'ebreak', {}),
  c('c.jalr', 0xf07f, 0x9002, 'rs1', 'jalr', { rd: 'x1', rs1: 'rs1' }),
  c('c.add', 0xf003, 0x9002, 'rd,rs2', 'add', { rd: 'rd', rs1: 'rd', rs2: 'rs2' }),
  c('c.fsdsp', 0xe003, 0xa002, 'frs2,off(sp)', 'fsd', { rs2: 'rs2', rs1: 'x2', imm: 'css_d' }),
  c('c.swsp', 0xe003, 0xc002, 'rs2,off(sp)', 'sw', { rs2: 'rs2', rs1: 'x2', imm: 'css_w' }),
  c('c.sdsp', 0xe003, 0xe002, 'rs2,off(sp)', 'sd', { rs2: 'rs2', rs1: 'x2', imm: 'css_d', rv64: true }),
];

/** Encoding of the immediate of each 32-bit format, used to build expansions. */
export type ImmediateKind = 'I' | 'S' | 'B' | 'U' | 'J' | 'none';

export function immediateKind(d: InstructionDef): ImmediateKind {
  switch (d.format) {
    case 'I':
    case 'SHIFT':
      return 'I';
    case 'S':
    case 'B':
    case 'U':
    case 'J':
      return d.format;
    default:
      return 'none';
  }
}

export function findInstruction(name: string): InstructionDef {
  const d = INSTRUCTIONS.find((i) => i.name === name);
  if (!d) throw new Error(`isa: no instruction named ${name}`);
  return d;
}

/** Value of a compressed immediate in a 16-bit instruction. */
export function compressedImmediate(spec: CImmediate, h: number): number {
  let v = 0;
  let top = 0;
  for (const [hi, lo, immLo] of spec.segments) {
    const width = hi - lo + 1;
    v |= ((h >>> lo) & ((1 << width) - 1)) << immLo;
    top = Math.max(top, immLo + width - 1);
  }
  if (spec.signed && (v >>> top) & 1) v -= 1 << (top + 1);
  return v;
}

/** The register number a CReg selects. */
export function compressedRegister(r: CReg, h: number): number {
  switch (r) {
    case 'rd':
    case 'rs1':
      return (h >>> 7) & 31;
    case 'rs2':
      return (h >>> 2) & 31;
    case "rd'":
    case "rs2'":
      return ((h >>> 2) & 7) + 8;
    case "rs1'":
      return ((h >>> 7) & 7) + 8;
    case 'x0':
      return 0;
    case 'x1':
      return 1;
    case 'x2':
      return 2;
  }
}

/** Places an immediate into the bits of a 32-bit instruction of the given kind. */
export function placeImmediate(kind: ImmediateKind, imm: number): number {
  switch (kind) {
    case 'I':
      return ((imm & 0xfff) << 20) >>> 0;
    case 'S':
      return ((((imm >> 5) & 0x7f) << 25) | ((imm & 0x1f) << 7)) >>> 0;
    case 'B':
      return ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7)) >>> 0;
    case 'U':
      return (imm & 0xfffff000) >>> 0;
    case 'J':
      return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12)) >>> 0;
    case 'none':
      return 0;
  }
}

/** Expands a 16-bit instruction into its 32-bit equivalent, or returns 0 if it is illegal/reserved. */
export function expandCompressed(h: number): number {
  h &= 0xffff;
  const d = COMPRESSED.find((e) => (h & e.mask) === e.match);
  if (!d) return 0;
  const target = findInstruction(d.expandsTo);
  const imm = d.imm ? compressedImmediate(C_IMMEDIATES[d.imm]!, h) : 0;
  const rd = d.rd ? compressedRegister(d.rd, h) : 0;
  const rs1 = d.rs1 ? compressedRegister(d.rs1, h) : 0;
  const rs2 = d.rs2 ? compressedRegister(d.rs2, h) : 0;
  for (const r of d.reservedWhen ?? []) {
    if (r === 'imm==0' && imm === 0) return 0;
    if (r === 'rd==0' && rd === 0) return 0;
    if (r === 'rs1==0' && rs1 === 0) return 0;
  }
  return (target.match | (rd << 7) | (rs1 << 15) | (rs2 << 20) | placeImmediate(immediateKind(target), imm)) >>> 0;
}

/** The 32-bit instruction definition matching `insn`, most specific first. */
export function decodeInstruction(insn: number): InstructionDef | undefined {
  let best: InstructionDef | undefined;
  let bestBits = -1;
  for (const d of INSTRUCTIONS) {
    if (((insn & d.mask) >>> 0) === d.match) {
      const bits = popcount(d.mask);
      if (bits > bestBits) (best = d), (bestBits = bits);
    }
  }
  return best;
}

/** The compressed definition matching a 16-bit instruction. */
export function decodeCompressed(h: number): CompressedDef | undefined {
  return COMPRESSED.find((e) => (h & e.mask) === e.match);
}

export function popcount(x: number): number {
  x >>>= 0;
  let n = 0;
  while (x) (n += x & 1), (x >>>= 1);
  return n;
}
