// Rv64Jit: the host half of the JIT. Between (or, when the core asks, inside) run() slices it
// drains the core's queue of hot block starts, translates each block into a wasm function
// (compiler.ts), emits one module per batch (wasm-writer.ts), compiles it (synchronously, or in
// the background with WebAssembly.compile while the guest goes on interpreting), instantiates it
// against the core's memory and helpers, and installs the functions in the core's table.
import { compileRegion, type BlockImports } from './compiler.js';
import { decodeRegion, callsOf, MAX_REGION_BLOCKS, type BlockLayout, type DecodedRegion } from './region.js';
import { ModuleWriter, ByteWriter, Op, I32, I64 } from './wasm-writer.js';
import { CTABLE, XREGS, JIT_STATUS, JIT_PC, JIT_ICOUNT } from './core-layout.js';

/** The core exports the JIT needs (docs/JIT.md). */
export interface JitCoreExports {
  memory: WebAssembly.Memory;
  table: WebAssembly.Table;
  regsOffset(): number;
  jitSetup(on: number, threshold: number, batch: number): void;
  jitQueueOffset(): number;
  jitQueueLength(): number;
  jitScratchOffset(): number;
  jitGenerationNow(): number;
  jitFlush(): void;
  jitInstall(host: number, fn: number, len: number, bytes: number, entry: number, weak: number): void;
  jitRefuse(host: number): void;
  jitDrop(host: number, fn: number): void;
  jitVerifyNeeded(): number;
  jitHostWrite(pa: bigint, len: number): void;
  jitInstalled(): void;
  jitWatchNewPages(): void;
  jitUnqueue(host: number): void;
  jitLoad(va: bigint, size: number, pc: bigint, ic: bigint): bigint;
  jitStore(va: bigint, size: number, v: bigint, pc: bigint, ic: bigint): void;
  statJitEntries(): bigint;
  statJitInsns(): bigint;
  statJitLookupMisses(): bigint;
  statJitCrowded(): bigint;
  statJitPageInvalidations(): bigint;
  statJitBlocksDropped(): bigint;
  statJitFlushes(): bigint;
  statJitCodePageStores(): bigint;
  statJitCalls(): bigint;
  statJitPageWarmups(): bigint;
}

export interface JitOptions {
  /**
   * Visits of a block start before its page's region is compiled (default 100000: compiling
   * costs ~1 ms of host time per region, so only code that keeps running pays it back, and a
   * Linux boot must not get slower; docs/JIT.md). Pages become hot (looked up at all) at
   * (threshold - 1) / 16 entries.
   */
  threshold?: number;
  /** Queued blocks that make the core stop and ask for compilation (default 64). */
  batch?: number;
  /** Table slots in use before everything is flushed and slots are reused (default 65536). */
  maxSlots?: number;
  /**
   * Modules alive before everything is flushed (default 1024): each module costs the engine
   * memory of its own, so tiny batches (batch 1) or a guest that keeps rewriting its code must
   * not pile them up.
   */
  maxModules?: number;
  /** Bytes of wasm code alive (emitted since the last flush) before everything is flushed (default 32 MiB). */
  maxCodeBytes?: number;
  /**
   * Region exits go straight into the next compiled region with a tail call (default: when the
   * engine has wasm tail calls); false returns to the interpreter's lookup after every region.
   */
  chain?: boolean;
  /**
   * 'sync' (default): a batch is compiled and installed before run() goes on (what tests and
   * deterministic runs need: the same blocks compiled at the same instruction). 'async': the
   * batch's module compiles in the background (WebAssembly.compile) while the guest goes on in
   * the interpreter, and is installed at the first host turn after it is ready, once its guest
   * code is checked to be unchanged; the guest never waits for the compiler.
   */
  compile?: 'sync' | 'async';
}

/** Whether this engine validates return_call (wasm tail calls): a one-function module calling itself. */
export const HAVE_TAIL_CALLS = WebAssembly.validate(
  new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 0x0a, 6, 1, 4, 0, 0x12, 0, 0x0b]),
);

