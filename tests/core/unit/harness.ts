// Drives the core directly from TS: a fresh Rv64Core with an optional bus, ELF loading, and
// "run until ebreak/ecall in M mode" helpers for small programs.
import { Rv64Core, RAM_BASE, StopReason, type Rv64Bus } from '../../../src/engines/rv64/core.js';
import { loadRv64Module } from '../../../src/engines/rv64/wasm-node.js';
import { parseElf, loadElfInto } from '../../../src/engines/rv64/elf.js';
import { assemble, readElf } from './toolchain.js';

export { Rv64Core, RAM_BASE, StopReason };

export async function newCore(opts: { ramMiB?: number; bus?: Rv64Bus; deterministic?: boolean } = {}): Promise<Rv64Core> {
  const core = Rv64Core.fromModule(await loadRv64Module(), {
    ramBytes: (opts.ramMiB ?? 4) << 20,
    ...(opts.bus ? { bus: opts.bus } : {}),
    ...(opts.deterministic === false ? {} : { deterministic: { insnsPerTick: 10 } }),
  });
  return core;
}

/** Assembles `source` and loads it; returns the core positioned at _start and the symbol table. */
export async function loadProgram(
  source: string,
  opts: { ramMiB?: number; bus?: Rv64Bus; deterministic?: boolean } = {},
): Promise<{ core: Rv64Core; symbols: Map<string, bigint> }> {
  const bytes = readElf(assemble(source));
  const image = parseElf(bytes);
  const core = await newCore(opts);
  loadElfInto(image, bytes, core.ram, RAM_BASE);
  core.pc = image.entry;
  return { core, symbols: image.symbols };
}

export const CAUSE = {
  illegal: 2n, breakpoint: 3n, loadMisaligned: 4n, loadAccess: 5n, storeMisaligned: 6n, storeAccess: 7n,
  ecallU: 8n, ecallS: 9n, ecallM: 11n, fetchPage: 12n, loadPage: 13n, storePage: 15n,
} as const;

/**
 * Common prologue: mtvec -> `trap`, which records mcause/mepc/mtval in s9/s10/s11 and stops at
 * `halt` (an ebreak-free infinite loop the test detects by pc). Programs jump to `done` to finish.
 */
export const PRELUDE = `
  .section .text.init, "ax"
  .globl _start
_start:
  la t0, trap
  csrw mtvec, t0
  j main
  .balign 4
trap:
  csrr s9, mcause
  csrr s10, mepc
  csrr s11, mtval
halt:
  j halt
done:
  li s9, -1
  j halt
`;

/** Runs until the program reaches `halt`. Returns [mcause-or--1, mepc, mtval] as recorded in s9..s11. */
export function runToHalt(core: Rv64Core, symbols: Map<string, bigint>, max = 1_000_000): { cause: bigint; epc: bigint; tval: bigint } {
  const halt = symbols.get('halt');
  if (halt === undefined) throw new Error('program has no halt label');
  let n = 0;
  while (core.pc !== halt && n < max) {
    core.run(100);
    n += 100;
  }
  if (core.pc !== halt) throw new Error(`program did not reach halt in ${max} steps (pc 0x${core.pc.toString(16)})`);
  return { cause: core.getReg(25), epc: core.getReg(26), tval: core.getReg(27) };
}

export const DONE = 0xffff_ffff_ffff_ffffn;
