// A hostile core state block (issue 12): every field is checked as strictly as the guest itself
// could set it, and a refused block leaves the hart exactly as it was. Plus: no guest access, in
// any mode, reaches the core's own tables below guest RAM in the wasm memory.
import { describe, expect, it } from 'vitest';
import { CoreStateError } from '../../../src/engines/rv64/core.js';
import { loadProgram, runToHalt, DONE, PRELUDE, CAUSE, RAM_BASE } from './harness.js';

const FIELDS = 0x300;
const slot = (n: number): number => FIELDS + n * 8;
/** Field slots (assembly/state.ts). */
const F = {
  pc: 0, priv: 1, icount: 2, mstatus: 3, medeleg: 4, mideleg: 5, mie: 6, mip: 7, mtvec: 8, mepc: 9,
  stvec: 13, sepc: 14, satp: 18, mcounteren: 19, scounteren: 20, menvcfg: 21, senvcfg: 22,
  mcountinhibit: 23, fcsr: 24, resValid: 29, resAddr: 30, msip: 31, timeDet: 34, ipt: 35, meip: 36,
  waiting: 38, tohost: 39, untaken: 40,
};

function withField(block: Uint8Array, offset: number, v: bigint): Uint8Array {
  const b = block.slice();
  new DataView(b.buffer).setBigUint64(offset, BigInt.asUintN(64, v), true);
  return b;
}

const SRC = `${PRELUDE}
main:
  li a0, 0
  li a1, 1000
loop:
  addi a0, a0, 1
  bne a0, a1, loop
  j done
`;

const MSTATUS_OK = (2n << 32n) | (2n << 34n);
/** Blocks the guest cannot produce, one illegal field each. */
const BAD: [string, number, bigint][] = [
  ['priv 7 (the attack of issue 12)', slot(F.priv), 7n],
  ['priv 2 (reserved)', slot(F.priv), 2n],
  ['odd pc', slot(F.pc), RAM_BASE + 1n],
  ['mstatus.MPP = 2', slot(F.mstatus), MSTATUS_OK | (2n << 11n)],
  ['mstatus.UXL = 1', slot(F.mstatus), (1n << 32n) | (2n << 34n)],
  ['mstatus.SXL = 0', slot(F.mstatus), 2n << 32n],
  ['mstatus bit 40', slot(F.mstatus), MSTATUS_OK | (1n << 40n)],
  ['mstatus.SD stored', slot(F.mstatus), MSTATUS_OK | (1n << 63n)],
  ['mstatus.VS', slot(F.mstatus), MSTATUS_OK | (3n << 9n)],
  ['medeleg bit 16', slot(F.medeleg), 1n << 16n],
  ['mideleg MSIP', slot(F.mideleg), 8n],
  ['mie bit 0', slot(F.mie), 1n],
  ['mip MTIP (a device line)', slot(F.mip), 0x80n],
  ['mtvec mode 2', slot(F.mtvec), RAM_BASE | 2n],
  ['stvec mode 3', slot(F.stvec), RAM_BASE | 3n],
  ['odd mepc', slot(F.mepc), RAM_BASE + 1n],
  ['odd sepc', slot(F.sepc), 3n],
  ['satp mode 1', slot(F.satp), 1n << 60n],
  ['satp mode 10 (Sv57)', slot(F.satp), 10n << 60n],
  ['satp Bare with a PPN', slot(F.satp), 0x1234n],
  ['mcounteren bit 32', slot(F.mcounteren), 1n << 32n],
  ['scounteren bit 40', slot(F.scounteren), 1n << 40n],
  ['menvcfg bit 1', slot(F.menvcfg), 2n],
  ['senvcfg bit 7', slot(F.senvcfg), 0x80n],
  ['mcountinhibit bit 1', slot(F.mcountinhibit), 2n],
  ['mcountinhibit bit 32', slot(F.mcountinhibit), 1n << 32n],
  ['fcsr bit 8', slot(F.fcsr), 0x100n],
  ['reservation flag 2', slot(F.resValid), 2n],
  ['reservation address odd', slot(F.resAddr), RAM_BASE + 2n],
  ['msip 2', slot(F.msip), 2n],
  ['time mode 5', slot(F.timeDet), 5n],
  ['insnsPerTick 0', slot(F.ipt), 0n],
  ['insnsPerTick 2^32', slot(F.ipt), 1n << 32n],
  ['MEIP line 9', slot(F.meip), 9n],
  ['wfi flag 3', slot(F.waiting), 3n],
  ['tohost below RAM', slot(F.tohost), 0x1000n],
  ['tohost past the end of RAM', slot(F.tohost), RAM_BASE + (4n << 20n) - 4n],
  ['untaken > icount', slot(F.untaken), 1n << 40n],
  ['x0 not zero', 0x100, 42n],
  ['pmpcfg reserved bits', 0x600, 0x60n],
  ['pmpcfg W without R', 0x600, 0x2n],
  ['pmpaddr above 54 bits', 0x700, 1n << 60n],
];

