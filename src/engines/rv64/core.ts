// Rv64Core: a thin typed wrapper over build/rv64.wasm (assembly/). The contract it wraps is
// docs/CORE-ABI.md. Works in Node and in the browser: the caller passes the wasm bytes or a
// compiled WebAssembly.Module (see loadRv64Module in ./wasm-node.ts for Node).
import { disassemble } from '../../isa/disasm.js';
import { Rv64Jit, type JitCoreExports, type JitOptions, type JitStats } from './jit/jit.js';

/** Why run() returned. */
export enum StopReason {
  /** The instruction budget is used up. */
  Budget = 0,
  /** The hart executes wfi and nothing is pending: sleep ticksUntilTimer() or until an interrupt line rises. */
  Wfi = 1,
  /** A store reached tohost, or the host called requestStop() (e.g. syscon poweroff). */
  HostEvent = 2,
  /** Internal error of the core; see fatalCode(). */
  Fatal = 3,
}

export const RAM_BASE = 0x8000_0000n;
/** mtime frequency (ticks per second), as on QEMU's virt board. */
export const TIMEBASE_HZ = 10_000_000;

/** What the core asks of its host for every physical access that is not RAM or the CLINT. */
export interface Rv64Bus {
  /** Returns the value read. For an unmapped address call core.mmioFault() and return 0n. */
  mmioRead(addr: bigint, size: number): bigint;
  /** For an unmapped address call core.mmioFault(). */
  mmioWrite(addr: bigint, size: number, value: bigint): void;
}

/** The raw exports of rv64.wasm (docs/CORE-ABI.md). */
export interface Rv64Exports {
  memory: WebAssembly.Memory;
  coreVersion(): number;
  init(ramBytes: number): number;
  reset(): void;
  ramOffset(): number;
  ramBytes(): number;
  run(maxInstructions: number): number;
  getPc(): bigint;
  setPc(v: bigint): void;
  getPriv(): number;
  setPriv(p: number): void;
  getReg(i: number): bigint;
  setReg(i: number, v: bigint): void;
  getFReg(i: number): bigint;
  setFReg(i: number, v: bigint): void;
  regsOffset(): number;
  fregsOffset(): number;
  readCsr(csr: number): bigint;
  writeCsr(csr: number, v: bigint): void;
  instret(): bigint;
  steps(): bigint;
  mmioFault(): void;
  requestStop(): void;
  setMeip(level: number): void;
  setSeip(level: number): void;
  setTohost(addr: bigint): void;
  isWaiting(): number;
  fatalCode(): number;
  setTimeMode(mode: number, insnsPerTick: number): void;
  getMtime(): bigint;
  setMtimeValue(v: bigint): void;
  advanceTime(ticks: bigint): void;
  getMtimecmp(): bigint;
  ticksUntilTimer(): bigint;
  dirtyOffset(): number;
  dirtyBytes(): number;
  clearDirty(): void;
  nextNonZeroPage(from: number, to: number): number;
  stateOffset(): number;
  stateSize(): number;
  saveState(): number;
  stateCheck(): number;
  loadState(): number;
  statTlbMisses(): bigint;
  statTlbFlushes(): bigint;
  statExceptions(): bigint;
  statInterrupts(): bigint;
  statChunks(): bigint;
  expand16(h: number): number;
  debugTranslate(va: bigint): bigint;
  table: WebAssembly.Table;
}

export const CORE_ABI_VERSION = 2;

/** A core state block that this core could not have saved (foreign, damaged or hostile). */
export class CoreStateError extends Error {
  override name = 'CoreStateError';
}

/** Names of the state block's field slots (assembly/state.ts F_*), for messages. */
const STATE_FIELD_NAMES = [
  'pc', 'privilege', 'icount', 'mstatus', 'medeleg', 'mideleg', 'mie', 'mip', 'mtvec', 'mepc', 'mcause',
  'mtval', 'mscratch', 'stvec', 'sepc', 'scause', 'stval', 'sscratch', 'satp', 'mcounteren', 'scounteren',
  'menvcfg', 'senvcfg', 'mcountinhibit', 'fcsr', 'cycle base', 'instret base', 'frozen cycle',
  'frozen instret', 'reservation flag', 'reservation address', 'msip', 'mtimecmp', 'mtime', 'time mode',
  'instructions per tick', 'MEIP line', 'SEIP line', 'wfi flag', 'tohost address', 'untaken count',
];

