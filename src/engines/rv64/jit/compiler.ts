// Translates a region (region.ts: the hot blocks of one 4 KiB guest page and the in-page blocks
// they reach) into one wasm function, v86's way: a `loop` around a `br_table` over the region's
// blocks, so branches and jumps between them never leave compiled code. RV64I + M inline,
// A/F/D/CSR called; conditional branches are side exits to another block of the region or out
// of it; jalr, anything the table marks `end` and targets outside the region leave, chaining
// into the next region where the engine has tail calls. docs/JIT.md has the ABI.
import { immediateOf } from '../../../isa/instructions.js';
import { ByteWriter, Op, I32, I64, VOID } from './wasm-writer.js';
import { TLB_ENTRIES, TLB_ENTRY_SHIFT, tlbTagMask, JIT_HASH, JIT_ENTRIES, ST_COMPILED } from './core-layout.js';
import { callName, type BlockLayout, type DecodedRegion } from './region.js';

/** Function indices in the module being built. */
export interface BlockImports {
  load: number;
  store: number;
  mulhu: number;
  /** Function index of the imported core export jit_<name> (imported before any function is added). */
  call(name: string): number;
  /** Type index of region functions, when the engine has tail calls: exits then chain (return_call_indirect) into the next region. */
  chainType?: number;
}


const immI = (i: number): number => immediateOf('I', i);
const immS = (i: number): number => immediateOf('S', i);
const immB = (i: number): number => immediateOf('B', i);
const immU = (i: number): number => immediateOf('U', i);
const immJ = (i: number): number => immediateOf('J', i);

export interface CompiledRegion {
  locals: number[];
  code: Uint8Array;
}

// Locals of a region function: params 0 pc (of the block being entered), 1 ic, 2 limit, 3 tlbLoad, 4 tlbStore, 5 block index, 6 tlbFetch.
const L_PC = 0, L_IC = 1, L_LIMIT = 2, L_TLBL = 3, L_TLBS = 4, L_BLK = 5, L_TLBF = 6;
const L_NEXT = 7, L_ICF = 8, L_VA = 9, L_T = 10, L_T2 = 11, L_E = 12, L_CHAIN = 13, L_H = 14;
const FIRST_REG_LOCAL = 15;

/**
 * Emits the body of the region function. L_PC holds the virtual pc of the start of the block
 * running now and L_IC the instruction count at that start; both move on at every transfer
 * between blocks, which also checks that the next block fits the budget (`limit`).
 */
