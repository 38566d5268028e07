// Finds a region in guest code: the hot block starts of one 4 KiB page plus the in-page blocks
// their branches and jumps reach, each block a straight run decoded with the instruction table
// (src/isa) and the core's expansion table for compressed instructions. compiler.ts turns a
// region into one wasm function; docs/JIT.md ("Regions").
import { decodeInstruction, immediateOf, type InstructionDef } from '../../../isa/instructions.js';

/** Addresses in the core's linear memory the blocks use (docs/CORE-ABI.md, docs/JIT.md). */
export interface BlockLayout {
  xregs: number;
  ctable: number;
  status: number;
  trapPc: number;
  icountOut: number;
}


/** Longest block, in guest instructions (the most one pass of a block runs between budget checks). */
export const MAX_BLOCK = 128;
/** Bounds of one region: blocks and guest instructions (hot entries always get in). */
export const MAX_REGION_BLOCKS = 64;
export const MAX_REGION_INSNS = 2048;

/** The table's entry for an instruction (cached: blocks decode the same words again and again). */
const defCache = new Map<number, InstructionDef | null>();
function lookup(insn: number): InstructionDef | null {
  let d = defCache.get(insn);
  if (d === undefined) {
    d = decodeInstruction(insn) ?? null;
    if (defCache.size > 1 << 16) defCache.clear();
    defCache.set(insn, d);
  }
  return d;
}

export interface Decoded {
  /** The 32-bit form (a compressed instruction expanded, bits 1:0 = 11). */
  insn: number;
  len: number;
  /** Offset in the page. */
  off: number;
  name: string;
  def: InstructionDef;
}

const immB = (i: number): number => immediateOf('B', i);
const immJ = (i: number): number => immediateOf('J', i);

/** One block of a region: a straight run of instructions from page offset `off`. */
export interface RegionBlock {
  off: number;
  insns: Decoded[];
  /** Mnemonic of the instruction that ended the block, or why it ended ("page", "max", "fall": reached another block). */
  endedBy: string;
}

export interface DecodedRegion {
  /** Linear-memory offset of the page. */
  page: number;
  /** Sorted by offset; block i is entry i of the function. */
  blocks: RegionBlock[];
  /** Page offset -> block index. */
  index: Map<number, number>;
}

/** Names of the core functions (jit_<name>) a decoded region calls. */
export function callsOf(r: DecodedRegion): string[] {
  const out: string[] = [];
  for (const b of r.blocks) for (const d of b.insns) if (d.def.jit === 'call') out.push(callName(d.name));
  return out;
}
export const callName = (name: string): string => 'jit_' + name.replace(/\./g, '_');

/**
 * Decodes the run at page offset `off` of the page at `page`: up to MAX_BLOCK instructions,
 * ending at jal/jalr, an `end` instruction (not included), the page end, or (when `stops` is
 * given) right before another block start.
 */
function decodeRun(dv: DataView, layout: BlockLayout, page: number, off: number, stops?: Map<number, number>): RegionBlock {
  const insns: Decoded[] = [];
  const start = off;
  while (insns.length < MAX_BLOCK) {
    if (stops && off !== start && stops.has(off)) return { off: start, insns, endedBy: 'fall' };
    if (off + 2 > 4096) return { off: start, insns, endedBy: 'page' };
    const lo = dv.getUint16(page + off, true);
    let insn: number;
    let len: number;
    if ((lo & 3) !== 3) {
      // The interpreter's own expansion table: bits 1:0 = 01 mark an expanded 16-bit instruction.
      insn = (dv.getUint32(layout.ctable + lo * 4, true) | 3) >>> 0;
      len = 2;
    } else {
      if (off + 4 > 4096) return { off: start, insns, endedBy: 'page' };
      insn = dv.getUint32(page + off, true);
      len = 4;
    }
    const def = lookup(insn);
    // Only what can change the translation context (or always traps) ends a block (src/isa jit: 'end').
    if (def === null || def.jit === 'end') return { off: start, insns, endedBy: def?.name ?? 'illegal' };
    const name = def.name;
    insns.push({ insn, len, off, name, def });
    off += len;
    if (name === 'jal' || name === 'jalr') return { off: start, insns, endedBy: name };
  }
  return { off: start, insns, endedBy: 'max' };
}

/** Static successors of a run inside its page: branch and jal targets, and the fall-through of a full run. */
function successors(b: RegionBlock): number[] {
  const out: number[] = [];
  for (const d of b.insns) {
    if (d.def.format === 'B') out.push(d.off + immB(d.insn));
    else if (d.name === 'jal') out.push(d.off + immJ(d.insn));
  }
  const last = b.insns[b.insns.length - 1];
  if (b.endedBy === 'max' && last) out.push(last.off + last.len);
  return out.filter((t) => t >= 0 && t < 4096 && (t & 1) === 0);
}

/**
 * The region of page `page` (a linear-memory offset) around the hot block starts `hot` (page
 * offsets): those, then what their branches and jumps reach in the page, breadth first, within
 * MAX_REGION_BLOCKS / MAX_REGION_INSNS. Blocks are cut where another one starts, so no code is
 * translated twice.
 */
export function decodeRegion(mem: Uint8Array, layout: BlockLayout, page: number, hot: readonly number[]): DecodedRegion {
  const dv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
  const starts = new Set<number>();
  const work = [...hot];
  let insns = 0;
  for (let w = 0; w < work.length; w++) {
    const off = work[w]!;
    if (starts.has(off)) continue;
    const isHot = w < hot.length;
    if (!isHot && (starts.size >= MAX_REGION_BLOCKS || insns >= MAX_REGION_INSNS)) continue;
    starts.add(off);
    const run = decodeRun(dv, layout, page, off);
    insns += run.insns.length;
    for (const t of successors(run)) if (!starts.has(t)) work.push(t);
  }
  const sorted = [...starts].sort((a, b) => a - b);
  const index = new Map<number, number>();
  sorted.forEach((off, i) => index.set(off, i));
  const blocks = sorted.map((off) => decodeRun(dv, layout, page, off, index));
  return { page, blocks, index };
}