/** The message for a stateCheck()/loadState() code (docs/CORE-ABI.md). */
export function stateBlockProblem(rc: number): string {
  if (rc === 1) return 'state block has a foreign magic or version';
  const n = rc - 0x100;
  const what = n === 100 ? 'x0 (not zero)' : n === 101 ? 'pmpcfg' : n === 102 ? 'pmpaddr' : STATE_FIELD_NAMES[n] ?? `field ${n}`;
  return `state block holds an illegal ${what} (a value this hart cannot have)`;
}

const NO_TIMER = 0xffff_ffff_ffff_ffffn;

export interface Rv64CoreOptions {
  /** Guest RAM in bytes (multiple of 4096). */
  ramBytes: number;
  /** Devices behind the MMIO imports; without one every non-RAM access faults. */
  bus?: Rv64Bus;
  /** Host clock in milliseconds for real-time mtime (default performance.now). */
  now?: () => number;
  /** Deterministic time: mtime = instret / insnsPerTick (reproducible runs). */
  deterministic?: { insnsPerTick: number };
  /**
   * Translate hot guest code into wasm (docs/JIT.md). Default: on, unless the TABVISOR_JIT
   * environment variable is 0 (Node).
   */
  jit?: boolean | JitOptions;
}

/**
 * The JIT setting when the options do not say: on, unless TABVISOR_JIT=0; TABVISOR_JIT_THRESHOLD
 * and TABVISOR_JIT_BATCH set its options (tests use 1 and 1 to compile every block at once),
 * TABVISOR_JIT_COMPILE=sync|async how batches are compiled.
 */
export function jitDefault(): boolean | JitOptions {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  // On unless TABVISOR_JIT=0: 2-3x on sustained guest work (bench/jit.js, docs/JIT.md).
  if (env?.TABVISOR_JIT === '0') return false;
  const o: JitOptions = {};
  if (env?.TABVISOR_JIT_THRESHOLD) o.threshold = Number(env.TABVISOR_JIT_THRESHOLD);
  if (env?.TABVISOR_JIT_BATCH) o.batch = Number(env.TABVISOR_JIT_BATCH);
  if (env?.TABVISOR_JIT_COMPILE === 'sync' || env?.TABVISOR_JIT_COMPILE === 'async') o.compile = env.TABVISOR_JIT_COMPILE;
  return o;
}

/** run() returned so the host can compile queued blocks (only with the JIT on; never seen by callers). */
const STOP_JIT = 4;

export class Rv64Core {
  readonly exports: Rv64Exports;
  private bus: Rv64Bus | undefined;
  private ramView: Uint8Array | undefined;
  /** The JIT, when on. */
  readonly jit: Rv64Jit | undefined;

  private constructor(instance: WebAssembly.Instance, bus: Rv64Bus | undefined, jit: boolean | JitOptions) {
    this.exports = instance.exports as unknown as Rv64Exports;
    this.bus = bus;
    if (jit !== false) this.jit = new Rv64Jit(instance.exports as unknown as JitCoreExports, jit === true ? {} : jit);
  }

  /** Instantiates the core from wasm bytes or a compiled module and initialises RAM. */
  static async create(wasm: BufferSource | WebAssembly.Module | Response | Promise<Response>, opts: Rv64CoreOptions): Promise<Rv64Core> {
    let module: WebAssembly.Module;
    if (wasm instanceof WebAssembly.Module) module = wasm;
    else if (wasm instanceof Promise || (typeof Response !== 'undefined' && wasm instanceof Response)) {
      module = await WebAssembly.compileStreaming(wasm as Response | Promise<Response>); // browser: fetch('rv64.wasm')
    } else module = await WebAssembly.compile(wasm as BufferSource);
    return Rv64Core.fromModule(module, opts);
  }

