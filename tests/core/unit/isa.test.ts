// The instruction table: encodings are unique, each decodes to itself, compressed expansion
// agrees with the GNU assembler and with the generated AssemblyScript expander, and the
// disassembler names what it sees.
import { describe, expect, it } from 'vitest';
import {
  COMPRESSED,
  INSTRUCTIONS,
  decodeInstruction,
  expandCompressed,
  findInstruction,
} from '../../../src/isa/instructions.js';
import { disassemble16, disassemble32 } from '../../../src/isa/disasm.js';
import { haveToolchain, textBytes } from './toolchain.js';
import { newCore } from './harness.js';

describe('ISA table', () => {
  it('has no two instructions with the same encoding', () => {
    const seen = new Set<string>();
    for (const d of INSTRUCTIONS) {
      const k = `${d.mask}:${d.match}`;
      expect(seen.has(k), d.name).toBe(false);
      seen.add(k);
    }
  });

  it('decodes the fixed bits of every instruction back to that instruction', () => {
    for (const d of INSTRUCTIONS) expect(decodeInstruction(d.match)?.name).toBe(d.name);
  });

  it('expands every compressed form to an instruction of the table', () => {
    for (const c of COMPRESSED) expect(() => findInstruction(c.expandsTo)).not.toThrow();
  });

  it('covers RV64GC: 160 base instructions and 36 compressed forms', () => {
    expect(INSTRUCTIONS.length).toBe(160);
    expect(COMPRESSED.length).toBe(36);
  });
});

// Each line compresses under .option rvc; under norvc it is the 32-bit instruction the
// compressed one must expand to. Branch targets are relative (.+n) so both assemble alike.
const COMPRESSIBLE = [
  'addi s0, sp, 1020', 'fld fs0, 248(a0)', 'lw a1, 124(a0)', 'ld a1, 248(a5)', 'fsd fs1, 8(a0)',
  'sw a5, 64(s1)', 'sd a1, 8(a0)', 'addi a0, a0, -32', 'nop', 'addiw a0, a0, 31', 'li a0, -17',
  'addi sp, sp, -512', 'addi sp, sp, 496', 'lui a0, 0x1f', 'lui t0, 0xfffe0', 'srli a0, a0, 33',
  'srai a1, a1, 7', 'andi a2, a2, -8', 'sub a0, a0, a1', 'xor s0, s0, a5', 'or a3, a3, a4',
  'and a4, a4, s1', 'subw a0, a0, a1', 'addw a5, a5, a2', 'j .-2048', 'j .+2046', 'beqz a0, .-256',
  'bnez a1, .+254', 'slli a0, a0, 63', 'slli t6, t6, 1', 'fld fs1, 504(sp)', 'lw a0, 252(sp)',
  'ld ra, 504(sp)', 'jr a0', 'ret', 'add a0, zero, a1', 'ebreak', 'jalr a0', 'add a0, a0, a1',
  'fsd fs1, 504(sp)', 'sw a0, 252(sp)', 'sd s11, 0(sp)',
];

describe.skipIf(!haveToolchain)('compressed expansion against the GNU assembler', () => {
  it('expands each compressed instruction to what the assembler emits uncompressed', () => {
    const body = (opt: string): string => `.option ${opt}\n.globl _start\n_start:\n` + COMPRESSIBLE.map((l) => `  ${l}\n`).join('');
    const rvc = textBytes(body('rvc'));
    const norvc = textBytes(body('norvc'));
    let i = 0;
    for (let n = 0; n < COMPRESSIBLE.length; n++) {
      const h = rvc[i]! | (rvc[i + 1]! << 8);
      const full = (norvc[4 * n]! | (norvc[4 * n + 1]! << 8) | (norvc[4 * n + 2]! << 16) | (norvc[4 * n + 3]! << 24)) >>> 0;
      expect((h & 3) !== 3, `${COMPRESSIBLE[n]} should compress`).toBe(true);
      expect(expandCompressed(h).toString(16), `${COMPRESSIBLE[n]} (0x${h.toString(16)})`).toBe(full.toString(16));
      i += 2;
    }
  });
});

describe('generated AssemblyScript expander', () => {
  it('agrees with the table for all 65536 halfwords', async () => {
    const core = await newCore();
    let mismatches = 0;
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 3) === 3) continue;
      if ((core.exports.expand16(h) >>> 0) !== expandCompressed(h)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('treats reserved encodings as illegal', () => {
    expect(expandCompressed(0x0000)).toBe(0); // c.addi4spn with zero immediate (all-zero halfword)
    expect(expandCompressed(0x4002)).toBe(0); // c.lwsp x0
    expect(expandCompressed(0x8002)).toBe(0); // c.jr x0
    expect(expandCompressed(0x6101)).toBe(0); // c.addi16sp 0
    expect(expandCompressed(0x2001)).toBe(0); // c.addiw x0
    expect(expandCompressed(0x9c41)).toBe(0); // reserved CA encoding
  });
});

describe('disassembler', () => {
  it('formats base, CSR, FP and compressed instructions', () => {
    expect(disassemble32(0x00a00513)).toBe('addi a0, zero, 10');
    expect(disassemble32(0x30002573)).toBe('csrrs a0, mstatus, zero');
    expect(disassemble32(0x02c5b553)).toBe('fadd.d fa0, fa1, fa2, rup');
    expect(disassemble32(0xfe0718e3, 0x80000010n)).toBe('bne a4, zero, 0x80000000');
    expect(disassemble32(0x0000100f)).toBe('fence.i');
    expect(disassemble32(0x1205b52f)).toBe('lr.d a0, (a1), rl');
    expect(disassemble32(0xffffffff)).toBe('.word 0xffffffff');
    expect(disassemble16(0x4501)).toBe('c.li a0, 0');
    expect(disassemble16(0x8082)).toBe('c.jr ra');
    expect(disassemble16(0x9002)).toBe('c.ebreak');
  });
});
