// Rv64Jit: the host half of the JIT. Between (or, when the core asks, inside) run() slices it
// drains the core's queue of hot block starts, translates each block into a wasm function
// (compiler.ts), emits one module per batch (wasm-writer.ts), instantiates it synchronously
// against the core's memory and helpers, and installs the functions in the core's table.
import { compileBlock, decodeBlock, callsOf, type BlockLayout, type BlockImports } from './compiler.js';
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
  jitInstall(host: number, fn: number, len: number, bytes: number): void;
  jitRefuse(host: number): void;
  jitDrop(host: number, fn: number): void;
  jitVerifyNeeded(): number;
  jitHostWrite(pa: bigint, len: number): void;
  jitInstalled(): void;
  jitLoad(va: bigint, size: number, pc: bigint, ic: bigint): bigint;
  jitStore(va: bigint, size: number, v: bigint, pc: bigint, ic: bigint): void;
  statJitEntries(): bigint;
  statJitInsns(): bigint;
  statJitLookupMisses(): bigint;
  statJitPageInvalidations(): bigint;
  statJitBlocksDropped(): bigint;
  statJitFlushes(): bigint;
  statJitCodePageStores(): bigint;
  statJitCalls(): bigint;
  statJitPageWarmups(): bigint;
}

export interface JitOptions {
  /** Visits of a block start before it is compiled (default 20000: a block costs ~0.2-0.4 ms to compile, so only code that keeps running pays it back; docs/JIT.md). */
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
}

export interface JitStats {
  /** Blocks translated and installed. */
  blocksCompiled: number;
  /** Block starts whose first instruction the JIT cannot translate. */
  blocksRefused: number;
  modules: number;
  /** Size of the emitted modules, and guest instructions translated (over all blocks). */
  wasmBytes: number;
  guestInsns: number;
  /** Host time in drain() (all of it), in WebAssembly.Module + Instance, and in fence.i checks. */
  compileMs: number;
  wasmCompileMs: number;
  verifyMs: number;
  /** Calls of compiled blocks, and the guest instructions they ran. */
  blockRuns: bigint;
  jitInstructions: bigint;
  /** Lookups at a block start that found no compiled block. */
  lookupMisses: bigint;
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
}


export class Rv64Jit {
  private readonly e: JitCoreExports;
  private readonly base: number;
  private next: number;
  private generation: number;
  private readonly maxSlots: number;
  private readonly maxModules: number;
  private modulesAlive = 0;
  private readonly layout: BlockLayout;
  private readonly helpers: Record<string, Function>;
  private readonly st = {
    blocksCompiled: 0, blocksRefused: 0, modules: 0, wasmBytes: 0, guestInsns: 0, compileMs: 0, wasmCompileMs: 0, verifyMs: 0, verifies: 0, verifyDropped: 0,
    endedBy: {} as Record<string, number>,
  };
  /** Installed blocks: host address -> table slot and the guest code bytes it was compiled from. */
  private live = new Map<number, { slot: number; code: Uint8Array }>();
  private runsSinceDrain = 0;
  private readonly batch: number;

  constructor(exports: JitCoreExports, opts: JitOptions = {}) {
    this.e = exports;
    this.base = exports.table.length;
    this.next = this.base;
    this.maxSlots = opts.maxSlots ?? 65536;
    this.maxModules = opts.maxModules ?? 1024;
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
    exports.jitSetup(1, opts.threshold ?? 20000, this.batch);
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
    if (this.next - this.base + n > this.maxSlots || this.modulesAlive >= this.maxModules) {
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
    const tBlock = m.type([I64, I64, I64, I32, I32], [I64]);
    const tCall = m.type([I32, I64, I64], [I64]);
    // Decode first: every core function the batch calls is imported before any function is added.
    const decoded = Array.from(q, (host) => decodeBlock(mem, this.layout, host));
    const callIdx = new Map<string, number>();
    for (const d of decoded) {
      for (const name of callsOf(d)) {
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
    };
    imp.mulhu = m.addFunc(mulhuFunc(tMulhu));
    const installs: Array<{ host: number; len: number; bytes: number }> = [];
    for (let qi = 0; qi < q.length; qi++) {
      const host = q[qi]!;
      const b = compileBlock(mem, this.layout, host, imp, decoded[qi]);
      if (!b) {
        e.jitRefuse(host);
        this.st.blocksRefused++;
        continue;
      }
      const fn = m.addFunc({ type: tBlock, locals: b.locals, code: b.code });
      m.elements.funcs.push(fn);
      installs.push({ host, len: b.length, bytes: b.bytes });
      this.st.guestInsns += b.length;
      this.st.endedBy[b.endedBy] = (this.st.endedBy[b.endedBy] ?? 0) + 1;
    }
    if (installs.length > 0) {
      const bytes = m.bytes();
      this.st.wasmBytes += bytes.length;
      const need = this.next + installs.length;
      // Room for the whole batch up front, with slack so the table grows rarely.
      if (e.table.length < need) e.table.grow(need - e.table.length + 1024);
      const t1 = performance.now();
      // Instantiation writes the functions into the core's table (the element segment).
      new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), { env: { memory: e.memory, table: e.table, ...this.helpers } });
      this.st.wasmCompileMs += performance.now() - t1;
      for (const b of installs) {
        const slot = this.next++;
        e.jitInstall(b.host, slot, b.len, b.bytes);
        this.live.set(b.host, { slot, code: mem.slice(b.host, b.host + b.bytes) });
      }
      this.st.modules++;
      this.modulesAlive++;
      this.st.blocksCompiled += installs.length;
    }
    e.jitInstalled();
    this.st.compileMs += performance.now() - t0;
  }

  /** After a full flush: empty the table slots so the old modules can be collected, reuse them. */
  private forgetAll(): void {
    const t = this.e.table;
    for (let i = this.base; i < this.next; i++) t.set(i, null);
    this.generation = this.e.jitGenerationNow();
    this.next = this.base;
    this.live.clear();
    this.modulesAlive = 0;
  }

  /** fence.i: drops every block whose guest code differs from what it was compiled from. */
  private verify(): void {
    const mem = new Uint8Array(this.e.memory.buffer);
    this.st.verifies++;
    for (const [host, b] of this.live) {
      const c = b.code;
      let same = true;
      for (let i = 0; i < c.length; i++) {
        if (mem[host + i] !== c[i]) { same = false; break; }
      }
      if (!same) {
        this.e.jitDrop(host, b.slot);
        this.live.delete(host);
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
      endedBy: { ...this.st.endedBy },
      blockRuns: e.statJitEntries(),
      jitInstructions: e.statJitInsns(),
      lookupMisses: e.statJitLookupMisses(),
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