  /** Synchronous variant for an already compiled module. */
  static fromModule(module: WebAssembly.Module, opts: Rv64CoreOptions): Rv64Core {
    let core: Rv64Core | undefined;
    const now = opts.now ?? (() => performance.now());
    const imports = {
      env: {
        mmioRead: (addr: bigint, size: number): bigint => {
          const bus = core?.bus;
          if (!bus) {
            core?.exports.mmioFault();
            return 0n;
          }
          return BigInt.asUintN(64, bus.mmioRead(addr, size));
        },
        mmioWrite: (addr: bigint, size: number, value: bigint): void => {
          const bus = core?.bus;
          if (!bus) {
            core?.exports.mmioFault();
            return;
          }
          bus.mmioWrite(addr, size, value);
        },
        hostNowMs: now,
        abort: (_msg: number, _file: number, line: number, col: number): never => {
          throw new Error(`rv64 core: internal assertion failed at ${line}:${col}`);
        },
      },
    };
    const instance = new WebAssembly.Instance(module, imports);
    const v = (instance.exports as unknown as Rv64Exports).coreVersion();
    if (v !== CORE_ABI_VERSION) throw new Error(`rv64 core: ABI version ${v}, expected ${CORE_ABI_VERSION} (rebuild with npm run build:core)`);
    core = new Rv64Core(instance, opts.bus, opts.jit ?? jitDefault());
    const rc = core.exports.init(opts.ramBytes);
    if (rc === 2) throw new Error(`rv64 core: invalid RAM size ${opts.ramBytes} (a multiple of 4096, at most 4 GiB - 1 MiB)`);
    if (rc !== 0) throw new Error(`rv64 core: cannot allocate ${opts.ramBytes} bytes of guest RAM`);
    // A new instance's RAM is fresh from memory.grow: every page is untouched until written.
    core.noteRamLoaded(new Uint8Array(core.exports.dirtyBytes()), true);
    if (opts.deterministic) {
      core.exports.setTimeMode(1, opts.deterministic.insnsPerTick);
      core.exports.setMtimeValue(0n); // reproducible from the first instruction
    }
    return core;
  }

  setBus(bus: Rv64Bus | undefined): void {
    this.bus = bus;
  }

  /** Guest RAM (guest physical 0x8000_0000 at index 0). Re-fetch after anything that may grow memory. */
  get ram(): Uint8Array {
    const buf = this.exports.memory.buffer;
    if (!this.ramView || this.ramView.buffer !== buf) {
      this.ramView = new Uint8Array(buf, this.exports.ramOffset(), this.ramBytes);
    }
    return this.ramView;
  }

  /** RAM size; the export is a u32, which JS sees as negative from 2 GiB on. */
  get ramBytes(): number {
    return this.exports.ramBytes() >>> 0;
  }

  /** Copies bytes into guest physical memory; throws if the range is outside RAM. */
  writePhys(addr: bigint, bytes: Uint8Array): void {
    const off = addr - RAM_BASE;
    if (off < 0n || off + BigInt(bytes.length) > BigInt(this.ramBytes)) {
      throw new Error(`rv64 core: 0x${addr.toString(16)}+${bytes.length} is outside RAM`);
    }
    this.ram.set(bytes, Number(off));
    this.hostWrote(Number(off), bytes.length);
    this.jit?.hostWrote(addr, bytes.length);
  }

  readPhys(addr: bigint, length: number): Uint8Array {
    const off = addr - RAM_BASE;
    if (off < 0n || off + BigInt(length) > BigInt(this.ramBytes)) {
      throw new Error(`rv64 core: 0x${addr.toString(16)}+${length} is outside RAM`);
    }
    return this.ram.slice(Number(off), Number(off) + length);
  }

  private ramOffsetOf(addr: bigint, length: number): number {
    const off = addr - RAM_BASE;
    if (off < 0n || off + BigInt(length) > BigInt(this.ramBytes)) {
      throw new Error(`rv64 core: 0x${addr.toString(16)}+${length} is outside RAM`);
    }
    return Number(off);
  }

