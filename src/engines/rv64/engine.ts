// Rv64Engine: the Engine interface over Rv64Machine (our RV64GC core on the virt board). Works in
// Node and in a Web Worker: the wasm comes through the AssetLoader. The engine owns time: it runs
// the machine in slices for a few milliseconds at a time, gives the thread back between bursts so
// console input and control calls get in, and sleeps while the hart idles in wfi, until its next
// timer deadline or a device interrupt (an idle shell costs the host almost nothing).

import { DISK_KEPT_MESSAGE } from '../disk-kept.js';
import type { AssetLoader, BootConfig, Engine, EngineStats, ExitReason } from '../engine.js';
import { BadStateError, EngineConfigError } from '../create.js';
import { rv64StateMemoryBytes } from '../state-memory.js';
import { CoreStateError } from './core.js';
import { Rv64Machine, MachineConfigError, pageSetValue, type SliceResult } from './machine.js';
import { KERNEL_BASE, RAM_BASE, parseLinuxImage, placeElf, planBootLayout, BootLayoutError } from './boot-layout.js';
import { decodeState, encodeState, StateFormatError, type StateValue } from './state-codec.js';
import { parseElf, ElfError } from './elf.js';
import type * as Trace from './trace.js';
import { copyPages, EMPTY_PAGES, PAGE_BYTES, writePageSet, type LiveStateSource, type LiveStateTarget, type PageSet } from '../live-state.js';
import { RamBase } from './ram-base.js';
import { copyNonZeroPages, type CompactReport } from './compact.js';
import { copyDiskInto, MemoryOverlayDisk, type BlockBackend } from '../../devices/backends/disk.js';
import type { NetBackend } from '../../devices/backends/net.js';
import type { FileShare } from '../../devices/backends/file-share.js';
import type { RandomSource } from '../../devices/virtio/rng.js';
import { compileWasm } from '../wasm-cache.js';

/** Where the core lives, relative to the project root. */
export const RV64_WASM_PATH = 'build/rv64.wasm';

const MiB = 1024 * 1024;
/** Instructions per core.run() call. */
const SLICE = 100_000;
/** Longest stretch of guest code before the engine gives the thread back. */
const BURST_MS = 10;
/** Longest sleep in one go while idle (a guest without any timer still gets looked at). */
const MAX_SLEEP_MS = 1000;
/** The engine's state bytes start with this, then the encoded fields (state-codec.ts). */
const STATE_MAGIC = new TextEncoder().encode('TVRV64\x00\x01');

export interface Rv64EngineOptions {
  /** Host side of a virtio-net NIC (none = no NIC). */
  net?: NetBackend;
  mac?: Uint8Array;
  /** Entropy for virtio-rng, the device tree's rng-seed and the MAC (default crypto). */
  random?: RandomSource;
  mmuType?: 'sv39' | 'sv48';
  /**
   * 'self' (default): start()/resume() run the machine on the engine's own loop. 'external': the
   * caller drives it with runSlice() (the hypervisor's SliceRunner).
   */
  drive?: 'self' | 'external';
  /** Instructions per 10 MHz tick in deterministic mode. */
  insnsPerTick?: number;
  /**
   * Logs `count` instructions one by one from instruction number `from` on (privilege, pc,
   * encoding, disassembly), to compare a boot with QEMU's `-d exec,nochain -singlestep` trace.
   */
  trace?: { from: number; count: number; sink: (line: string) => void };
}

/** What runSlice() did; the same shape as the hypervisor's SliceReport (SliceTarget contract). */
export interface Rv64SliceReport {
  instructions: number;
  /** Present when the hart idles: it sleeps until `wakeAt` (performance.now() ms) or an event. */
  idle?: { wakeAt?: number };
}

/** A machine built from a state while the current one ran (prepareState), waiting to replace it. */
export interface PreparedMachine {
  machine: Rv64Machine;
  netRx: ((frame: Uint8Array) => void) | undefined;
  /** Made from a delta over the base: that base, and the pages the delta held. */
  delta?: { baseId: string; pages: Uint32Array };
}


