// Instruction tracing for debugging a boot against QEMU (`-d exec,nochain -singlestep`, or
// `-d in_asm`): the hart is stepped one instruction at a time and each one is logged with its
// privilege level, pc, encoding and disassembly (src/isa/disasm.ts). The pc is translated with a
// software Sv39/Sv48 walk over guest RAM (no permission checks: it only reads), so traces work
// with paging on. Slow by design; use it on a window of instructions.

import { disassemble } from '../../isa/disasm.js';
import type { Rv64Core } from './core.js';
import { RAM_BASE } from './boot-layout.js';

const CSR_SATP = 0x180;
const PRIV_NAMES = ['U', 'S', '?', 'M'];

export interface TraceLine {
  /** Instructions started before this one (core.steps). */
  step: bigint;
  priv: number;
  pc: bigint;
  /** The encoding (16 or 32 bits), undefined when the pc does not translate to RAM. */
  insn: number | undefined;
  text: string;
}

/** Formats a trace line like `123456 S ffffffff80001234: 00a50533  add a0,a0,a0`. */
export function formatTraceLine(l: TraceLine): string {
  const enc = l.insn === undefined ? '????????' : l.insn.toString(16).padStart(l.insn > 0xffff ? 8 : 4, '0').padEnd(8, ' ');
  return `${l.step} ${PRIV_NAMES[l.priv] ?? '?'} ${l.pc.toString(16).padStart(16, '0')}: ${enc}  ${l.text}`;
}

/** Physical address of virtual `va` for instruction fetch at the hart's current privilege, or undefined. */
export function translateFetch(core: Rv64Core, va: bigint): bigint | undefined {
  const satp = core.readCsr(CSR_SATP);
  const mode = Number(satp >> 60n);
  if (core.priv === 3 || mode === 0) return va;
  const levels = mode === 8 ? 3 : mode === 9 ? 4 : 0;
  if (levels === 0) return undefined;
  let table = (satp & 0xfff_ffff_ffffn) << 12n;
  for (let level = levels - 1; level >= 0; level--) {
    const vpn = (va >> BigInt(12 + 9 * level)) & 0x1ffn;
    const pteAddr = table + vpn * 8n;
    if (pteAddr < BigInt(RAM_BASE) || pteAddr + 8n > BigInt(RAM_BASE) + BigInt(core.ramBytes)) return undefined;
    const pte = core.readPhys64(pteAddr);
    if ((pte & 1n) === 0n) return undefined;
    const ppn = (pte >> 10n) & 0xfff_ffff_ffffn;
    if ((pte & 0xan) !== 0n) {
      // Leaf: a superpage keeps the low VPN bits of the address.
      const offsetBits = BigInt(12 + 9 * level);
      return ((ppn << 12n) & ~((1n << offsetBits) - 1n)) | (va & ((1n << offsetBits) - 1n));
    }
    table = ppn << 12n;
  }
  return undefined;
}

/** Reads the instruction at the hart's pc (undefined if it does not translate to RAM). */
export function fetchAtPc(core: Rv64Core): { insn: number; text: string } | undefined {
  const pc = core.pc;
  const lo = readHalf(core, pc);
  if (lo === undefined) return undefined;
  const hi = (lo & 3) === 3 ? readHalf(core, pc + 2n) : 0;
  if (hi === undefined) return undefined;
  const d = disassemble(lo, hi, pc);
  return { insn: d.length === 4 ? ((hi << 16) | lo) >>> 0 : lo, text: d.text };
}

function readHalf(core: Rv64Core, va: bigint): number | undefined {
  const pa = translateFetch(core, va);
  if (pa === undefined || pa < BigInt(RAM_BASE) || pa + 2n > BigInt(RAM_BASE) + BigInt(core.ramBytes)) return undefined;
  const off = Number(pa - BigInt(RAM_BASE));
  const ram = core.ram;
  return ram[off]! | (ram[off + 1]! << 8);
}