  readPhys64(addr: bigint): bigint {
    const off = this.ramOffsetOf(addr, 8);
    return new DataView(this.exports.memory.buffer).getBigUint64(this.exports.ramOffset() + off, true);
  }

  writePhys64(addr: bigint, v: bigint): void {
    const off = this.ramOffsetOf(addr, 8);
    new DataView(this.exports.memory.buffer).setBigUint64(this.exports.ramOffset() + off, BigInt.asUintN(64, v), true);
    this.hostWrote(off, 8);
    this.jit?.hostWrote(addr, 8);
  }

  /**
   * Tell the core that the host wrote guest RAM through `ram` (device DMA): compiled code from
   * those bytes is dropped at once. Without this call the JIT still catches up at the guest's
   * next fence.i, which is what a guest must execute before running code a device wrote.
   */
  noteHostWrite(addr: bigint, length: number): void {
    this.jit?.hostWrote(addr, length);
  }

  run(maxInstructions: number): StopReason {
    const jit = this.jit;
    if (!jit) return this.exports.run(maxInstructions >>> 0) as StopReason;
    let left = maxInstructions >>> 0;
    for (;;) {
      const s0 = this.exports.steps();
      const r = this.exports.run(left);
      if (r !== STOP_JIT) {
        jit.afterRun();
        return r as StopReason;
      }
      jit.drain();
      left -= Number(this.exports.steps() - s0);
      if (left <= 0) return StopReason.Budget;
    }
  }

  /** JIT counters (undefined when the JIT is off). */
  jitStats(): JitStats | undefined {
    return this.jit?.stats();
  }

  get pc(): bigint {
    return BigInt.asUintN(64, this.exports.getPc());
  }
  set pc(v: bigint) {
    this.exports.setPc(BigInt.asUintN(64, v));
  }
  get priv(): number {
    return this.exports.getPriv();
  }
  getReg(i: number): bigint {
    return BigInt.asUintN(64, this.exports.getReg(i));
  }
  setReg(i: number, v: bigint): void {
    this.exports.setReg(i, BigInt.asUintN(64, v));
  }
  getFReg(i: number): bigint {
    return BigInt.asUintN(64, this.exports.getFReg(i));
  }
  setFReg(i: number, v: bigint): void {
    this.exports.setFReg(i, BigInt.asUintN(64, v));
  }
  readCsr(csr: number): bigint {
    return BigInt.asUintN(64, this.exports.readCsr(csr));
  }
  writeCsr(csr: number, v: bigint): void {
    this.exports.writeCsr(csr, BigInt.asUintN(64, v));
  }
  /** Instructions retired since reset. */
  get instret(): bigint {
    return this.exports.instret();
  }
  /** Instructions started since reset, including ones that trapped (what run() budgets count). */
  get steps(): bigint {
    return this.exports.steps();
  }

  /** For the bus: makes the MMIO access in progress raise an access fault. */
  mmioFault(): void {
    this.exports.mmioFault();
  }
  /** For the bus: run() returns HostEvent after the current instruction. */
  requestStop(): void {
    this.exports.requestStop();
  }
  setMeip(level: boolean): void {
    this.exports.setMeip(level ? 1 : 0);
  }
  setSeip(level: boolean): void {
    this.exports.setSeip(level ? 1 : 0);
  }
  setTohost(addr: bigint | undefined): void {
    this.exports.setTohost(addr ?? 0n);
  }
  get waiting(): boolean {
    return this.exports.isWaiting() !== 0;
  }

  /** Milliseconds until the timer fires (0 if due), or undefined if no timer is armed. */
  msUntilTimer(): number | undefined {
    const t = BigInt.asUintN(64, this.exports.ticksUntilTimer());
    if (t === NO_TIMER) return undefined;
    return Number(t) / (TIMEBASE_HZ / 1000);
  }
  ticksUntilTimer(): bigint | undefined {
    const t = BigInt.asUintN(64, this.exports.ticksUntilTimer());
    return t === NO_TIMER ? undefined : t;
  }
  advanceTime(ticks: bigint): void {
    this.exports.advanceTime(ticks);
  }
  get mtime(): bigint {
    return BigInt.asUintN(64, this.exports.getMtime());
  }