export interface JitStats {
  /** Blocks translated and installed (each an entry of its region). */
  blocksCompiled: number;
  /** Region functions (one per guest page and batch: its hot blocks and what they reach). */
  regions: number;
  /** Block starts whose first instruction the JIT cannot translate. */
  blocksRefused: number;
  modules: number;
  /** The code cache now: modules and wasm bytes alive since the last flush (bounded by maxModules / maxCodeBytes). */
  liveModules: number;
  liveWasmBytes: number;
  /** Size of the emitted modules, and guest instructions translated (over all blocks). */
  wasmBytes: number;
  guestInsns: number;
  /** Host time in drain() (all of it), in WebAssembly.Module + Instance (background compiles: Instance only), and in fence.i checks. */
  compileMs: number;
  wasmCompileMs: number;
  verifyMs: number;
  /** Calls of compiled blocks, and the guest instructions they ran. */
  blockRuns: bigint;
  jitInstructions: bigint;
  /** Lookups at a block start that found no compiled block. */
  lookupMisses: bigint;
  /** Visits to a block start that was not counted: both slots of its pair in the block table hold compiled blocks. */
  crowded: bigint;
  /** Stores to a page holding compiled code (each drops the page's blocks). */
  pageInvalidations: bigint;
  blocksDropped: bigint;
  /** Stores to a code page that missed its compiled code (each a slow-path store). */
  codePageStores: bigint;
  /** Instructions compiled code ran by calling the core's jit_<name> (A, F/D, CSR). */
  calls: bigint;
  /** Block starts on pages not yet hot: counted per page, not looked up. */
  pageWarmups: bigint;
  /** Full flushes: reset, state load, table full. */
  flushes: bigint;
  /** fence.i checks of every block against its code, and the blocks they dropped. */
  verifies: number;
  verifyDropped: number;
  /** Why blocks ended: mnemonic (or "page", "max") -> count. */
  endedBy: Record<string, number>;
  /** Background compiles ('async'): started, still running, and regions given up because their code changed meanwhile or everything was flushed. */
  asyncCompiles: number;
  asyncPending: number;
  asyncStale: number;
}

/** A region of a batch: where it goes in the table and the guest code it was compiled from. */
interface PlannedRegion {
  page: number;
  slot: number;
  hot: number[];
  blocks: Array<{ host: number; code: Uint8Array; insns: number; len: number; entry: number; weak: boolean }>;
}

/** Background compiles at once before a batch is compiled in the foreground again. */
const MAX_PENDING = 8;


export class Rv64Jit {
  private readonly e: JitCoreExports;
  private readonly base: number;
  private next: number;
  private generation: number;
  private readonly maxSlots: number;
  private readonly maxModules: number;
  private modulesAlive = 0;
  private bytesAlive = 0;
  private readonly maxCodeBytes: number;
  private readonly chain: boolean;
  private readonly layout: BlockLayout;
  private readonly helpers: Record<string, Function>;
  private readonly st = {
    blocksCompiled: 0, regions: 0, blocksRefused: 0, modules: 0, wasmBytes: 0, guestInsns: 0, compileMs: 0, wasmCompileMs: 0, verifyMs: 0, verifies: 0, verifyDropped: 0,
    endedBy: {} as Record<string, number>, asyncCompiles: 0, asyncStale: 0,
  };
  private readonly async: boolean;
  private pending = 0;
  /** Installed regions: table slot -> its blocks (host address, the guest code bytes it was compiled from). */
  private live = new Map<number, Array<{ host: number; code: Uint8Array }>>();
  /** Hot block starts seen per page (page host address -> page offsets): a page's next region keeps them. */
  private pageHot = new Map<number, number[]>();
  private runsSinceDrain = 0;
  private readonly batch: number;