export function compileRegion(region: DecodedRegion, layout: BlockLayout, imp: BlockImports): CompiledRegion {
  const { blocks, index } = region;

  // Registers the region reads or writes get a local each: loaded at entry, the written ones stored at the exit.
  const regLocal = new Map<number, number>();
  const written = new Set<number>();
  const use = (r: number): void => {
    if (r !== 0 && !regLocal.has(r)) regLocal.set(r, FIRST_REG_LOCAL + regLocal.size);
  };
  for (const b of blocks) {
    for (const d of b.insns) {
      const rd = (d.insn >>> 7) & 31, rs1 = (d.insn >>> 15) & 31, rs2 = (d.insn >>> 20) & 31;
      if (d.def.xReads.includes('rs1')) use(rs1);
      if (d.def.xReads.includes('rs2')) use(rs2);
      if (d.def.xWrites.length > 0 && rd !== 0) { use(rd); written.add(rd); }
    }
  }
  const locals: number[] = [I64, I64, I64, I64, I64, I32, I32, I32];
  for (let i = 0; i < regLocal.size; i++) locals.push(I64);

  const w = new ByteWriter();
  const get = (l: number): void => { w.byte(Op.localGet).u32(l); };
  const set = (l: number): void => { w.byte(Op.localSet).u32(l); };
  // Constants that fit 32 bits have the same signed LEB128 as i64 (and skip BigInt, which is slow).
  const i64c = (v: number | bigint): void => {
    if (typeof v === 'number' && v === (v | 0)) w.byte(Op.i64Const).s32(v);
    else w.byte(Op.i64Const).s64(BigInt(v));
  };
  const i32c = (v: number): void => { w.byte(Op.i32Const).s32(v); };
  const op = (o: number): void => { w.byte(o); };
  const mem64 = (o: number, align: number, offset = 0): void => { w.byte(o).u32(align).u32(offset); };
  const readReg = (r: number): void => { if (r === 0) i64c(0); else get(regLocal.get(r)!); };
  /** Pops a value into rd (dropped for x0). */
  const writeReg = (r: number): void => { if (r === 0) op(Op.drop); else set(regLocal.get(r)!); };

  // Entry: registers into locals.
  for (const [r, l] of regLocal) { i32c(0); mem64(Op.i64Load, 3, layout.xregs + r * 8); set(l); }

  // Labels: depth counts the open constructs; $exit is level 1, $dispatch level 2.
  let depth = 0;
  const open = (o: number, type = VOID): void => { w.byte(o).byte(type); depth++; };
  const close = (): void => { op(Op.end); depth--; };
  const status = (): void => { i32c(0); w.byte(Op.i32Load).u32(2).u32(layout.status); };

  open(Op.block); // $exit
  open(Op.loop); // $dispatch
  const n = blocks.length;
  for (let b = 0; b < n; b++) open(Op.block); // $b_{n-1} .. $b_0
  get(L_BLK);
  w.byte(Op.brTable).u32(n);
  for (let b = 0; b < n; b++) w.u32(b);
  w.u32(n - 1);

  for (let bi = 0; bi < n; bi++) {
    close(); // $b_bi: its code follows
    const blk = blocks[bi]!;
    const bo = blk.off;
    /** Virtual pc of page offset `o` (L_PC is the pc of this block's start). */
    const pcAt = (o: number): void => { get(L_PC); if (o !== bo) { i64c(o - bo); op(Op.i64Add); } };
    /**
     * Leaves the region; `next` pushes the next pc. count = instructions of this block run so
     * far. `chain`: a plain control transfer (no trap, no stop request), so the next region may
     * run at once.
     */
    const exit = (next: () => void, count: number, chain = false): void => {
      next(); set(L_NEXT);
      get(L_IC); if (count !== 0) { i64c(count); op(Op.i64Add); } set(L_ICF);
      if (chain && imp.chainType !== undefined) { i32c(1); set(L_CHAIN); }
      w.byte(Op.br).u32(depth - 1);
    };
    const exitTrap = (count: number): void => exit(() => { i32c(0); mem64(Op.i64Load, 3, layout.trapPc); }, count);
    if (blk.insns.length === 0) { exit(() => get(L_PC), 0); continue; }
    open(Op.loop); // $self: a branch back to this block's start
    const selfLevel = depth;
    /** Goes on at page offset t after `count` instructions: another block of the region if t is one and it fits the budget, else leave. */
    const transfer = (t: number, count: number): void => {
      const j = t >= 0 && t < 4096 ? index.get(t) : undefined;
      if (j === undefined || blocks[j]!.insns.length === 0) { exit(() => pcAt(t), count, true); return; }
      get(L_IC); i64c(count); op(Op.i64Add); set(L_IC);
      if (t !== bo) { pcAt(t); set(L_PC); }
      get(L_IC); i64c(blocks[j]!.insns.length); op(Op.i64Add); get(L_LIMIT); op(Op.i64LeU);
      if (j === bi) {
        w.byte(Op.brIf).u32(depth - selfLevel);
      } else {
        open(Op.if);
        i32c(j); set(L_BLK); w.byte(Op.br).u32(depth - 2);
        close();
      }
      exit(() => get(L_PC), 0);
    };

    const insns = blk.insns;
    let ended = false;
    for (let k = 0; k < insns.length && !ended; k++) {
      const d = insns[k]!;
      const i = d.insn;
      const rd = (i >>> 7) & 31, rs1 = (i >>> 15) & 31, rs2 = (i >>> 20) & 31;
      const count = k + 1;
      const nextOff = d.off + d.len;
      const bin = (o: number): void => { readReg(rs1); readReg(rs2); op(o); writeReg(rd); };
      const binImm = (o: number, imm: number | bigint): void => { readReg(rs1); i64c(imm); op(o); writeReg(rd); };
      const binW = (o: number): void => {
        readReg(rs1); op(Op.i32WrapI64); readReg(rs2); op(Op.i32WrapI64); op(o); op(Op.i64ExtendI32S); writeReg(rd);
      };
      const cmp = (o: number, imm?: number): void => {
        readReg(rs1); if (imm === undefined) readReg(rs2); else i64c(imm); op(o); op(Op.i64ExtendI32U); writeReg(rd);
      };
      if (d.def.jit === 'call') { emitCall(); continue; }
      switch (d.name) {
        case 'lui': i64c(immU(i)); writeReg(rd); break;
        case 'auipc': pcAt(d.off); i64c(immU(i)); op(Op.i64Add); writeReg(rd); break;
        case 'addi': binImm(Op.i64Add, immI(i)); break;
        case 'xori': binImm(Op.i64Xor, immI(i)); break;
        case 'ori': binImm(Op.i64Or, immI(i)); break;
        case 'andi': binImm(Op.i64And, immI(i)); break;
        case 'slti': cmp(Op.i64LtS, immI(i)); break;
        case 'sltiu': cmp(Op.i64LtU, immI(i)); break;
        case 'slli': binImm(Op.i64Shl, (i >>> 20) & 63); break;
        case 'srli': binImm(Op.i64ShrU, (i >>> 20) & 63); break;
        case 'srai': binImm(Op.i64ShrS, (i >>> 20) & 63); break;
        case 'addiw': readReg(rs1); i64c(immI(i)); op(Op.i64Add); op(Op.i32WrapI64); op(Op.i64ExtendI32S); writeReg(rd); break;
        case 'slliw': readReg(rs1); op(Op.i32WrapI64); i32c((i >>> 20) & 31); op(Op.i32Shl); op(Op.i64ExtendI32S); writeReg(rd); break;
        case 'srliw': readReg(rs1); op(Op.i32WrapI64); i32c((i >>> 20) & 31); op(Op.i32ShrU); op(Op.i64ExtendI32S); writeReg(rd); break;
        case 'sraiw': readReg(rs1); op(Op.i32WrapI64); i32c((i >>> 20) & 31); op(Op.i32ShrS); op(Op.i64ExtendI32S); writeReg(rd); break;
        case 'add': bin(Op.i64Add); break;
        case 'sub': bin(Op.i64Sub); break;
        case 'sll': bin(Op.i64Shl); break;
        case 'srl': bin(Op.i64ShrU); break;
        case 'sra': bin(Op.i64ShrS); break;
        case 'xor': bin(Op.i64Xor); break;
        case 'or': bin(Op.i64Or); break;
        case 'and': bin(Op.i64And); break;
        case 'slt': cmp(Op.i64LtS); break;
        case 'sltu': cmp(Op.i64LtU); break;
        case 'addw': binW(Op.i32Add); break;
        case 'subw': binW(Op.i32Sub); break;
        case 'sllw': binW(Op.i32Shl); break;
        case 'srlw': binW(Op.i32ShrU); break;
        case 'sraw': binW(Op.i32ShrS); break;
        case 'mul': bin(Op.i64Mul); break;
        case 'mulw': binW(Op.i32Mul); break;
        case 'mulhu': readReg(rs1); readReg(rs2); w.byte(Op.call).u32(imp.mulhu); writeReg(rd); break;
        case 'mulh':
        case 'mulhsu': {
          // high(a*b) signed = mulhu(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)  (mulhsu: only the first term)
          readReg(rs1); readReg(rs2); w.byte(Op.call).u32(imp.mulhu);
          readReg(rs2); readReg(rs1); i64c(63); op(Op.i64ShrS); op(Op.i64And); op(Op.i64Sub);
          if (d.name === 'mulh') { readReg(rs1); readReg(rs2); i64c(63); op(Op.i64ShrS); op(Op.i64And); op(Op.i64Sub); }
          writeReg(rd);
          break;
        }
        case 'div': case 'rem': case 'divu': case 'remu':
          emitDiv(d.name, false); break;
        case 'divw': case 'remw': case 'divuw': case 'remuw':
          emitDiv(d.name, true); break;
        case 'fence': break;
        case 'lb': emitLoad(1, Op.i64Load8S, 0); break;
        case 'lbu': emitLoad(1, Op.i64Load8U, 0); break;
        case 'lh': emitLoad(2, Op.i64Load16S, 1); break;
        case 'lhu': emitLoad(2, Op.i64Load16U, 1); break;
        case 'lw': emitLoad(4, Op.i64Load32S, 2); break;
        case 'lwu': emitLoad(4, Op.i64Load32U, 2); break;
        case 'ld': emitLoad(8, Op.i64Load, 3); break;
        case 'sb': emitStore(1, Op.i64Store8, 0); break;
        case 'sh': emitStore(2, Op.i64Store16, 1); break;
        case 'sw': emitStore(4, Op.i64Store32, 2); break;
        case 'sd': emitStore(8, Op.i64Store, 3); break;
        case 'beq': case 'bne': case 'blt': case 'bge': case 'bltu': case 'bgeu': {
          const cond = { beq: Op.i64Eq, bne: Op.i64Ne, blt: Op.i64LtS, bge: Op.i64GeS, bltu: Op.i64LtU, bgeu: Op.i64GeU }[d.name]!;
          readReg(rs1); readReg(rs2); op(cond);
          open(Op.if);
          transfer(d.off + immB(i), count);
          close();
          break;
        }
        case 'jal': {
          pcAt(nextOff); writeReg(rd);
          transfer(d.off + immJ(i), count);
          ended = true;
          break;
        }
        case 'jalr': {
          readReg(rs1); i64c(immI(i)); op(Op.i64Add); i64c(-2); op(Op.i64And); set(L_T);
          pcAt(nextOff); writeReg(rd);
          exit(() => get(L_T), count, true);
          ended = true;
          break;
        }
        default:
          throw new Error(`jit: no translation for ${d.name}`);
      }
      /**
       * The core's own jit_<name>: the registers it reads (and rd, so a trap leaves the newest
       * value in memory) go to memory first, rd comes back after; status 1 = leave at its pc.
       */
      function emitCall(): void {
        const regs = new Set<number>();
        if (d.def.xReads.includes('rs1')) regs.add(rs1);
        if (d.def.xReads.includes('rs2')) regs.add(rs2);
        const writes = d.def.xWrites.length > 0 && rd !== 0;
        if (writes) regs.add(rd);
        regs.delete(0);
        for (const r of regs) { i32c(0); get(regLocal.get(r)!); mem64(Op.i64Store, 3, layout.xregs + r * 8); }
        // Compressed instructions go in with bits 1:0 = 01, so the core sees their length (ilenOf).
        i32c(d.len === 2 ? (i & ~2) : i); pcAt(d.off); get(L_IC); i64c(count); op(Op.i64Add);
        w.byte(Op.call).u32(imp.call(callName(d.name)));
        set(L_T);
        if (writes) { i32c(0); mem64(Op.i64Load, 3, layout.xregs + rd * 8); set(regLocal.get(rd)!); }
        status();
        open(Op.if);
        exit(() => get(L_T), count);
        close();
      }

      function emitDiv(name: string, word: boolean): void {
        // RISC-V never traps on division (unpriv spec 13.2): x/0 = -1 (unsigned: all ones), x%0 = x,
        // MIN/-1 = MIN, MIN%-1 = 0. wasm traps on both, so those cases are tested first.
        const signed = name === 'div' || name === 'rem' || name === 'divw' || name === 'remw';
        const isRem = name.startsWith('rem');
        if (word) {
          readReg(rs1); op(Op.i32WrapI64); op(Op.i64ExtendI32S); set(L_T);
          readReg(rs2); op(Op.i32WrapI64); op(Op.i64ExtendI32S); set(L_T2);
          if (!signed) {
            get(L_T); i64c(0xffffffff); op(Op.i64And); set(L_T);
            get(L_T2); i64c(0xffffffff); op(Op.i64And); set(L_T2);
          }
        } else {
          readReg(rs1); set(L_T);
          readReg(rs2); set(L_T2);
        }
        get(L_T2); op(Op.i64Eqz);
        open(Op.if, I64);
        if (isRem) get(L_T); else i64c(-1);
        w.byte(Op.else);
        if (signed) {
          // MIN / -1: the quotient overflows to MIN (the W forms work on sign-extended 32-bit values, so no overflow there)
          get(L_T2); i64c(-1); op(Op.i64Eq);
          get(L_T); i64c(word ? -0x80000000 : -(1n << 63n)); op(Op.i64Eq); op(Op.i32And);
          open(Op.if, I64);
          if (isRem) i64c(0); else get(L_T);
          w.byte(Op.else);
          get(L_T); get(L_T2); op(isRem ? Op.i64RemS : Op.i64DivS);
          close();
        } else {
          get(L_T); get(L_T2); op(isRem ? Op.i64RemU : Op.i64DivU);
        }
        close();
        if (word) { op(Op.i32WrapI64); op(Op.i64ExtendI32S); }
        writeReg(rd);
      }

      /** va into L_VA, TLB entry address into L_E, then `hit` is the i32 condition on the stack. */
      function tlbProbe(size: number, tlbLocal: number, imm: number): void {
        readReg(rs1); i64c(imm); op(Op.i64Add); w.byte(Op.localTee).u32(L_VA);
        i64c(12); op(Op.i64ShrU); op(Op.i32WrapI64); i32c(TLB_ENTRIES - 1); op(Op.i32And); i32c(TLB_ENTRY_SHIFT); op(Op.i32Shl);
        get(tlbLocal); op(Op.i32Add); w.byte(Op.localTee).u32(L_E);
        mem64(Op.i64Load, 3, 0);
        get(L_VA); i64c(tlbTagMask(size)); op(Op.i64And);
        op(Op.i64Eq);
      }

      function emitLoad(size: number, loadOp: number, align: number): void {
        tlbProbe(size, L_TLBL, immI(i));
        open(Op.if, I64);
        get(L_VA); get(L_E); mem64(Op.i64Load, 3, 8); op(Op.i64Add); op(Op.i32WrapI64); mem64(loadOp, align, 0);
        w.byte(Op.else);
        get(L_VA); i32c(size); pcAt(d.off); get(L_IC); i64c(count); op(Op.i64Add);
        w.byte(Op.call).u32(imp.load);
        if (loadOp === Op.i64Load8S) op(Op.i64Extend8S);
        else if (loadOp === Op.i64Load16S) op(Op.i64Extend16S);
        else if (loadOp === Op.i64Load32S) op(Op.i64Extend32S);
        set(L_T);
        status();
        open(Op.if);
        status(); i32c(1); op(Op.i32Eq);
        open(Op.if);
        exitTrap(count);
        close();
        // Stop requested (MMIO, invalidation): the load completed, rd gets its value first.
        get(L_T); writeReg(rd);
        exit(() => pcAt(nextOff), count);
        close();
        get(L_T);
        close();
        writeReg(rd);
      }

      function emitStore(size: number, storeOp: number, align: number): void {
        tlbProbe(size, L_TLBS, immS(i));
        open(Op.if);
        get(L_VA); get(L_E); mem64(Op.i64Load, 3, 8); op(Op.i64Add); op(Op.i32WrapI64); readReg(rs2); mem64(storeOp, align, 0);
        w.byte(Op.else);
        get(L_VA); i32c(size); readReg(rs2); pcAt(d.off); get(L_IC); i64c(count); op(Op.i64Add);
        w.byte(Op.call).u32(imp.store);
        status();
        open(Op.if);
        status(); i32c(1); op(Op.i32Eq);
        open(Op.if);
        exitTrap(count);
        close();
        exit(() => pcAt(nextOff), count);
        close();
        close();
      }
    }
    if (!ended) {
      const last = insns[insns.length - 1]!;
      const after = last.off + last.len;
      // Fell into the next block of the region (or off a run that ended at the page, max or an `end` instruction).
      transfer(after, insns.length);
    }
    close(); // $self
  }
  close(); // loop $dispatch
  close(); // block $exit

  // Exit: written registers back, icount out, next pc returned.
  for (const r of written) { i32c(0); get(regLocal.get(r)!); mem64(Op.i64Store, 3, layout.xregs + r * 8); }
  i32c(0); get(L_ICF); mem64(Op.i64Store, 3, layout.icountOut);
  if (imp.chainType !== undefined) emitChain(imp.chainType);
  get(L_NEXT);
  return { locals, code: w.result() };

  /**
   * A plain exit goes straight on in the next compiled region (the interpreter's lookup, done
   * here): the next pc through the fetch TLB, its block-table entry, the budget; then a tail
   * call, so chains do not grow the stack. Anything else returns to the interpreter.
   */
  function emitChain(type: number): void {
    get(L_CHAIN);
    w.byte(Op.if).byte(VOID);
    get(L_NEXT); i64c(12); op(Op.i64ShrU); op(Op.i32WrapI64); i32c(TLB_ENTRIES - 1); op(Op.i32And); i32c(TLB_ENTRY_SHIFT); op(Op.i32Shl);
    get(L_TLBF); op(Op.i32Add); w.byte(Op.localTee).u32(L_E);
    mem64(Op.i64Load, 3, 0); get(L_NEXT); i64c(-4096); op(Op.i64And); op(Op.i64Eq);
    w.byte(Op.if).byte(VOID);
    get(L_NEXT); get(L_E); mem64(Op.i64Load, 3, 8); op(Op.i64Add); op(Op.i32WrapI64); w.byte(Op.localTee).u32(L_H);
    i32c(1); op(Op.i32ShrU); i32c(JIT_ENTRIES - 1); op(Op.i32And); i32c(4); op(Op.i32Shl); i32c(JIT_HASH); op(Op.i32Add);
    w.byte(Op.localTee).u32(L_E);
    // The block table is two-way (assembly/jit/cache.ts): the home slot, else the one beside it.
    w.byte(Op.i32Load).u32(2).u32(0); get(L_H); op(Op.i32Ne);
    w.byte(Op.if).byte(VOID);
    get(L_E); i32c(16); op(Op.i32Xor); set(L_E);
    op(Op.end);
    get(L_E); w.byte(Op.i32Load).u32(2).u32(0); get(L_H); op(Op.i32Eq);
    get(L_E); w.byte(Op.i32Load).u32(2).u32(4); i32c(ST_COMPILED); op(Op.i32Eq); op(Op.i32And);
    w.byte(Op.if).byte(VOID);
    get(L_E); w.byte(Op.i32Load).u32(2).u32(12); set(L_H);
    get(L_ICF); get(L_H); i32c(0xffff); op(Op.i32And); op(Op.i64ExtendI32U); op(Op.i64Add); get(L_LIMIT); op(Op.i64LeU);
    w.byte(Op.if).byte(VOID);
    get(L_NEXT); get(L_ICF); get(L_LIMIT); get(L_TLBL); get(L_TLBS); get(L_H); i32c(16); op(Op.i32ShrU); get(L_TLBF);
    get(L_E); w.byte(Op.i32Load).u32(2).u32(8);
    w.byte(Op.returnCallIndirect).u32(type).u32(0);
    op(Op.end); op(Op.end); op(Op.end); op(Op.end);
  }
}
