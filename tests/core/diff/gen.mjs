// Seeded generator of random, valid RV64GC test programs for differential testing against
// QEMU. A program is a series of independent blocks; each block sets every register, the
// FP state and a 512-byte data area (which straddles a page boundary) to random values,
// runs random code, and dumps x1..x31, f0..f31, fcsr, the trap log, the data area and the
// alias PTEs over the UART (diffrt.S). Blocks run in M, S or U mode; some S blocks run with
// Sv39 translation and reach the data through a 4 KiB alias mapping (one page writable,
// one read-only, one unmapped). The same seed always yields the same program.

export const DATA_SIZE = 512;
const ALIAS_VA = 0x40000000;
/** Virtual address of data_area[0] through the alias mapping. */
const ALIAS_DATA = ALIAS_VA + 0x1000 - DATA_SIZE / 2;

/** Small fast PRNG (mulberry32); 64-bit values are built from two draws. */
export class Rng {
  /** @param {number} seed */
  constructor(seed) {
    this.s = seed >>> 0;
  }
  u32() {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** integer in [0, n) */
  int(n) {
    return this.u32() % n;
  }
  /** integer in [lo, hi] */
  range(lo, hi) {
    return lo + this.int(hi - lo + 1);
  }
  chance(p) {
    return this.u32() / 4294967296 < p;
  }
  /** @template T @param {T[]} a @returns {T} */
  pick(a) {
    return a[this.int(a.length)];
  }
  u64() {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
  /** @param {[number, () => any][]} table weighted choices */
  weighted(table) {
    const total = table.reduce((s, [w]) => s + w, 0);
    let r = this.int(total);
    for (const [w, f] of table) {
      if (r < w) return f();
      r -= w;
    }
    return table[table.length - 1][1]();
  }
}

const M64 = (1n << 64n) - 1n;
const hex = (/** @type {bigint} */ v) => '0x' + (v & M64).toString(16);

/** Interesting 64-bit integers. */
const INT_CORNERS = [
  0n, 1n, 2n, 3n, M64, M64 - 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0x7fffffffn, 0x80000000n,
  0xffffffffn, 0xffffffff80000000n, 0xffffffff7fffffffn, 0x100000000n, 0xffffn, 0x8000n, 0xffn, 0x80n,
  0x5555555555555555n, 0xaaaaaaaaaaaaaaaan, 31n, 32n, 63n, 64n,
];
/** Interesting doubles (bit patterns). */
const D_CORNERS = [
  0x0000000000000000n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x4000000000000000n,
  0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 0x7ff0000000000001n, 0xfff8000000000001n,
  0x0000000000000001n, 0x000fffffffffffffn, 0x0010000000000000n, 0x7fefffffffffffffn, 0x3fd5555555555555n,
  0x41e0000000000000n, 0xc1e0000000000000n, 0x43e0000000000000n, 0x3fe0000000000000n, 0x4004000000000000n,
  0xc004000000000000n, 0x3ff8000000000000n, 0x4330000000000000n, 0x7fe0000000000000n, 0x0008000000000000n,
];
/** Interesting singles (32-bit patterns). */
const S_CORNERS = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x40000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001,
  0xffc00001, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0x3eaaaaab, 0x4f000000, 0xcf000000, 0x5f000000,
  0x3f000000, 0x40200000, 0xc0200000, 0x3fc00000, 0x4b000000, 0x00400000,
];

const INT_RR = [
  'add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw',
  'mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu', 'mulw', 'divw', 'divuw', 'remw', 'remuw',
];
const INT_RI = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw'];
const LOADS = [['lb', 1], ['lbu', 1], ['lh', 2], ['lhu', 2], ['lw', 4], ['lwu', 4], ['ld', 8]];
const STORES = [['sb', 1], ['sh', 2], ['sw', 4], ['sd', 8]];
const AMOS = ['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu'];
const RMS = ['', 'rne', 'rtz', 'rdn', 'rup', 'rmm', 'dyn'];
/** Encodings that are illegal on RV64GC (reserved or unassigned). */
const ILLEGAL_WORDS = [
  0x00000000, 0xffffffff, 0x0000107f, 0x20001033, 0x0000601b, 0x00007003, 0x00004023, 0x00002067, 0x00002063,
  0x00300073, 0x8000101b, 0x4000101b,
];
const ILLEGAL_HALVES = [0x0000, 0x0010, 0x6181, 0x6101, 0x4002];

/** medeleg values used by S/U blocks: illegal, breakpoint, access and page faults. */
const DELEG_SETS = [0x4, 0xc, 0xa0a0 | 0xc, 0xb0ac, 0xb000, 0x00a0];

/** Registers generated code may write: not x0, sp (x2) or s11 (x27, the data base). */
const WRITABLE = [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31];

/** @typedef {{ mode: string, paging: string, deleg: number, mprv: boolean }} BlockInfo */

/**
 * @param {number} seed
 * @param {{ blocks?: number, items?: number }} [opts]
 * @returns {{ source: string, blocks: BlockInfo[] }}
 */
export function generateProgram(seed, opts = {}) {
  const rng = new Rng(seed * 2654435761 + 12345);
  const nBlocks = opts.blocks ?? 8;
  const nItems = opts.items ?? 70;
  /** @type {string[]} */
  const out = [];
  /** @type {string[]} */
  const rodata = [];
  const blocks = [];
  /** @type {string[]} */
  const smcTemplates = [];
  let smcCount = 0;
  let label = 0;
  const L = () => `.Lg${label++}`;
  const emit = (/** @type {string[]} */ ...lines) => {
    for (const s of lines) out.push('  ' + s);
  };

  const xr = (/** @type {number} */ i) => `x${i}`;
  const fr = (/** @type {number} */ i) => `f${i}`;

  const intValue = () =>
    rng.weighted([
      [4, () => rng.pick(INT_CORNERS)],
      [3, () => rng.u64()],
      [2, () => BigInt(rng.range(-100, 100)) & M64],
      [1, () => BigInt.asUintN(64, BigInt.asIntN(32, BigInt(rng.u32())))],
    ]);
  const fpValue = () =>
    rng.weighted([
      [4, () => rng.pick(D_CORNERS)],
      [4, () => 0xffffffff00000000n | BigInt(rng.pick(S_CORNERS))],
      [1, () => BigInt(rng.pick(S_CORNERS))], // single without NaN-boxing
      [2, () => rng.u64()],
      [1, () => 0xffffffff00000000n | BigInt(rng.u32())],
    ]);
  const imm12 = () =>
    rng.weighted([
      [3, () => rng.range(-2048, 2047)],
      [2, () => rng.pick([0, 1, -1, 2047, -2048, 0x7ff, 0x555, -0x556])],
      [2, () => rng.range(-16, 16)],
    ]);

  /** @param {Set<number>} [avoid] */
  const rd = (avoid) => {
    for (;;) {
      const r = rng.pick(WRITABLE);
      if (!avoid || !avoid.has(r)) return r;
    }
  };
  const rs = () => (rng.chance(0.08) ? rng.pick([0, 2, 27]) : rng.pick(WRITABLE));
  const fpr = () => rng.int(32);

  /**
   * One item of random code.
   * @param {{ mode: string, paging: string, mprv?: boolean, depth: number, avoid?: Set<number> }} ctx
   */
  const item = (ctx) => {
    const simple = ctx.depth > 0;
    const table = [
      [20, () => emit(`${rng.pick(INT_RR)} ${xr(rd(ctx.avoid))}, ${xr(rs())}, ${xr(rs())}`)],
      [10, () => emit(`${rng.pick(INT_RI)} ${xr(rd(ctx.avoid))}, ${xr(rs())}, ${imm12()}`)],
      [5, () => {
        const w = rng.chance(0.4);
        const op = rng.pick(w ? ['slliw', 'srliw', 'sraiw'] : ['slli', 'srli', 'srai']);
        emit(`${op} ${xr(rd(ctx.avoid))}, ${xr(rs())}, ${rng.int(w ? 32 : 64)}`);
      }],
      [3, () => emit(`lui ${xr(rd(ctx.avoid))}, ${rng.int(1 << 20)}`)],
      [1, () => emit(`auipc ${xr(rd(ctx.avoid))}, ${rng.int(1 << 20)}`)],
      [3, () => emit(`li ${xr(rd(ctx.avoid))}, ${hex(intValue())}`)],
      [12, () => {
        const [op, size] = rng.pick(LOADS);
        emit(`${op} ${xr(rd(ctx.avoid))}, ${dataOffset(size)}(s11)`);
      }],
      [9, () => {
        const [op, size] = rng.pick(STORES);
        emit(`${op} ${xr(rs())}, ${dataOffset(size)}(s11)`);
      }],
      [4, () => {
        const d = rng.chance(0.6);
        if (rng.chance(0.5)) emit(`${d ? 'fld' : 'flw'} ${fr(fpr())}, ${dataOffset(d ? 8 : 4)}(s11)`);
        else emit(`${d ? 'fsd' : 'fsw'} ${fr(fpr())}, ${dataOffset(d ? 8 : 4)}(s11)`);
      }],
      [5, () => amo(ctx)],
      [2, () => lrsc(ctx)],
      [22, () => fp(ctx)],
      [4, () => csr(ctx)],
      [2, () => trap(ctx)],
    ];
    if (!simple) {
      table.push([6, () => branch(ctx)], [3, () => loop(ctx)], [2, () => jump(ctx)], [2, () => smc(ctx)]);
      if (ctx.paging) table.push([6, () => alias(ctx)]);
    }
    rng.weighted(/** @type {[number, () => any][]} */ (table));
    if (ctx.mprv) {
      // A trap's mret leaves MPP = U, which would make later MPRV accesses U-mode ones.
      // QEMU 7.2 does not flush its TLB when mret changes MPP (a csr write does), so set
      // MPP = S again after every item to stay on ground where both must agree.
      const t = rd(ctx.avoid);
      emit(`li ${xr(t)}, 0x1000`, `csrc mstatus, ${xr(t)}`, `li ${xr(t)}, 0x800`, `csrs mstatus, ${xr(t)}`);
    }
  };

  /** an offset such that [off, off + size) lies in the data area; often misaligned */
  const dataOffset = (/** @type {number} */ size) => {
    const max = DATA_SIZE - size;
    if (size > 1 && rng.chance(0.2)) return DATA_SIZE / 2 - rng.range(1, size - 1); // crosses the page
    if (rng.chance(0.6)) return rng.int(max / size + 1) * size;
    return rng.int(max + 1);
  };

  const amo = (/** @type {any} */ ctx) => {
    const d = rng.chance(0.5);
    const size = d ? 8 : 4;
    const t = rd(ctx.avoid);
    const suffix = rng.pick(['', '.aq', '.rl', '.aqrl']);
    emit(`addi ${xr(t)}, s11, ${rng.int(DATA_SIZE / size) * size}`);
    emit(`${rng.pick(AMOS)}.${d ? 'd' : 'w'}${suffix} ${xr(rd(ctx.avoid))}, ${xr(rs())}, (${xr(t)})`);
  };

  const lrsc = (/** @type {any} */ ctx) => {
    const d = rng.chance(0.5);
    const size = d ? 8 : 4;
    const t = rd(ctx.avoid);
    const w = d ? 'd' : 'w';
    emit(`addi ${xr(t)}, s11, ${rng.int(DATA_SIZE / size) * size}`);
    if (rng.chance(0.85)) emit(`lr.${w} ${xr(rd(new Set([t, ...(ctx.avoid ?? [])])))}, (${xr(t)})`);
    const n = rng.int(3);
    for (let i = 0; i < n; i++) emit(`${rng.pick(INT_RR)} ${xr(rd(new Set([t, ...(ctx.avoid ?? [])])))}, ${xr(rs())}, ${xr(rs())}`);
    emit(`sc.${w} ${xr(rd(ctx.avoid))}, ${xr(rs())}, (${xr(t)})`);
  };

  const fp = (/** @type {any} */ ctx) => {
    const p = rng.chance(0.55) ? 'd' : 's';
    const rm = () => {
      const r = rng.pick(RMS);
      return r ? `, ${r}` : '';
    };
    rng.weighted([
      [10, () => emit(`${rng.pick(['fadd', 'fsub', 'fmul', 'fdiv'])}.${p} ${fr(fpr())}, ${fr(fpr())}, ${fr(fpr())}${rm()}`)],
      [2, () => emit(`fsqrt.${p} ${fr(fpr())}, ${fr(fpr())}${rm()}`)],
      [3, () => emit(`${rng.pick(['fmin', 'fmax'])}.${p} ${fr(fpr())}, ${fr(fpr())}, ${fr(fpr())}`)],
      [3, () => emit(`${rng.pick(['fsgnj', 'fsgnjn', 'fsgnjx'])}.${p} ${fr(fpr())}, ${fr(fpr())}, ${fr(fpr())}`)],
      [5, () => emit(`${rng.pick(['fmadd', 'fmsub', 'fnmadd', 'fnmsub'])}.${p} ${fr(fpr())}, ${fr(fpr())}, ${fr(fpr())}, ${fr(fpr())}${rm()}`)],
      [4, () => emit(`${rng.pick(['feq', 'flt', 'fle'])}.${p} ${xr(rd(ctx.avoid))}, ${fr(fpr())}, ${fr(fpr())}`)],
      [2, () => emit(`fclass.${p} ${xr(rd(ctx.avoid))}, ${fr(fpr())}`)],
      [5, () => emit(`fcvt.${rng.pick(['w', 'wu', 'l', 'lu'])}.${p} ${xr(rd(ctx.avoid))}, ${fr(fpr())}${rm()}`)],
      [4, () => {
        const it = rng.pick(['w', 'wu', 'l', 'lu']);
        const exact = p === 'd' && (it === 'w' || it === 'wu');
        emit(`fcvt.${p}.${it} ${fr(fpr())}, ${xr(rs())}${exact ? '' : rm()}`);
      }],
      [2, () => emit(`fcvt.s.d ${fr(fpr())}, ${fr(fpr())}${rm()}`)],
      [2, () => emit(`fcvt.d.s ${fr(fpr())}, ${fr(fpr())}`)],
      [2, () => emit(`${p === 'd' ? 'fmv.x.d' : 'fmv.x.w'} ${xr(rd(ctx.avoid))}, ${fr(fpr())}`)],
      [2, () => emit(`${p === 'd' ? 'fmv.d.x' : 'fmv.w.x'} ${fr(fpr())}, ${xr(rs())}`)],
      [3, () => {
        const t = rd(ctx.avoid);
        emit(`li ${xr(t)}, ${hex(fpValue())}`);
        emit(`fmv.d.x ${fr(fpr())}, ${xr(t)}`);
      }],
      [2, () => emit(`fsrmi ${xr(rd(ctx.avoid))}, ${rng.chance(0.9) ? rng.int(5) : rng.range(5, 7)}`)],
      [1, () => emit(`fsflagsi ${xr(rd(ctx.avoid))}, ${rng.int(32)}`)],
      [1, () => emit(`frcsr ${xr(rd(ctx.avoid))}`)],
      [1, () => emit(`csrrs ${xr(rd(ctx.avoid))}, fflags, ${xr(rs())}`)],
    ]);
  };

  const csr = (/** @type {any} */ ctx) => {
    const mode = ctx.mode;
    const rw = ['sscratch', 'mscratch'];
    rng.weighted([
      [4, () => emit(`${rng.pick(['csrrw', 'csrrs', 'csrrc'])} ${xr(rd(ctx.avoid))}, ${rng.pick(rw)}, ${xr(rs())}`)],
      [2, () => emit(`${rng.pick(['csrrwi', 'csrrsi', 'csrrci'])} ${xr(rd(ctx.avoid))}, ${rng.pick(rw)}, ${rng.int(32)}`)],
      [3, () => emit(`csrr ${xr(rd(ctx.avoid))}, ${rng.pick(['mcause', 'mepc', 'mhartid', 'mhpmcounter3', 'mhpmevent3', 'satp', 'medeleg', 'mscratch', 'sscratch', 'fcsr', 'frm', 'scause', 'sepc', 'sstatus', 'stvec'])}`)],
      [1, () => emit(`csrw ${rng.pick(['mhartid', 'mvendorid', 'cycle', 'instret'])}, ${xr(rs())}`)], // read-only: traps
      [1, () => emit(`csrr ${xr(rd(ctx.avoid))}, ${rng.pick(['0x7ff', '0x8ff', '0x5ff'])}`)], // unknown: traps
    ]);
    void mode;
  };

  const trap = (/** @type {any} */ ctx) => {
    rng.weighted([
      [3, () => emit(`.word ${'0x' + rng.pick(ILLEGAL_WORDS).toString(16)}`)],
      [1, () => emit(`.2byte ${'0x' + rng.pick(ILLEGAL_HALVES).toString(16)}`)],
      [2, () => emit('ecall')],
      [1, () => emit('ebreak')],
      [1, () => emit('.2byte 0x9002 /* c.ebreak */')],
      [1, () => emit(`${rng.pick(['ld', 'lw', 'lbu'])} ${xr(rd(ctx.avoid))}, ${rng.pick([0, 8, 0x100])}(zero)`)], // access fault
      [1, () => emit(`sd ${xr(rs())}, ${rng.pick([0, 16])}(zero)`)],
      [1, () => emit(ctx.mode === 'M' ? 'fence' : rng.pick(['mret', 'csrr x5, mstatus', 'fence.i']))],
      [1, () => emit(ctx.mode === 'U' ? 'sret' : 'fence.i')],
    ]);
  };

  const branch = (/** @type {any} */ ctx) => {
    const l = L();
    const op = rng.pick(['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu', 'beqz', 'bnez']);
    if (op.endsWith('z')) emit(`${op} ${xr(rs())}, ${l}`);
    else emit(`${op} ${xr(rs())}, ${xr(rs())}, ${l}`);
    const n = rng.range(1, 3);
    for (let i = 0; i < n; i++) item({ ...ctx, depth: ctx.depth + 1 });
    out.push(`${l}:`);
  };

  const loop = (/** @type {any} */ ctx) => {
    const c = rd(ctx.avoid);
    const l = L();
    emit(`li ${xr(c)}, ${rng.range(1, 5)}`);
    out.push(`${l}:`);
    const avoid = new Set([...(ctx.avoid ?? []), c]);
    const n = rng.range(1, 4);
    for (let i = 0; i < n; i++) item({ ...ctx, depth: ctx.depth + 1, avoid });
    emit(`addi ${xr(c)}, ${xr(c)}, -1`);
    emit(`bnez ${xr(c)}, ${l}`);
  };

  const jump = (/** @type {any} */ ctx) => {
    const l = L();
    if (rng.chance(0.5)) {
      emit(`jal ${xr(rng.chance(0.2) ? 0 : rd(ctx.avoid))}, ${l}`);
    } else {
      const t = rd(ctx.avoid);
      emit(`la ${xr(t)}, ${l}`);
      const off = rng.pick([0, 1]); // jalr clears bit 0
      if (off) emit(`addi ${xr(t)}, ${xr(t)}, 1`);
      emit(`jalr ${xr(rng.chance(0.2) ? 0 : rd(ctx.avoid))}, 0(${xr(t)})`);
    }
    item({ ...ctx, depth: ctx.depth + 1 });
    out.push(`${l}:`);
  };

  /** self-modifying code: copy a fresh 8-byte routine (random ALU op; ret) over the code
   * buffer, fence.i, call it. The buffer is rewritten many times per program, so a stale
   * translation of its previous contents would show up in the registers. */
  const smc = (/** @type {any} */ ctx) => {
    const noRa = new Set([1, ...(ctx.avoid ?? [])]);
    const name = `smc_tmpl${smcCount++}`;
    const op = rng.pick(INT_RR);
    smcTemplates.push(`${name}:`, `  ${op} ${xr(rd(noRa))}, ${xr(rs())}, ${xr(rs())}`, '  ret');
    const t = rd(noRa);
    const u = rd(new Set([...noRa, t]));
    emit(`la ${xr(t)}, ${name}`, `la ${xr(u)}, smc_buf`, `ld ${xr(t)}, 0(${xr(t)})`, `sd ${xr(t)}, 0(${xr(u)})`, 'fence.i', `jalr x1, 0(${xr(u)})`);
  };

  /** loads/stores through the Sv39 alias: page 0 RW, page 1 read-only, page 2 unmapped */
  const alias = (/** @type {any} */ ctx) => {
    const t = rd(ctx.avoid);
    const size = rng.pick([1, 2, 4, 8]);
    const va = rng.weighted([
      [6, () => ALIAS_DATA + rng.int(DATA_SIZE - size + 1)],
      [2, () => ALIAS_VA + 0x1000 - rng.range(1, size)], // crosses from page 0 into page 1
      [1, () => ALIAS_VA + 0x2000 + rng.int(64)], // unmapped
      [1, () => ALIAS_VA + 0x2000 - rng.range(1, size)], // crosses into the unmapped page
    ]);
    emit(`li ${xr(t)}, ${'0x' + va.toString(16)}`);
    if (rng.chance(0.55)) {
      const op = rng.pick(LOADS.filter(([, s]) => s === size))[0];
      emit(`${op} ${xr(rd(ctx.avoid))}, 0(${xr(t)})`);
    } else {
      const op = rng.pick(STORES.filter(([, s]) => s === size))[0];
      emit(`${op} ${xr(rs())}, 0(${xr(t)})`);
    }
  };

  // ---- the program ----
  out.push(`/* generated by tests/core/diff/gen.mjs, seed ${seed} */`);
  out.push('#include "diffrt.h"');
  out.push('  .text');
  out.push('  .globl diff_main');
  out.push('diff_main:');
  emit('addi sp, sp, -16');
  emit('sd ra, 8(sp)');
  for (let b = 0; b < nBlocks; b++) {
    const mode = rng.weighted([[5, () => 'M'], [4, () => 'S'], [2, () => 'U']]);
    // S blocks may translate (Sv39 or Sv48); M blocks may translate their loads/stores
    // through MPRV with MPP = S.
    const mprv = mode === 'M' && rng.chance(0.2);
    const paging = (mode === 'S' && rng.chance(0.6)) || mprv ? (rng.chance(0.7) ? 'Sv39' : 'Sv48') : '';
    // Delegation to the S handler of exceptions raised in S/U (never ecall: it returns to M).
    const deleg = mode !== 'M' && rng.chance(0.4) ? rng.pick(DELEG_SETS) : 0;
    blocks.push({ mode, paging, deleg, mprv });
    out.push(`/* ---- block ${b}: ${mode} mode${mprv ? ' with MPRV' : ''}${paging ? ', ' + paging : ''}${deleg ? `, medeleg 0x${deleg.toString(16)}` : ''} ---- */`);
    out.push(`block${b}:`);
    emit(`la a0, init_data${b}`);
    emit('call copy_data');
    emit('call reset_alias_ptes');
    if (paging) {
      emit(paging === 'Sv39' ? 'call satp_sv39' : 'call satp_sv48');
      emit('csrw satp, a0');
      emit('sfence.vma');
    }
    if (deleg) emit(`li x5, 0x${deleg.toString(16)}`, 'csrw medeleg, x5');
    emit(`la x5, init_fp${b}`);
    for (let i = 0; i < 32; i++) emit(`fld f${i}, ${i * 8}(x5)`);
    emit(`li x5, ${rng.chance(0.8) ? rng.int(5) << 5 : rng.int(256)}`);
    emit('fscsr x5');
    emit('csrw mscratch, zero');
    emit('csrw sscratch, zero');
    for (const r of WRITABLE) emit(`li ${xr(r)}, ${hex(intValue())}`);
    emit('la s11, data_area');
    if (mode !== 'M') {
      const t = rng.pick(WRITABLE);
      const l = L();
      emit(`la ${xr(t)}, ${l}`);
      emit(`csrw mepc, ${xr(t)}`);
      emit(`li ${xr(t)}, 0x1800`);
      emit(`csrc mstatus, ${xr(t)}`);
      if (mode === 'S') {
        emit(`li ${xr(t)}, 0x800`);
        emit(`csrs mstatus, ${xr(t)}`);
      }
      emit('mret');
      out.push(`${l}:`);
    }
    if (mprv) {
      const t = rng.pick(WRITABLE);
      emit(`li ${xr(t)}, 0x1800`, `csrc mstatus, ${xr(t)}`, `li ${xr(t)}, 0x20800`, `csrs mstatus, ${xr(t)}`);
    }
    if (rng.chance(0.3)) out.push('  .option norvc');
    const ctx = { mode, paging, mprv, depth: 0 };
    for (let i = 0; i < nItems; i++) item(ctx);
    out.push('  .option rvc');
    if (mode !== 'M') emit('TO_M');
    if (mprv) emit('csrw mscratch, a0', 'li a0, 0x20000', 'csrc mstatus, a0', 'csrr a0, mscratch');
    if (paging) {
      emit('csrw satp, zero');
      emit('sfence.vma');
    }
    if (deleg) emit('csrw medeleg, zero');
    emit(`DUMP ${b}`);
    const dataWords = [];
    for (let i = 0; i < DATA_SIZE / 8; i++) dataWords.push(hex(rng.chance(0.3) ? intValue() : rng.u64()));
    rodata.push(`init_data${b}:`);
    for (let i = 0; i < dataWords.length; i += 4) rodata.push(`  .dword ${dataWords.slice(i, i + 4).join(', ')}`);
    rodata.push(`init_fp${b}:`);
    const fps = [];
    for (let i = 0; i < 32; i++) fps.push(hex(fpValue()));
    for (let i = 0; i < 32; i += 4) rodata.push(`  .dword ${fps.slice(i, i + 4).join(', ')}`);
  }
  emit('ld ra, 8(sp)');
  emit('addi sp, sp, 16');
  emit('ret');
  out.push('  .section .rodata');
  out.push('  .balign 8');
  out.push(...rodata);
  // templates for self-modifying code: 4-byte op + 4-byte ret each, 8-byte aligned
  out.push('  .option push', '  .option norvc');
  for (let i = 0; i < smcTemplates.length; i += 3) out.push('  .balign 8', ...smcTemplates.slice(i, i + 3));
  out.push('  .option pop');
  out.push('  .data', '  .balign 64', 'smc_buf:', '  .option push', '  .option norvc', '  nop', '  ret', '  .option pop');
  return { source: out.join('\n') + '\n', blocks };
}