  constructor(exports: JitCoreExports, opts: JitOptions = {}) {
    this.e = exports;
    this.base = exports.table.length;
    this.next = this.base;
    this.maxSlots = opts.maxSlots ?? 65536;
    this.maxModules = opts.maxModules ?? 1024;
    this.maxCodeBytes = opts.maxCodeBytes ?? 32 << 20;
    this.chain = (opts.chain ?? true) && HAVE_TAIL_CALLS;
    this.async = opts.compile === 'async';
    // The generated layout must be the one this core was built with (a stale build would corrupt memory).
    if (exports.regsOffset() !== XREGS || exports.jitScratchOffset() !== JIT_STATUS) {
      throw new Error('jit: core-layout.ts does not match the core (run npm run build:core and build:ts)');
    }
    this.layout = { xregs: XREGS, ctable: CTABLE, status: JIT_STATUS, trapPc: JIT_PC, icountOut: JIT_ICOUNT };
    // jitLoad, jitStore and every jit_<name> the core exports for called instructions.
    const ex = exports as unknown as Record<string, unknown>;
    this.helpers = {};
    for (const k of Object.keys(ex)) if (k === 'jitLoad' || k === 'jitStore' || k.startsWith('jit_')) this.helpers[k] = ex[k] as Function;
    this.batch = opts.batch ?? 64;
    exports.jitSetup(1, opts.threshold ?? 100000, this.batch);
    this.generation = exports.jitGenerationNow();
  }

  /** After a run() slice: compiles the queue when it is long enough or has waited a while. */
  afterRun(): void {
    const n = this.e.jitQueueLength();
    if (n === 0 && this.e.jitVerifyNeeded() === 0) return;
    if (n * 4 >= this.batch || ++this.runsSinceDrain >= 16 || this.e.jitVerifyNeeded() !== 0) this.drain();
  }

  /** Handles what the core asked for (run() returned 4): fence.i checks, then compiles the queue. */
  drain(): void {
    const e = this.e;
    this.runsSinceDrain = 0;
    const t0 = performance.now();
    if (e.jitGenerationNow() !== this.generation) this.forgetAll();
    if (e.jitVerifyNeeded() !== 0) {
      this.verify();
      this.st.verifyMs += performance.now() - t0;
    }
    const n = e.jitQueueLength();
    if (n === 0) {
      e.jitInstalled();
      this.st.compileMs += performance.now() - t0;
      return;
    }
    if (this.next - this.base + n > this.maxSlots || this.modulesAlive >= this.maxModules || this.bytesAlive >= this.maxCodeBytes) {
      e.jitFlush();
      this.forgetAll();
      e.jitInstalled();
      this.st.compileMs += performance.now() - t0;
      return;
    }
    const mem = new Uint8Array(e.memory.buffer);
    const q = new Uint32Array(e.memory.buffer, e.jitQueueOffset(), n).slice();
    const m = new ModuleWriter();
    m.memoryImport = { module: 'env', name: 'memory' };
    m.tableImport = { module: 'env', name: 'table' };
    m.elements.offset = this.next;
    const tLoad = m.type([I64, I32, I64, I64], [I64]);
    const tStore = m.type([I64, I32, I64, I64, I64], []);
    const tMulhu = m.type([I64, I64], [I64]);
    const tRegion = m.type([I64, I64, I64, I32, I32, I32, I32], [I64]);
    const tCall = m.type([I32, I64, I64], [I64]);
    // One region per page: the page's hot starts so far plus the new ones.
    const byPage = new Map<number, number[]>();
    for (const host of q) {
      const page = host & ~0xfff;
      let hot = byPage.get(page);
      if (!hot) {
        hot = [...(this.pageHot.get(page) ?? [])];
        byPage.set(page, hot);
      }
      if (!hot.includes(host & 0xfff)) hot.push(host & 0xfff);
    }
    // Decode first: every core function the batch calls is imported before any function is added.
    const regions: Array<{ r: DecodedRegion; hot: number[] }> = [];
    for (const [page, hot] of byPage) {
      if (hot.length > MAX_REGION_BLOCKS) hot.splice(0, hot.length - MAX_REGION_BLOCKS);
      this.pageHot.set(page, hot);
      regions.push({ r: decodeRegion(mem, this.layout, page, hot), hot });
    }
    const callIdx = new Map<string, number>();
    for (const { r } of regions) {
      for (const name of callsOf(r)) {
        if (!callIdx.has(name)) {
          if (!this.helpers[name]) throw new Error(`jit: the core does not export ${name} (rebuild the core)`);
          callIdx.set(name, m.importFunc('env', name, tCall));
        }
      }
    }
    const imp: BlockImports = {
      load: m.importFunc('env', 'jitLoad', tLoad),
      store: m.importFunc('env', 'jitStore', tStore),
      mulhu: 0,
      call: (name) => callIdx.get(name)!,
      chainType: this.chain ? tRegion : undefined,
    };
    imp.mulhu = m.addFunc(mulhuFunc(tMulhu));
    const installs: DecodedRegion[] = [];
    for (const { r, hot } of regions) {
      // A hot start whose first instruction cannot be translated is never asked for again.
      for (const off of hot) {
        if (r.blocks[r.index.get(off)!]!.insns.length === 0) { e.jitRefuse(r.page + off); this.st.blocksRefused++; }
      }
      if (!r.blocks.some((b) => b.insns.length > 0)) continue;
      const c = compileRegion(r, this.layout, imp);
      const fn = m.addFunc({ type: tRegion, locals: c.locals, code: c.code });
      m.elements.funcs.push(fn);
      installs.push(r);
      for (const b of r.blocks) {
        this.st.guestInsns += b.insns.length;
        this.st.endedBy[b.endedBy] = (this.st.endedBy[b.endedBy] ?? 0) + 1;
      }
    }
    if (installs.length > 0) {
      const bytes = m.bytes();
      this.st.wasmBytes += bytes.length;
      this.bytesAlive += bytes.length;
      const plan: PlannedRegion[] = installs.map((r) => {
        const hot = byPage.get(r.page)!;
        const blocks: PlannedRegion['blocks'] = [];
        r.blocks.forEach((b, bi) => {
          if (b.insns.length === 0) return;
          const host = r.page + b.off;
          const last = b.insns[b.insns.length - 1]!;
          const len = last.off + last.len - b.off;
          // Blocks only reached from the hot ones do not take a hash slot from another page's block.
          blocks.push({ host, code: mem.slice(host, host + len), insns: b.insns.length, len, entry: bi, weak: !hot.includes(b.off) });
        });
        return { page: r.page, slot: this.next++, hot, blocks };
      });
      this.st.modules++;
      this.modulesAlive++;
      const generation = this.generation;
      if (this.async && this.pending < MAX_PENDING) {
        this.pending++;
        this.st.asyncCompiles++;
        // Off this thread: only the instantiation at install counts in wasmCompileMs.
        WebAssembly.compile(bytes as BufferSource).then(
          (module) => {
            this.pending--;
            this.install(module, plan, generation, true);
          },
          () => {
            // Cannot happen with a module this writer made; if it does, the blocks stay interpreted.
            this.pending--;
            this.giveUp(plan, generation);
          },
        );
      } else {
        const t1 = performance.now();
        const module = new WebAssembly.Module(bytes as BufferSource);
        this.st.wasmCompileMs += performance.now() - t1;
        this.install(module, plan, generation, false);
      }
    }
    e.jitInstalled();
    this.st.compileMs += performance.now() - t0;
  }