export class Rv64Engine implements Engine {
  readonly kind = 'rv64' as const;
  private machine: Rv64Machine | undefined;
  private isRunning = false;
  private exited = false;
  private destroyed = false;
  private starting: Promise<void> | undefined;
  private loopDone: Promise<void> | undefined;
  private readonly consoleListeners = new Set<(data: Uint8Array) => void>();
  private readonly exitListeners = new Set<(reason: ExitReason) => void>();
  private readonly wakeListeners = new Set<() => void>();
  private inSlice = false;
  private netConnected = false;
  private netRx: ((frame: Uint8Array) => void) | undefined;
  private pendingNetRx: ((frame: Uint8Array) => void) | undefined;
  private pendingOutput: Uint8Array[] = [];
  private pendingInput: Uint8Array[] = [];
  private instructions = 0;
  private runMs = 0;
  private wakeUp: (() => void) | undefined;
  /** Set when the machine has been woken since it last went idle (input arrived before the sleep). */
  private woken = false;
  /** Guest time when the engine was paused (restored on resume). */
  private pausedMtime: bigint | undefined;
  private tracer: typeof Trace | undefined;
  /** The base of incremental snapshots and resets, and the pages written since (see setBase). */
  /** The delta the next prepareState() is made from (stateFromDelta), so commitState keeps the base. */
  private pendingDelta: { baseId: string; pages: Uint32Array } | undefined;
  private base: { ram: RamBase; machine: Rv64Machine } | undefined;
  /** Instructions logged so far by the trace option. */
  private traced = 0;

  private readonly options: Rv64EngineOptions;

  constructor(
    private readonly config: BootConfig,
    private readonly assets: AssetLoader,
    options: Rv64EngineOptions = {},
  ) {
    checkRv64Config(config);
    // A NIC or share in the BootConfig (the CLI's, a worker's) is the same as one given as an option.
    this.options = {
      ...options,
      ...(config.net && !options.net ? { net: config.net } : {}),
      ...(config.mac && !options.mac ? { mac: parseMac(config.mac) } : {}),
    };
  }

  get running(): boolean {
    return this.isRunning;
  }

  async start(): Promise<void> {
    if (this.starting || this.destroyed) throw new Error('rv64 engine: start() called twice');
    this.starting = this.build();
    await this.starting;
    if (this.destroyed) return;
    for (const data of this.pendingInput.splice(0)) this.machine!.sendSerial(data);
    if ((this.options.drive ?? 'self') === 'self') await this.resume();
    else this.isRunning = true;
  }

  private async build(): Promise<void> {
    if (this.machine) return; // received by a migration (incoming.beginIncoming)
    // The tracer pulls in the disassembler's tables: loaded only when asked for.
    if (this.options.trace) this.tracer = await import('./trace.js');
    const module = await this.compile();
    const c = this.config;
    if (c.state) {
      try {
        this.machine = this.machineFromState(module, c.state);
      } catch (e) {
        throw toBadState(e);
      }
      this.activateNet();
      return;
    }
    try {
      this.machine = new Rv64Machine({
        ...this.machineCommon(module),
        memoryBytes: c.memoryMiB * MiB,
        ...(c.firmware ? { firmware: c.firmware } : {}),
        ...(c.kernel ? { kernel: c.kernel } : {}),
        ...(c.initrd ? { initrd: c.initrd } : {}),
        ...(c.cmdline !== undefined ? { cmdline: c.cmdline } : {}),
        ...(c.disk ? { disk: c.disk } : {}),
        ...(this.options.net ? { net: this.netPort() } : {}),
        ...(this.options.mac ? { mac: this.options.mac } : {}),
        ...(c.share ? { share: c.share } : {}),
        ...(c.deterministic ? { deterministic: true } : {}),
        ...(this.options.insnsPerTick ? { insnsPerTick: this.options.insnsPerTick } : {}),
        ...(this.options.mmuType ? { mmuType: this.options.mmuType } : {}),
      });
      this.activateNet();
    } catch (e) {
      throw toConfigError(e);
    }
  }

  private machineCommon(module: WebAssembly.Module) {
    return {
      module,
      output: (data: Uint8Array) => this.pendingOutput.push(data.slice()),
      onInterrupt: () => this.wake(),
      ...(this.options.random ? { random: this.options.random } : {}),
    };
  }

  /**
   * A new machine holding the state in `bytes`, or an error; the running machine (if any) is not
   * touched either way. The state's RAM size must be this VM's memoryMiB: it is read first, before
   * anything is decoded or allocated, so a state cannot get more memory than the VM was given.
   */
  private machineFromState(module: WebAssembly.Module, bytes: Uint8Array, overRam = false): Rv64Machine {
    const memoryBytes = rv64StateMemoryBytes(bytes);
    const want = this.config.memoryMiB * MiB;
    if (memoryBytes !== want) {
      throw new BadStateError(`the state holds ${memoryBytes / MiB} MiB of RAM but this VM has ${this.config.memoryMiB} MiB`);
    }
    const state = readStateBytes(bytes);
    const saved = Rv64Machine.configFromState(state);
    const disk = Rv64Machine.diskFromState(state);
    const machine = new Rv64Machine({
      ...this.machineCommon(module),
      memoryBytes: saved.memoryBytes,
      mmuType: saved.mmuType,
      deterministic: saved.deterministic,
      insnsPerTick: saved.insnsPerTick,
      ...(disk ? this.diskForRestore(disk) : this.noSavedDisk()),
      // A NIC saved without a back end here comes back with its cable unplugged from any host network.
      ...(saved.net ? { net: this.netPort() } : {}),
      ...(saved.mac ? { mac: saved.mac } : {}),
      ...(saved.share ? { share: this.shareForRestore() } : {}),
      balloon: saved.balloon,
      forRestore: true,
    });
    machine.loadState(state, { overRam });
    return machine;
  }

