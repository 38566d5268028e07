// Self-modifying guest code, JIT against interpreter: a generated M-mode program (random ALU work,
// loads and stores on a data area, a hot loop) that rewrites instructions of its own loop body,
// in the block that is running and in blocks ahead, usually followed by fence.i, sometimes not
// (the core promises the same result either way: tests/core/jit/jit_nofence.S). It runs on two
// cores, one with the JIT compiling every block at its first visit (threshold 1, batch 1) and one
// with the JIT off, compared after every slice: pc, registers, instret, stop reason; at the end
// the code and data areas too.
// Outcomes: accepted agree-poweroff / agree-budget (JIT ran some of it; the program powered off or
// used its instruction budget), accepted agree-interpreted-*; defect jit-diverges.

import { Rv64Core, RAM_BASE, StopReason } from '../../src/engines/rv64/core.js';
import { BareBoard } from '../../src/engines/rv64/bare.js';
import { loadRv64Module } from '../../src/engines/rv64/wasm-node.js';
import { Rng } from '../lib/rng.js';
import { A, li, words } from '../lib/rv-asm.js';
import { accepted, defect, type FuzzTarget, type Outcome } from '../lib/target.js';

const CODE = 0x8000_0000;
const DATA = 0x8010_0000;
const WORK = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]; // registers the random work uses
const COUNTER = 16;
const TMP = 18;
const ADDR = 19;
const BASE = 17; // = DATA
let module: WebAssembly.Module | undefined;

/** A harmless instruction on the work registers (also what patches write). */
function alu(r: Rng): number {
  const d = r.pick(WORK), a = r.pick(WORK), b = r.pick(WORK);
  switch (r.int(9)) {
    case 0: return A.add(d, a, b);
    case 1: return A.sub(d, a, b);
    case 2: return A.xor(d, a, b);
    case 3: return A.mul(d, a, b);
    case 4: return A.addi(d, a, r.range(-2048, 2047));
    case 5: return A.slli(d, a, r.int(64));
    case 6: return A.srli(d, a, r.int(64));
    case 7: return A.addw(d, a, b);
    default: return A.xori(d, a, r.range(-2048, 2047));
  }
}

function memOp(r: Rng): number {
  const size = r.pick([1, 2, 4, 8]);
  const off = r.int(256) * 8;
  return r.chance(0.5) ? A.load(size, r.pick(WORK), BASE, off) : A.store(size, r.pick(WORK), BASE, off);
}

/** The program: prologue, a loop whose body rewrites its own instructions, an epilogue that powers off. */
function generate(r: Rng): Uint8Array {
  const code: number[] = [];
  for (const x of WORK) code.push(...li(x, r.u64()));
  code.push(...li(BASE, BigInt(DATA)), A.addi(COUNTER, 0, r.range(1, 60)));
  const loop = code.length;
  const body: (number | { patch: number; fence: boolean; word: number })[] = [];
  const n = r.range(4, 40);
  for (let k = 0; k < n; k++) {
    if (r.chance(0.2)) body.push({ patch: -1, fence: r.chance(0.8), word: alu(r) });
    else body.push(r.chance(0.8) ? alu(r) : memOp(r));
  }
  // Lay out the body; a patch stores `word` over another body instruction (index fixed below).
  const slots: number[] = [];
  const patchAt: { at: number; word: number; fence: boolean }[] = [];
  for (const item of body) {
    if (typeof item === 'number') {
      slots.push(code.length);
      code.push(item);
    } else {
      patchAt.push({ at: code.length, word: item.word, fence: item.fence });
      // li TMP, word (<= 2), li ADDR, target (<= 3), sw, [fence.i]: reserve 8 words, nop-filled.
      for (let k = 0; k < 8; k++) code.push(A.addi(0, 0, 0));
    }
  }
  for (const p of patchAt) {
    const target = r.pick(slots.length ? slots : [loop]);
    const seq = [...li(TMP, BigInt(p.word)), ...li(ADDR, BigInt(CODE + 4 * target)), A.store(4, TMP, ADDR, 0)];
    if (p.fence) seq.push(A.fenceI());
    seq.forEach((w, k) => { code[p.at + k] = w; });
  }
  const back = code.length + 1; // the bne's own position: branch offsets are relative to it
  code.push(A.addi(COUNTER, COUNTER, -1), A.bne(COUNTER, 0, 4 * (loop - back)));
  // Epilogue: registers to DATA+0x800, then syscon poweroff.
  WORK.forEach((x, k) => code.push(A.store(8, x, BASE, 0x800 + 8 * k)));
  code.push(...li(TMP, 0x10_0000n), ...li(ADDR, 0x5555n), A.store(4, ADDR, TMP, 0), A.jal(0, 0));
  return words(code);
}

function stateOf(c: Rv64Core): string {
  const regs: string[] = [];
  for (let i = 1; i < 32; i++) regs.push(c.getReg(i).toString(16));
  return `pc=${c.pc.toString(16)} priv=${c.priv} instret=${c.instret} x=${regs.join(',')} mcause=${c.readCsr(0x342)} mepc=${c.readCsr(0x341).toString(16)}`;
}

export const target: FuzzTarget = {
  name: 'jit',
  about: 'self-modifying guest code on the JIT (every block compiled) against the interpreter, in lockstep',
  hangMs: 120_000, // wall time per input; generous because the machine running this may be shared and loaded
  rssAllowanceBytes: 768 * 2 ** 20,
  async prepare() {
    module ??= await loadRv64Module();
  },
  async one(seed, index): Promise<Outcome> {
    module ??= await loadRv64Module();
    const r = new Rng(seed, index);
    const program = generate(r);
    const make = (jit: false | { threshold: number; batch: number }) => {
      const board = new BareBoard();
      const core = Rv64Core.fromModule(module!, { ramBytes: 16 << 20, bus: board, deterministic: { insnsPerTick: 10 }, jit });
      board.core = core;
      core.writePhys(RAM_BASE, program);
      core.pc = RAM_BASE;
      return { core, board };
    };
    const a = make(false);
    const b = make({ threshold: 1, batch: 1 });
    const slice = r.pick([7, 97, 997, 10_000]);
    for (let n = 0; n < 400_000; n += slice) {
      const ra = a.core.run(slice);
      const rb = b.core.run(slice);
      const sa = stateOf(a.core), sb = stateOf(b.core);
      if (ra !== rb || sa !== sb) return defect('jit-diverges', `after ${a.core.steps} steps (slice ${slice}): stop ${ra} vs ${rb}; interp ${sa}; jit ${sb}`);
      if (a.board.event || ra === StopReason.Fatal || ra === StopReason.HostEvent) break;
    }
    const ram = (c: Rv64Core) => Buffer.concat([c.readPhys(BigInt(CODE), program.length), c.readPhys(BigInt(DATA), 0x1000)]);
    if (Buffer.compare(ram(a.core), ram(b.core)) !== 0) return defect('jit-diverges', 'code or data memory differs at the end');
    const stats = b.core.jitStats();
    const end = a.board.event ? 'poweroff' : 'budget';
    return accepted(stats && stats.jitInstructions > 0n ? `agree-${end}` : `agree-interpreted-${end}`);
  },
};