  /** Bitmap of dirty RAM pages (a view; copy it before clearDirty()). */
  dirtyBitmap(): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, this.exports.dirtyOffset(), this.exports.dirtyBytes());
  }
  clearDirty(): void {
    // A page written since the last clear is no longer untouched (the bitmap is about to forget it).
    const untouched = this.untouched;
    if (untouched) {
      const dirty = this.dirtyBitmap();
      for (let i = 0; i < untouched.length; i++) untouched[i]! &= ~dirty[i]!;
    }
    this.exports.clearDirty();
  }

  /**
   * Pages of RAM known to hold zeros without having been written (fresh wasm pages): bit p set for
   * such a page. A page is "untouched" while its bit is set here and not in the dirty bitmap.
   */
  private untouched: Uint8Array | undefined;

  /**
   * Records that the host wrote the pages set in `written` (a bitmap in dirtyBitmap()'s layout)
   * without marking them dirty (a state's RAM loaded). `fresh`: RAM was untouched before (a new
   * core): every other page is untouched from now on.
   */
  noteRamLoaded(written: Uint8Array, fresh: boolean): void {
    if (fresh) {
      const map = new Uint8Array(this.exports.dirtyBytes());
      for (let i = 0; i < map.length; i++) map[i] = ~(written[i] ?? 0);
      const pages = this.ramBytes / 4096;
      if (pages % 8) map[map.length - 1]! &= (1 << (pages % 8)) - 1;
      this.untouched = map;
    } else if (this.untouched) {
      const map = this.untouched;
      for (let i = 0; i < map.length; i++) map[i]! &= ~(written[i] ?? 0);
    }
  }

  /**
   * RAM bytes [off, off + len) were written by the host without marking them dirty (straight into
   * `ram`: a kernel loaded, pages of a migration or a compaction): no longer untouched.
   */
  noteRamWritten(off: number, len: number): void {
    this.hostWrote(off, len);
  }

  private hostWrote(off: number, len: number): void {
    const map = this.untouched;
    if (!map || len <= 0) return;
    for (let p = off >>> 12; p <= (off + len - 1) >>> 12; p++) map[p >> 3]! &= ~(1 << (p & 7));
  }

  /**
   * Calls `each(at)` for every 4 KiB page of RAM bytes [off, off + len) (page-aligned, in RAM)
   * that holds a non-zero byte, in order. Pages that still hold the zeros they got at init (never
   * written by a loaded state, the guest or a device) are not even read: reading them would make
   * the host fault them in. The rest is scanned in the core (JS that runs a few times a minute is
   * rarely optimised).
   */
  forEachNonZeroPage(off: number, len: number, each: (at: number) => void): void {
    const map = this.untouched;
    const dirty = map ? this.dirtyBitmap() : undefined;
    const isUntouched = (page: number): boolean =>
      map !== undefined && dirty !== undefined && ((map[page >> 3]! & ~dirty[page >> 3]!) & (1 << (page & 7))) !== 0;
    const end = off + len;
    for (let at = off; at < end;) {
      if (isUntouched(at >>> 12)) {
        at = Math.min(end, ((at >>> 12) + 1) * 4096);
        continue;
      }
      let runEnd = Math.min(end, ((at >>> 12) + 1) * 4096);
      while (runEnd < end && !isUntouched(runEnd >>> 12)) runEnd = Math.min(end, runEnd + 4096);
      for (let page = this.exports.nextNonZeroPage(at, runEnd); page < runEnd; page = this.exports.nextNonZeroPage(page + 4096, runEnd)) each(page);
      at = runEnd;
    }
  }

  /**
   * Zeroes RAM bytes [off, off + len) (page-aligned, in RAM), skipping pages that are zero
   * already (forEachNonZeroPage: untouched ones are not even read). A part already all zero needs
   * no write, nor a place among the pages written (pre-copy rounds, incremental snapshots): a
   * guest right after boot reports most of its RAM free. Returns the page ranges it zeroed,
   * [first, end) pairs.
   */
  zeroRam(off: number, len: number): Array<[number, number]> {
    const zeroed: Array<[number, number]> = [];
    const end = off + len;
    this.forEachNonZeroPage(off, len, (page) => {
      const a = Math.max(off, page);
      const b = Math.min(end, page + 4096);
      const last = zeroed[zeroed.length - 1];
      if (last && last[1] === a) last[1] = b;
      else zeroed.push([a, b]);
    });
    const ram = this.ram;
    for (const [a, b] of zeroed) ram.fill(0, a, b);
    return zeroed;
  }

  /** CPU + CSR + CLINT state (not RAM), as a copy. */
  saveState(): Uint8Array {
    const off = this.exports.saveState();
    return new Uint8Array(this.exports.memory.buffer, off, this.exports.stateSize()).slice();
  }
  /**
   * Makes a saved block live. A block this core could not have saved (foreign, or any field the
   * guest could not have set: see stateBlockProblem) throws CoreStateError and leaves the hart
   * exactly as it was (registers included: they live in the block's area).
   */
  loadState(state: Uint8Array): void {
    const size = this.exports.stateSize();
    if (state.length !== size) throw new CoreStateError(`rv64 core: state block is ${state.length} bytes, expected ${size}`);
    const live = new Uint8Array(this.exports.memory.buffer, this.exports.stateOffset(), size);
    const before = live.slice();
    live.set(state);
    const rc = this.exports.loadState();
    if (rc !== 0) {
      live.set(before);
      throw new CoreStateError(`rv64 core: ${stateBlockProblem(rc)}`);
    }
  }

  /** Why the core would refuse `state` (undefined: it would load it); the hart is not changed. */
  checkState(state: Uint8Array): string | undefined {
    const size = this.exports.stateSize();
    if (state.length !== size) return `state block is ${state.length} bytes, expected ${size}`;
    const live = new Uint8Array(this.exports.memory.buffer, this.exports.stateOffset(), size);
    const before = live.slice();
    live.set(state);
    const rc = this.exports.stateCheck();
    live.set(before);
    return rc === 0 ? undefined : stateBlockProblem(rc);
  }

  /** Physical address of `va` as fetch sees it now (no side effects), or undefined if unmapped. */
  debugTranslate(va: bigint): bigint | undefined {
    const pa = BigInt.asUintN(64, this.exports.debugTranslate(BigInt.asUintN(64, va)));
    return pa === NO_TIMER ? undefined : pa;
  }

  /** The instruction at virtual `va` (current translation) disassembled, or undefined if not in RAM. */
  disassembleAt(va: bigint): { text: string; length: 2 | 4 } | undefined {
    const pa = this.debugTranslate(va);
    if (pa === undefined || pa < RAM_BASE || pa + 2n > RAM_BASE + BigInt(this.ramBytes)) return undefined;
    const lo = this.readPhys(pa, 2);
    const h0 = lo[0]! | (lo[1]! << 8);
    let h1 = 0;
    if ((h0 & 3) === 3) {
      const pa2 = (va & 0xfffn) === 0xffen ? this.debugTranslate(va + 2n) : pa + 2n;
      if (pa2 === undefined || pa2 + 2n > RAM_BASE + BigInt(this.ramBytes)) return undefined;
      const hi = this.readPhys(pa2, 2);
      h1 = hi[0]! | (hi[1]! << 8);
    }
    return disassemble(h0, h1, va);
  }

  stats(): { instret: bigint; tlbMisses: bigint; tlbFlushes: bigint; exceptions: bigint; interrupts: bigint; chunks: bigint } {
    const e = this.exports;
    return {
      instret: e.instret(),
      tlbMisses: e.statTlbMisses(),
      tlbFlushes: e.statTlbFlushes(),
      exceptions: e.statExceptions(),
      interrupts: e.statInterrupts(),
      chunks: e.statChunks(),
    };
  }
}