  /**
   * The disk a restored machine gets: the state's own copy in memory, or this VM's persistent disk
   * holding what the state was saved with (copied onto it, or refused: BootConfig.diskOnRestore).
   */
  private diskForRestore(saved: { base: Uint8Array; overlay: object; generation?: string }): { disk: Uint8Array | BlockBackend; diskOverlay?: object } {
    const persistent = this.config.disk;
    if (!persistent || persistent instanceof Uint8Array || !persistent.generation) return { disk: saved.base, diskOverlay: saved.overlay };
    const now = persistent.generation();
    if (saved.generation !== undefined && now === saved.generation) return { disk: persistent };
    if (this.config.diskOnRestore === 'refuse' && now !== 'base') throw new BadStateError(DISK_KEPT_MESSAGE);
    const copy = new MemoryOverlayDisk(saved.base);
    try {
      copy.loadState(saved.overlay);
      copyDiskInto(persistent, copy);
    } catch (e) {
      throw new BadStateError(`the state's disk does not fit this VM's disk: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { disk: persistent };
  }

  /** A VM with a persistent disk cannot take a state saved without one: its guest would not see the disk. */
  private noSavedDisk(): object {
    const d = this.config.disk;
    if (d && !(d instanceof Uint8Array) && d.generation) throw new BadStateError('the state was saved without a disk, and this VM has one');
    return {};
  }

  /** A state saved with a 9p share needs one to come back to (its guest has the folder mounted). */
  private shareForRestore(): FileShare {
    if (!this.config.share) throw new EngineConfigError('this state has a shared folder (9p): give one to restore it (tabvisor run --share DIR)');
    return this.config.share;
  }

  /**
   * The NIC back end handed to a machine. The host's back end is connected once, to the engine; its
   * frames go to the NIC of the machine that last built or loaded successfully (a state that fails
   * to load does not steal the network from the running machine). Without a host back end a NIC
   * saved in a state comes back unplugged.
   */
  private netPort(): NetBackend {
    const host = this.options.net;
    if (host && !this.netConnected) {
      this.netConnected = true;
      host.connect?.((frame) => this.netRx?.(frame));
    }
    return {
      send: (frame) => host?.send(frame),
      connect: (rx) => {
        this.pendingNetRx = rx;
      },
    };
  }

  private activateNet(): void {
    if (this.pendingNetRx) this.netRx = this.pendingNetRx;
    this.pendingNetRx = undefined;
  }

  private async compile(): Promise<WebAssembly.Module> {
    return compileWasm(this.assets, RV64_WASM_PATH);
  }

  async pause(): Promise<void> {
    if (!this.isRunning) return;
    this.isRunning = false;
    this.wake();
    await this.loopDone;
    // Guest time stands still while paused (as QEMU's virtual clock does), so a resumed guest does
    // not see a jump of its clock or a burst of overdue timers.
    if (this.machine) this.pausedMtime = this.machine.core.mtime;
  }

  async resume(): Promise<void> {
    if (!this.machine || this.isRunning || this.exited || this.destroyed) return;
    if (this.pausedMtime !== undefined) this.machine.core.exports.setMtimeValue(this.pausedMtime);
    this.pausedMtime = undefined;
    this.isRunning = true;
    if ((this.options.drive ?? 'self') === 'self') {
      this.loopDone = this.loop().catch((e: unknown) => {
        this.finish({ kind: 'crash', message: `rv64 engine: ${e instanceof Error ? e.message : String(e)}` });
      });
    }
  }

  async saveState(): Promise<Uint8Array> {
    return this.encodeMachine(undefined);
  }

  private encodeMachine(ram: { pages: PageSet; delta: boolean } | undefined): Uint8Array {
    const machine = this.requireMachine();
    if (this.isRunning) throw new Error('rv64 engine: pause the machine before saving its state');
    return this.stateBytes(machine.saveState(ram));
  }

  /** The engine's state bytes for a machine's saved fields. */
  private stateBytes(fields: { [key: string]: StateValue }): Uint8Array {
    fields.engine = { instructions: this.instructions };
    return framedState(fields);
  }

  async loadState(state: Uint8Array): Promise<void> {
    this.requireMachine();
    if (this.isRunning) throw new Error('rv64 engine: pause the machine before loading a state');
    this.commitState(await this.prepareState(state));
  }

  /**
   * Builds and checks a machine from `state` (core fields, devices, RAM pages) without touching the
   * current one, which may keep running meanwhile: the expensive part of a restore, done before
   * the guest is paused. A state that fails leaves the current machine exactly as it was.
   */
  async prepareState(state: Uint8Array): Promise<PreparedMachine> {
    this.requireMachine();
    const module = await this.compile();
    try {
      return {
        machine: this.machineFromState(module, state),
        netRx: this.pendingNetRx,
        ...(this.pendingDelta ? { delta: this.pendingDelta } : {}),
      };
    } catch (e) {
      throw toBadState(e);
    } finally {
      this.pendingNetRx = undefined; // a prepared machine gets the host's frames only when committed
      this.pendingDelta = undefined;
    }
  }

  /** Replaces the (paused) machine with a prepared one: the cheap part of a restore. */
  commitState(prepared: PreparedMachine): void {
    if (this.isRunning) throw new Error('rv64 engine: pause the machine before loading a state');
    this.machine = prepared.machine;
    // A machine made from a delta over the base keeps that base; what differs is the delta's pages.
    const base = this.base;
    if (prepared.delta && base && base.ram.id === prepared.delta.baseId) {
      base.machine = prepared.machine;
      base.ram.reset(prepared.delta.pages);
    }
    this.pendingNetRx = prepared.netRx;
    this.activateNet();
    this.exited = this.machine.exit !== undefined;
    this.pendingOutput = [];
    this.pausedMtime = this.machine.core.mtime;
  }

  /**
   * Moves the running machine into a new core whose RAM holds only the non-zero pages (compact.ts):
   * pages the guest gave back stop costing host memory once the old core is collected. The guest
   * runs while the pages are copied (`yieldToGuest` between steps) and stands still only for the
   * pages written meanwhile and the core and device state (`pause` .. `resume`, the caller's, so its
   * schedule knows). A failure before the swap leaves the machine as it was.
   */
  async compact(ctl: { pause(): Promise<void>; resume(): Promise<void>; yieldToGuest(): Promise<void> }): Promise<CompactReport & { pauseMs: number }> {
    const old = this.requireMachine();
    const d = this.config.disk;
    if (old.disk && !(d && !(d instanceof Uint8Array) && d.generation)) {
      // A disk that lives in the machine (no persistent store) would be copied, and writes during the copy lost.
      throw new EngineConfigError('this machine\'s disk lives in its memory state; only machines without a disk or with a persistent disk give memory back');
    }
    const live = this.liveState()!;
    // Core and devices as they are now: only to build the new machine; the pause loads them again.
    const frame = this.stateBytes(old.saveState({ pages: EMPTY_PAGES, delta: true }));
    const module = await this.compile();
    let next: Rv64Machine;
    try {
      next = this.machineFromState(module, frame, true);
    } catch (e) {
      this.pendingNetRx = undefined;
      throw toBadState(e);
    }
    const netRx = this.pendingNetRx;
    this.pendingNetRx = undefined;
    const job = await copyNonZeroPages(old, next, live, ctl.yieldToGuest);
    if (this.machine !== old) throw new Error('rv64 engine: the machine was replaced while memory was being given back');
    await ctl.pause();
    const t0 = performance.now();
    try {
      const report = job.finish((pages) => next.loadState(readStateBytes(this.encodeMachine({ pages, delta: true })), { overRam: true }));
      this.flushOutput();
      const base = this.base;
      this.commitState({ machine: next, netRx });
      if (base?.machine === old) base.machine = next; // same RAM: the pages written since the base still are
      return { ...report, pauseMs: performance.now() - t0 };
    } finally {
      await ctl.resume();
    }
  }

  /** RAM, dirty pages and page-set states for live snapshots and pre-copy migration. */
  liveState(): LiveStateSource | undefined {
    const machine = this.machine;
    if (!machine) return undefined;
    const core = machine.core;
    return {
      ramBytes: machine.memoryBytes,
      ram: () => core.ram,
      takeDirty: () => {
        const bitmap = core.dirtyBitmap().slice();
        core.clearDirty();
        // Pages written since the base are remembered across every look (incremental snapshots).
        this.base?.ram.noteDirty(bitmap);
        return bitmap;
      },
      stateWithPages: (pages, delta) => {
        if (this.machine !== machine) throw new Error('rv64 engine: the machine was replaced during a live save');
        return this.encodeMachine({ pages, delta });
      },
    };
  }

  // --- incremental snapshots and resets to a base (ram-base.ts) ----------------------------

  /**
   * Makes `state` (whose RAM equals the machine's RAM as of the last look at the dirty pages)
   * the base that incremental snapshots and resets are measured from, known as `id`.
   */
  setBase(id: string, state: Uint8Array): void {
    const machine = this.requireMachine();
    const base = new RamBase(id, readStateBytes(state) as { [key: string]: StateValue }, machine.core.dirtyBitmap().length);
    this.base = { ram: base, machine };
  }

  /** The base's id, when this machine has one (it was saved whole, or made from a file). */
  get baseId(): string | undefined {
    return this.base?.machine === this.machine ? this.base?.ram.id : undefined;
  }

  /** Pages written since the base (taking the dirty pages now). */
  private pagesSinceBase(): Uint32Array {
    const live = this.liveState()!;
    live.takeDirty();
    return this.base!.ram.written(Math.floor(live.ramBytes / PAGE_BYTES));
  }

  /** The machine (paused) as a delta over its base: only the pages written since. */
  incrementalState(): Uint8Array {
    if (!this.baseId) throw new Error('rv64 engine: this machine has no base to be incremental over (save it whole first)');
    const pages = this.pagesSinceBase();
    return this.encodeMachine({ pages: copyPages(this.requireMachine().core.ram, pages), delta: true });
  }

  /**
   * Puts the (paused) machine back to its base in place, rewriting only the pages written since
   * (a lab reset costs what the student changed, not the VM's size). Returns how many.
   */
  resetToBase(): number {
    if (!this.baseId) throw new Error('rv64 engine: this machine has no base to reset to');
    const base = this.base!.ram;
    const pages = this.pagesSinceBase();
    const machine = this.requireMachine();
    try {
      machine.loadState({ ...base.state, ram: pageSetValue(base.basePages(pages)), ramDelta: true }, { overRam: true });
    } catch (e) {
      throw toBadState(e);
    }
    base.reset();
    this.exited = machine.exit !== undefined;
    this.pendingOutput = [];
    this.pausedMtime = machine.core.mtime;
    return pages.length;
  }

  /** A whole state from a delta over this machine's base (for prepareState); refuses a delta of another base. */
  stateFromDelta(delta: Uint8Array, baseId: string): Uint8Array {
    if (this.baseId !== baseId) {
      throw new BadStateError(`the incremental snapshot is over base ${baseId.slice(0, 12)}, but this machine's base is ${this.baseId?.slice(0, 12) ?? 'none'}`);
    }
    let d: { [key: string]: StateValue };
    try {
      d = readStateBytes(delta) as { [key: string]: StateValue };
    } catch (e) {
      throw toBadState(e);
    }
    if (d.ramDelta !== true) throw new BadStateError('the incremental snapshot\'s machine state is not a delta');
    const r = d.ram as { index?: unknown; data?: unknown; pageSize?: unknown };
    if (!r || !(r.index instanceof Uint8Array) || !(r.data instanceof Uint8Array) || r.pageSize !== PAGE_BYTES || r.index.length % 4 !== 0 ||
        r.data.length !== (r.index.length / 4) * PAGE_BYTES) {
      throw new BadStateError('the incremental snapshot\'s pages are malformed');
    }
    const indices = new Uint32Array(r.index.length / 4);
    const dv = new DataView(r.index.buffer, r.index.byteOffset, r.index.byteLength);
    for (let i = 0; i < indices.length; i++) indices[i] = dv.getUint32(i * 4, true);
    let whole: PageSet;
    try {
      whole = this.base!.ram.withDelta(this.requireMachine().memoryBytes, { indices, data: r.data });
    } catch (e) {
      throw new BadStateError(`the incremental snapshot's pages do not fit this machine: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.pendingDelta = { baseId, pages: indices };
    const fields: { [key: string]: StateValue } = { ...d, ram: pageSetValue(whole) };
    delete fields.ramDelta;
    return framedState(fields);
  }

  replaceRam(frozen: Uint8Array, pages: PageSet): Uint8Array {
    const fields = readStateBytes(frozen) as { [key: string]: StateValue };
    fields.ram = pageSetValue(pages);
    delete fields.ramDelta;
    return framedState(fields);
  }

  /** The receiving side of a pre-copy migration: a machine built first, its RAM written round by round. */
  readonly incoming: LiveStateTarget = {
    beginIncoming: async (state) => {
      if (this.machine || this.starting) throw new Error('rv64 engine: a migration can only arrive in a new engine');
      const module = await this.compile();
      try {
        this.machine = this.machineFromState(module, state, true);
      } catch (e) {
        this.pendingNetRx = undefined;
        throw toBadState(e);
      }
    },
    writePages: (pages) => {
      const machine = this.requireMachine();
      if (this.isRunning || this.starting) throw new Error('rv64 engine: pages arrive only before the machine starts');
      writePageSet(machine.core.ram, pages);
      for (const p of pages.indices) machine.core.noteRamWritten(p * PAGE_BYTES, PAGE_BYTES);
    },
    finishIncoming: async (state) => {
      const machine = this.requireMachine();
      if (this.isRunning || this.starting) throw new Error('rv64 engine: the final state arrives only before the machine starts');
      try {
        machine.loadState(readStateBytes(state), { overRam: true });
      } catch (e) {
        throw toBadState(e);
      }
      this.activateNet();
    },
  };

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.isRunning = false;
    this.wake();
    await this.loopDone;
    this.flushOutput();
    this.machine = undefined;
    this.consoleListeners.clear();
    this.exitListeners.clear();
    this.pendingInput = [];
  }

  /** True once the console sendConsole() types on can take input: ttyS0 opened, or hvc0's driver up. */
  consoleReceiving(): boolean {
    const m = this.machine;
    if (!m) return false;
    const route = this.consoleRoute();
    if (route === undefined) return m.devices.uart.receiverEnabled || m.hvc.receiving;
    return route === 'hvc0' ? m.hvc.receiving : m.devices.uart.receiverEnabled;
  }

  /** Bytes typed that the guest has not read yet from its console device. */
  consoleInputWaiting(): number {
    const m = this.machine;
    if (!m) return this.pendingInput.reduce((n, b) => n + b.length, 0);
    return this.consoleIsHvc(m) ? m.hvc.inputWaiting : m.devices.uart.inputWaiting;
  }

  /**
   * Console input goes to the guest's system console: hvc0 when the kernel command line's last
   * console= is hvc0, else ttyS0 (also the device tree's stdout-path). For a restored state,
   * whose command line is unknown, to hvc0 only when ttyS0 is not open and hvc0 is.
   */
  sendConsole(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data.slice();
    if (bytes.length === 0 || this.destroyed) return;
    const m = this.machine;
    if (!m) this.pendingInput.push(bytes);
    else if (this.consoleIsHvc(m)) m.sendHvc(bytes);
    else m.sendSerial(bytes);
    this.wake();
  }

  private consoleIsHvc(m: Rv64Machine): boolean {
    const route = this.consoleRoute();
    if (route !== undefined) return route === 'hvc0';
    return !m.devices.uart.receiverEnabled && m.hvc.receiving;
  }

  /** The guest's system console when the boot configuration says; undefined for a restored state. */
  private consoleRoute(): 'ttyS0' | 'hvc0' | undefined {
    const named = systemConsole(this.config.cmdline);
    if (named !== undefined) return named.startsWith('hvc') ? 'hvc0' : 'ttyS0';
    return this.config.state ? undefined : 'ttyS0';
  }

  /** Bytes typed on the virtio console (hvc0); its output joins the main console stream. */
  sendVirtioConsole(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data.slice();
    if (bytes.length === 0 || !this.machine) return;
    this.machine.sendHvc(bytes);
    this.wake();
  }

  onConsole(listener: (data: Uint8Array) => void): () => void {
    this.consoleListeners.add(listener);
    return () => this.consoleListeners.delete(listener);
  }

  /**
   * Called when something outside the guest (console input, a network frame, a device) raises an
   * interrupt line: a host that drives runSlice() itself should run this VM again soon, even if its
   * last slice reported it idle.
   */
  onWake(listener: () => void): () => void {
    this.wakeListeners.add(listener);
    return () => this.wakeListeners.delete(listener);
  }

  onExit(listener: (reason: ExitReason) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  stats(): EngineStats {
    const balloon = this.machine?.balloon?.stats;
    const jit = this.machine?.core.jitStats();
    return {
      instructions: this.instructions,
      runMs: this.runMs,
      memoryBytes: this.machine?.memoryBytes ?? this.config.memoryMiB * MiB,
      ...(balloon ? { balloonBytes: balloon.actualPages * 4096, balloonTargetBytes: balloon.targetPages * 4096, freedReportedBytes: balloon.reportedBytes } : {}),
      ...(jit ? { jit: { codeBytes: jit.liveWasmBytes, modules: jit.liveModules, regions: jit.regions, instructions: Number(jit.jitInstructions) } } : {}),
    };
  }

  /** Asks the guest's balloon driver to hold `bytes` of its RAM (0 gives it all back). */
  setBalloon(bytes: number): void {
    const balloon = this.requireMachine().balloon;
    if (!balloon) throw new EngineConfigError('this machine has no balloon device (it was saved by an older build)');
    balloon.setTarget(Math.floor(bytes / 4096));
    this.wake();
  }

  /** The disk as the guest left it (base image with the guest's writes), for --disk-write-back. */
  async exportDisk(): Promise<Uint8Array> {
    const disk = this.requireMachine().exportDisk();
    if (!disk) throw new Error('rv64 engine: this machine has no disk');
    return disk;
  }

  /** The machine, for tests and tools (tracing, counters). */
  get board(): Rv64Machine | undefined {
    return this.machine;
  }

  /**
   * Runs at most `budget` instructions now (drive 'external'). Idle time is reported with the
   * performance.now() time of the next timer; deterministic machines skip idle time instead.
   */
  runSlice(budget: number): Rv64SliceReport {
    const machine = this.machine;
    if (!machine || this.exited || !this.isRunning) return { instructions: 0, idle: {} };
    const t0 = performance.now();
    const r = this.slice(machine, budget);
    this.account(r, performance.now() - t0);
    this.flushOutput();
    if (r.exit) {
      this.finish(r.exit);
      return { instructions: r.instructions, idle: {} };
    }
    if (r.idle) {
      if (machine.deterministic && machine.skipIdleTime()) return { instructions: r.instructions };
      const ms = r.idle.msUntilTimer;
      return { instructions: r.instructions, idle: ms === undefined ? {} : { wakeAt: performance.now() + ms } };
    }
    return { instructions: r.instructions };
  }

  // --- the engine's own loop --------------------------------------------------------------------

  /** One slice of at most `budget` instructions, single-stepped with logging inside the trace window. */
  private slice(machine: Rv64Machine, budget: number): SliceResult {
    this.inSlice = true;
    try {
      return this.sliceInner(machine, budget);
    } finally {
      this.inSlice = false;
    }
  }

  private sliceInner(machine: Rv64Machine, budget: number): SliceResult {
    const t = this.options.trace;
    if (t === undefined || this.traced >= t.count) return machine.runSlice(budget);
    const at = this.instructions;
    if (at < t.from) return machine.runSlice(Math.min(budget, t.from - at));
    const core = machine.core;
    const f = this.tracer!.fetchAtPc(core);
    t.sink(this.tracer!.formatTraceLine({ step: core.steps, priv: core.priv, pc: core.pc, insn: f?.insn, text: f?.text ?? '(pc not in RAM)' }));
    this.traced++;
    return machine.runSlice(1);
  }

  private async loop(): Promise<void> {
    const machine = this.machine!;
    while (this.isRunning && !this.exited && this.machine === machine) {
      const t0 = performance.now();
      let idle: SliceResult['idle'];
      let exit: SliceResult['exit'];
      for (;;) {
        const r = this.slice(machine, SLICE);
        this.instructions += r.instructions;
        if (r.exit) {
          exit = r.exit;
          break;
        }
        if (r.idle) {
          if (machine.deterministic && machine.skipIdleTime()) {
            if (performance.now() - t0 >= BURST_MS) break;
            continue;
          }
          idle = r.idle;
          break;
        }
        if (performance.now() - t0 >= BURST_MS) break;
      }
      this.runMs += performance.now() - t0;
      this.flushOutput();
      if (exit) {
        this.finish(exit);
        return;
      }
      if (idle) await this.sleep(idle.msUntilTimer);
      else await yieldToEventLoop();
    }
  }

  private account(r: SliceResult, ms: number): void {
    this.instructions += r.instructions;
    this.runMs += ms;
  }

  /** Sleeps until `ms` passed (undefined: only an event can end it) or wake() is called. */
  private sleep(ms: number | undefined): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return yieldToEventLoop();
    }
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.wakeUp = undefined;
        this.woken = false;
        resolve();
      };
      this.wakeUp = done;
      const wait = Math.min(ms ?? MAX_SLEEP_MS, MAX_SLEEP_MS);
      timer = setTimeout(done, Math.max(0, Math.ceil(wait)));
    });
  }

  private wake(): void {
    if (!this.inSlice) for (const listener of [...this.wakeListeners]) listener();
    const w = this.wakeUp;
    if (w) w();
    else this.woken = true;
  }

  private finish(reason: ExitReason): void {
    if (this.exited) return;
    this.exited = true;
    this.isRunning = false;
    this.flushOutput();
    // Delivered after the current call returns, like console output, so listeners see a settled engine.
    queueMicrotask(() => {
      for (const listener of [...this.exitListeners]) listener(reason);
    });
  }

  private flushOutput(): void {
    if (this.pendingOutput.length === 0) return;
    const chunks = this.pendingOutput;
    this.pendingOutput = [];
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      data.set(c, off);
      off += c.length;
    }
    for (const listener of [...this.consoleListeners]) listener(data);
  }

  private requireMachine(): Rv64Machine {
    if (!this.machine) throw new Error('rv64 engine: not started');
    return this.machine;
  }
}

/** Rejects configurations the rv64 board cannot boot, with a message that names the fix. */
export function checkRv64Config(config: BootConfig): void {
  const mem = config.memoryMiB;
  if (!Number.isInteger(mem) || mem < 16 || mem > 2048) {
    throw new EngineConfigError(`rv64 memory must be a whole number of MiB between 16 and 2048 (got ${mem})`);
  }
  if (config.state) {
    if (!hasMagic(config.state)) throw new EngineConfigError('the saved state is not an rv64 machine state');
    return;
  }
  const kernel = config.kernel;
  if (!kernel || kernel.length === 0) throw new EngineConfigError('rv64 needs a kernel (a RISC-V Linux Image, or an ELF program)');
  const image = parseLinuxImage(kernel);
  let kernelStart = KERNEL_BASE;
  let kernelBytes = kernel.length;
  if (image) {
    if (!config.firmware) throw new EngineConfigError('a RISC-V Linux Image needs firmware to boot (--firmware fw_jump.bin, OpenSBI)');
    kernelBytes = Math.max(kernel.length, image.imageSize);
  } else {
    try {
      const elf = placeElf(parseElf(kernel));
      kernelStart = Math.min(...elf.segments.map((s) => Number(s.paddr)));
      kernelBytes = Math.max(...elf.segments.map((s) => Number(s.paddr) + s.memSize)) - kernelStart;
    } catch (e) {
      const why = e instanceof ElfError ? e.message : String(e);
      throw new EngineConfigError(`the kernel is neither a RISC-V Linux Image nor a RISC-V ELF program (${why})`);
    }
  }
  if (config.firmware && (config.firmware.length === 0 || config.firmware.length > KERNEL_BASE - RAM_BASE)) {
    throw new EngineConfigError(`the firmware has an unusable size (${config.firmware.length} bytes; at most 2 MiB below the kernel)`);
  }
  try {
    planBootLayout({
      memoryBytes: mem * MiB,
      ...(config.firmware ? { firmwareBytes: config.firmware.length } : {}),
      kernelStart,
      kernelBytes,
      ...(config.initrd ? { initrdBytes: config.initrd.length } : {}),
      dtbBytes: 8192 + (config.cmdline?.length ?? 0),
      fwJumpFdtCopy: config.firmware !== undefined,
    });
  } catch (e) {
    if (e instanceof BootLayoutError) throw new EngineConfigError(e.message);
    throw e;
  }
}

function hasMagic(bytes: Uint8Array): boolean {
  return bytes.length >= STATE_MAGIC.length && STATE_MAGIC.every((b, i) => bytes[i] === b);
}

/** The engine's state bytes: the magic, then the encoded fields. */
function framedState(fields: { [key: string]: StateValue }): Uint8Array {
  const body = encodeState(fields);
  const out = new Uint8Array(STATE_MAGIC.length + body.length);
  out.set(STATE_MAGIC, 0);
  out.set(body, STATE_MAGIC.length);
  return out;
}

/**
 * The generation of the persistent disk a state was saved with (overlay-disk.ts), or undefined
 * when it has no disk or an in-memory one. Throws StateFormatError on a state that is not rv64's.
 */
export function rv64StateDiskGeneration(bytes: Uint8Array): string | undefined {
  const s = readStateBytes(bytes) as { disk?: { generation?: unknown } | null } | null;
  const g = s?.disk?.generation;
  return typeof g === 'string' ? g : undefined;
}

function readStateBytes(bytes: Uint8Array): StateValue {
  if (!hasMagic(bytes)) throw new StateFormatError('the saved state is not an rv64 machine state');
  return decodeState(bytes.subarray(STATE_MAGIC.length));
}

/** Any failure to build a machine from a state: the state is bad (the old machine is untouched). */
function toBadState(e: unknown): BadStateError {
  if (e instanceof BadStateError) return e;
  if (e instanceof MachineConfigError || e instanceof StateFormatError || e instanceof CoreStateError || e instanceof EngineConfigError) {
    return new BadStateError(e.message);
  }
  if (e instanceof RangeError && /memory|allocat|array buffer/i.test(e.message)) {
    return new BadStateError(`the host cannot allocate the state's memory (${e.message})`);
  }
  return new BadStateError(`the state does not load: ${e instanceof Error ? e.message : String(e)}`);
}

function toConfigError(e: unknown): unknown {
  if (e instanceof MachineConfigError || e instanceof StateFormatError) return new EngineConfigError(e.message);
  return e;
}

/** Gives the thread back for one turn of the event loop (setImmediate in Node, a MessageChannel in a worker). */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r();
    };
    ch.port2.postMessage(null);
  });
}

/** The device of the last console= on a kernel command line (Linux's /dev/console), if any. */
export function systemConsole(cmdline: string | undefined): string | undefined {
  let name: string | undefined;
  for (const word of (cmdline ?? '').split(/\s+/)) {
    if (word.startsWith('console=')) name = word.slice('console='.length).split(',')[0];
  }
  return name;
}

/** '52:54:00:12:34:56' -> 6 bytes (the configuration was checked: a bad MAC is a config error). */
function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new EngineConfigError(`bad MAC address '${text}'`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