describe('core state block checks', () => {
  it('a saved block loads back; the good block passes checkState', async () => {
    const { core } = await loadProgram(SRC);
    core.run(500);
    const block = core.saveState();
    expect(core.checkState(block)).toBeUndefined();
    core.loadState(block);
  });

  it.each(BAD)('refuses %s and leaves the hart as it was', async (_what, offset, value) => {
    const { core, symbols } = await loadProgram(SRC);
    core.run(300);
    const block = core.saveState();
    const pc = core.pc;
    const regs = Array.from({ length: 32 }, (_, i) => core.getReg(i));
    const bad = withField(block, offset, value);
    expect(core.checkState(bad)).toMatch(/illegal/);
    expect(() => core.loadState(bad)).toThrow(CoreStateError);
    expect(core.pc).toBe(pc);
    expect(core.priv).toBe(3);
    for (let i = 0; i < 32; i++) expect(core.getReg(i), `x${i}`).toBe(regs[i]);
    // ... and it keeps running to the end of its program.
    expect(runToHalt(core, symbols).cause).toBe(DONE);
    expect(core.getReg(10)).toBe(1000n);
  });

  it('a foreign block is refused', async () => {
    const { core } = await loadProgram(SRC);
    const bad = core.saveState();
    bad[0] ^= 0xff;
    expect(() => core.loadState(bad)).toThrow(/foreign/);
  });
});

describe('guest accesses never reach the core below guest RAM', () => {
  // Physical addresses that would hit the core's state, TLBs, dirty bitmap or CTABLE if RAM
  // bounds were not checked, or that wrap around 2^64 / 2^32.
  const ADDRS = [0n, 0x12000n, 0x40000n, RAM_BASE - 8n, RAM_BASE + (4n << 20n), 0xffff_ffff_ffff_fff8n,
    0x1_0004_0000n, 0x8000_0000_8000_0000n];
  it.each(ADDRS)('load and store at physical 0x%s fault without touching the core (M and U mode)', async (addr) => {
    for (const mode of ['m', 'u']) {
      const src = `${PRELUDE}
main:
  li t0, ${'0x' + addr.toString(16)}
  ${mode === 'u' ? `la t1, user
  csrw mepc, t1
  li t1, 0x1800
  csrc mstatus, t1
  li t1, -1
  csrw pmpaddr0, t1
  li t1, 0x1f
  csrw pmpcfg0, t1
  mret
user:` : ''}
  li t1, 0x5a5a5a5a
  sd t1, 0(t0)
  j done
`;
      const { core, symbols } = await loadProgram(src, { deterministic: false });
      const mem = new Uint8Array(core.exports.memory.buffer);
      const ctable = mem.slice(0x40000, 0x80000);
      const r = runToHalt(core, symbols);
      expect(r.cause, `store (${mode})`).toBe(CAUSE.storeAccess);
      expect(mem.slice(0x40000, 0x80000)).toEqual(ctable);
      const load = await loadProgram(src.replace('sd t1, 0(t0)', 'ld t1, 0(t0)'), { deterministic: false });
      expect(runToHalt(load.core, load.symbols).cause, `load (${mode})`).toBe(CAUSE.loadAccess);
    }
  });
});

describe('translated guest accesses never reach the core either', () => {
  // S mode with Sv39: gigapage 0 maps virtual 0.. to physical 0.. (the core's tables, if physical
  // RAM bounds were not checked), gigapage 2 maps RAM to itself so the code runs.
  const program = (access: string): string => `${PRELUDE}
main:
  la t0, ptable
  li t1, 0xcf              # V R W X A D, PPN 0: virtual 0 -> physical 0
  sd t1, 0(t0)
  li t1, (0x80000000 >> 12 << 10) | 0xcf
  sd t1, 16(t0)
  srli t0, t0, 12
  li t1, 8 << 60
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  li t0, 0x1800
  csrc mstatus, t0
  li t0, 0x800             # MPP = S
  csrs mstatus, t0
  la t0, smode
  csrw mepc, t0
  mret
smode:
  li t0, 0x40000           # CTABLE's place in the wasm memory
  li t1, 0x12345678
  ${access}
  j done
  .data
  .balign 4096
ptable: .space 4096
`;
  it.each([['load', 'ld t1, 0(t0)', CAUSE.loadAccess], ['store', 'sd t1, 0(t0)', CAUSE.storeAccess], ['fetch', 'jr t0', 1n]])(
    'an S-mode %s through a page mapping physical 0x40000 faults and changes nothing', async (_what, access, cause) => {
      const { core, symbols } = await loadProgram(program(access as string), { deterministic: false });
      const mem = new Uint8Array(core.exports.memory.buffer);
      const below = mem.slice(0x40000, 0x80000);
      const r = runToHalt(core, symbols);
      expect(r.cause).toBe(cause);
      expect(r.tval).toBe(0x40000n);
      expect(mem.slice(0x40000, 0x80000)).toEqual(below);
    });
});