  /**
   * Instantiates a batch's module (its element segment writes the region functions into the
   * table) and points the core's block entries at them. A background compile that finishes
   * after a flush is dropped; a region whose guest code changed since it was translated is not
   * installed, and its hot starts count again.
   */
  private install(module: WebAssembly.Module, plan: PlannedRegion[], generation: number, late: boolean): void {
    const e = this.e;
    if (late && (generation !== this.generation || generation !== e.jitGenerationNow())) {
      this.st.asyncStale += plan.length;
      return; // the flush emptied the queue and the block table: nothing points at these
    }
    let regions = plan;
    if (late) {
      const mem = new Uint8Array(e.memory.buffer);
      regions = plan.filter((r) => r.blocks.every(({ host, code }) => sameBytes(mem, host, code)));
      if (regions.length < plan.length) this.giveUp(plan.filter((r) => !regions.includes(r)), generation);
      if (regions.length === 0) return;
    }
    const need = Math.max(...plan.map((r) => r.slot)) + 1;
    // Room for the whole batch up front, with slack so the table grows rarely.
    if (e.table.length < need) e.table.grow(need - e.table.length + 1024);
    const t1 = performance.now();
    new WebAssembly.Instance(module, { env: { memory: e.memory, table: e.table, ...this.helpers } });
    this.st.wasmCompileMs += performance.now() - t1;
    for (const r of regions) {
      for (const b of r.blocks) {
        e.jitInstall(b.host, r.slot, b.insns, b.len, b.entry, b.weak ? 1 : 0);
        this.st.blocksCompiled++;
      }
      this.live.set(r.slot, r.blocks.map(({ host, code }) => ({ host, code })));
      this.st.regions++;
    }
    if (late) e.jitWatchNewPages();
  }

