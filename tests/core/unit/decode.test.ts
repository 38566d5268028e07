// The generated decoder against the table: every instruction of the table executes without an
// illegal-instruction trap, and every encoding one fixed bit away that the table does not
// know traps as illegal with the instruction bits in mtval.
import { describe, expect, it } from 'vitest';
import { INSTRUCTIONS, decodeInstruction, type InstructionDef } from '../../../src/isa/instructions.js';
import { RAM_BASE, newCore, type Rv64Core } from './harness.js';

const CODE = RAM_BASE + 0x1000n;
const HANDLER = RAM_BASE + 0x2000n;

/** Runs one instruction at CODE in M mode with FS on; returns mcause (or -1n if no trap). */
function step(core: Rv64Core, insn: number): bigint {
  core.exports.reset();
  core.writeCsr(0x300, 1n << 13n); // FS = Initial
  core.writeCsr(0x305, HANDLER);
  core.writeCsr(0x342, 0xdeadn);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, insn >>> 0, true);
  core.writePhys(CODE, b);
  core.setReg(1, RAM_BASE + 0x3000n); // a valid RAM address in ra for memory operands
  core.pc = CODE;
  core.run(1);
  const cause = core.readCsr(0x342);
  return cause === 0xdeadn ? -1n : cause;
}

/** A legal instance of d: CSR ops name mscratch; memory ops use ra as base. */
function instance(d: InstructionDef): number {
  let x = d.match;
  if (d.format === 'CSR' || d.format === 'CSRI') x = (x & 0x000fffff) | (0x340 << 20);
  if ((d.mask & (31 << 15)) === 0) x |= 1 << 15; // rs1 = ra when free
  return x >>> 0;
}

describe('generated decoder', () => {
  it('executes every instruction of the table without an illegal-instruction trap', async () => {
    const core = await newCore();
    const illegal: string[] = [];
    for (const d of INSTRUCTIONS) if (step(core, instance(d)) === 2n) illegal.push(d.name);
    expect(illegal).toEqual([]);
  });

  it('traps as illegal, with the bits in mtval, on encodings one fixed bit away that the table does not know', async () => {
    const core = await newCore();
    const wrong: string[] = [];
    let checked = 0;
    for (const d of INSTRUCTIONS) {
      const base = instance(d);
      for (let bit = 2; bit < 32; bit++) {
        if (((d.mask >>> bit) & 1) === 0) continue;
        const x = (base ^ (1 << bit)) >>> 0;
        if (decodeInstruction(x)) continue;
        checked++;
        const cause = step(core, x);
        if (cause !== 2n || core.readCsr(0x343) !== BigInt(x)) wrong.push(`${d.name}^bit${bit}=0x${x.toString(16)} -> ${cause}`);
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(wrong).toEqual([]);
  });
});