  /** Regions that will not be installed: their hot starts are looked at and counted again. */
  private giveUp(plan: PlannedRegion[], generation: number): void {
    this.st.asyncStale += plan.length;
    if (generation !== this.e.jitGenerationNow()) return;
    for (const r of plan) for (const off of r.hot) this.e.jitUnqueue(r.page + off);
  }

  /** After a full flush: empty the table slots so the old modules can be collected, reuse them. */
  private forgetAll(): void {
    const t = this.e.table;
    for (let i = this.base; i < this.next; i++) t.set(i, null);
    this.generation = this.e.jitGenerationNow();
    this.next = this.base;
    this.live.clear();
    this.pageHot.clear();
    this.modulesAlive = 0;
    this.bytesAlive = 0;
  }

  /** fence.i: drops every block whose guest code differs from what it was compiled from. */
  private verify(): void {
    const mem = new Uint8Array(this.e.memory.buffer);
    this.st.verifies++;
    for (const [slot, blocks] of this.live) {
      if (!blocks.every(({ host, code }) => sameBytes(mem, host, code))) {
        // One changed block drops its whole region: the others jump into it.
        for (const { host } of blocks) this.e.jitDrop(host, slot);
        this.live.delete(slot);
        this.st.verifyDropped++;
      }
    }
  }

  /** The host wrote guest RAM (DMA, image loading): drops blocks compiled from those bytes. */
  hostWrote(pa: bigint, len: number): void {
    this.e.jitHostWrite(pa, len);
  }

  stats(): JitStats {
    const e = this.e;
    return {
      ...this.st,
      asyncPending: this.pending,
      liveModules: this.modulesAlive,
      liveWasmBytes: this.bytesAlive,
      endedBy: { ...this.st.endedBy },
      blockRuns: e.statJitEntries(),
      jitInstructions: e.statJitInsns(),
      lookupMisses: e.statJitLookupMisses(),
      crowded: e.statJitCrowded(),
      pageInvalidations: e.statJitPageInvalidations(),
      blocksDropped: e.statJitBlocksDropped(),
      codePageStores: e.statJitCodePageStores(),
      calls: e.statJitCalls(),
      pageWarmups: e.statJitPageWarmups(),
      flushes: e.statJitFlushes(),
    };
  }
}

/** mulhu(a, b): high 64 bits of the unsigned 128-bit product, from 32-bit halves. */
function mulhuFunc(type: number): { type: number; locals: number[]; code: Uint8Array } {
  // locals: 0 a, 1 b, 2 p00, 3 p01, 4 p10, 5 p11
  const w = new ByteWriter();
  const get = (l: number): void => { w.byte(Op.localGet).u32(l); };
  const set = (l: number): void => { w.byte(Op.localSet).u32(l); };
  const lo = (l: number): void => { get(l); w.byte(Op.i64Const).s64(0xffffffffn); w.byte(Op.i64And); };
  const hi = (l: number): void => { get(l); w.byte(Op.i64Const).s64(32n); w.byte(Op.i64ShrU); };
  lo(0); lo(1); w.byte(Op.i64Mul); set(2);
  lo(0); hi(1); w.byte(Op.i64Mul); set(3);
  hi(0); lo(1); w.byte(Op.i64Mul); set(4);
  hi(0); hi(1); w.byte(Op.i64Mul); set(5);
  // mid = (p00 >> 32) + lo(p01) + lo(p10); result = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32)
  get(5); hi(3); w.byte(Op.i64Add); hi(4); w.byte(Op.i64Add);
  hi(2); lo(3); w.byte(Op.i64Add); lo(4); w.byte(Op.i64Add);
  w.byte(Op.i64Const).s64(32n); w.byte(Op.i64ShrU); w.byte(Op.i64Add);
  return { type, locals: [I64, I64, I64, I64], code: w.result() };
}

function sameBytes(mem: Uint8Array, at: number, code: Uint8Array): boolean {
  for (let i = 0; i < code.length; i++) if (mem[at + i] !== code[i]) return false;
  return true;
}
