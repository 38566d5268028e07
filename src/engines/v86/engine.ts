// x86 guests through the v86 npm package (its ESM build). Works in Node and in a browser Web
// Worker: every file, the wasm included, comes through the AssetLoader, so v86 never touches
// fs or XHR itself.

import { DISK_KEPT_MESSAGE } from '../disk-kept.js';
import type { V86, V86Options } from 'v86';
import { MAX_MSIZE, P9Server } from '../../devices/p9/server.js';
import type {
  AssetLoader, BootConfig, Engine, EngineStats, ExitReason,
} from '../engine.js';
import { BadStateError, EngineConfigError } from '../create.js';
import { v86ShapeMismatch, v86StateInfo } from '../state-memory.js';
import { Ne2kPacer, type Ne2kRing } from './ne2k-pacer.js';
import { PanicWatch } from './panic-watch.js';
import { p9StateOf, v86StateHas9p, withP9State } from './p9-state.js';
import { memoryMismatch, panicReason, V86Messages } from './v86-console.js';
import { compileWasm } from '../wasm-cache.js';
import { attachV86Disk, diskBackend, placeholderDisk } from './v86-disk.js';
import { joinV86State, splitV86State, type SplitV86State } from './v86-disk-state.js';
import { copyDiskInto, MemoryOverlayDisk, type BlockBackend } from '../../devices/backends/disk.js';

/** Where v86's wasm lives, relative to the project root. */
export const V86_WASM_PATH = 'node_modules/v86/build/v86.wasm';

const MiB = 1024 * 1024;
/** v86 copies the initrd to this guest-physical address; RAM must extend beyond its end. */
const V86_INITRD_ADDRESS = 64 * MiB;
/** Instruction counter sampling period: v86's counter is 32 bits and wraps within seconds. */
const COUNTER_SAMPLE_MS = 500;
const MAX_MEMORY_MIB = 2048;
/**
 * After the end line of a kernel panic, the guest must run this many instructions without printing
 * anything more before the run counts as a crash: a shell that merely echoed the words prints its
 * prompt long before, while a panicked kernel spins in mdelay() forever.
 */
const PANIC_CONFIRM_INSTRUCTIONS = 20_000_000;
const DESTROY_WAIT_MS = 2000;

export interface V86EngineOptions {
  /** Instantiates v86's wasm; defaults to compiling V86_WASM_PATH loaded through the AssetLoader. */
  wasmFn?: (imports: WebAssembly.Imports) => Promise<WebAssembly.Exports>;
}

/**
 * The few v86 internals the engine hooks: the tick (to catch emulator crashes), reboots, the
 * state calls (to keep v86's console noise away from the user) and COM1's interrupt enable register.
 */
interface V86Internals {
  v86?: {
    do_tick?: () => void;
    /** Schedules the next tick in `t` ms (0: at once); v86 picks setImmediate, setTimeout or a helper worker. */
    yield?: (t: number, tick: number) => void;
    running?: boolean;
    stopping?: boolean;
    bus?: { send(event: string, data?: unknown): void };
    save_state?: () => unknown;
    restore_state?: (state: unknown) => unknown;
    cpu?: {
      reboot_internal?: () => void;
      devices?: { uart0?: { ier?: number; input?: unknown[] }; net?: Ne2kRing };
      /** Zeroes guest RAM (a wasm export v86 keeps on the CPU object; its restore clears all RAM with it). */
      zero_memory?: (addr: number, length: number) => void;
      memory_size?: Uint32Array;
    };
  };
}

/** 16550 IER bit 0: the driver wants receive interrupts, i.e. it opened the port (Linux 8250 startup). */
const UART_IER_RDI = 0x01;

type V86Module = { V86: new (options: V86Options) => V86 };


export class V86Engine implements Engine {
  readonly kind = 'v86' as const;
  private emulator: V86 | undefined;
  private isRunning = false;
  private exited = false;
  private destroyed = false;
  private readonly consoleListeners = new Set<(data: Uint8Array) => void>();
  private readonly exitListeners = new Set<(reason: ExitReason) => void>();
  private pendingOutput: number[] = [];
  private flushScheduled = false;
  private pendingInput: Uint8Array[] = [];
  // Instructions: v86 exposes a wrapping u32; we accumulate deltas.
  private instructions = 0;
  private lastCounter = 0;
  private counterTimer: ReturnType<typeof setInterval> | undefined;
  private runMs = 0;
  private runningSince = 0;
  /** What v86 printed on the console during our calls into it (kept off the user's terminal). */
  private readonly v86Messages = new V86Messages();
  private readonly panicWatch = new PanicWatch();
  /** The IDE hard disk (v86-disk.ts), when the machine has one. */
  private disk: BlockBackend | undefined;
  /** A panic end line was printed; confirmed by silence (PANIC_CONFIRM_INSTRUCTIONS). */
  private panicSeen: { reason: string; instructions: number } | undefined;
  /** The 9p server behind v86's virtio-9p (tag host9p), when the machine has a share. */
  private p9: P9Server | undefined;
  /** Frames for the NE2000, held until its receive ring has room (ne2k-pacer.ts). */
  private netPacer: Ne2kPacer | undefined;

  constructor(
    private readonly config: BootConfig,
    private readonly assets: AssetLoader,
    private readonly options: V86EngineOptions = {},
  ) {
    checkV86Config(config);
  }

  get running(): boolean {
    return this.isRunning;
  }

  async start(): Promise<void> {
    if (this.emulator || this.destroyed) throw new Error('v86 engine: start() called twice');
    if (this.config.state) this.checkState(this.config.state);
    const [{ V86: V86Class }, wasmFn] = await Promise.all([
      import('v86') as Promise<unknown> as Promise<V86Module>,
      this.wasmInstantiator(),
    ]);
    const c = this.config;
    const options: V86Options = {
      wasm_fn: wasmFn,
      memory_size: c.memoryMiB * MiB,
      autostart: false,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
      serial_console: { type: 'none' },
      // ACPI and the local APIC only for images that ask (ImageEntry.acpi: their kernel has no
      // ACPI support but ticks on the APIC timer); a saved state brings its machine's. A kernel
      // with ACPI would power off through it, which v86 ignores; without, Linux's poweroff ends
      // in cli+hlt, which v86 reports as "cpu-event-halt" (see onHalt).
      acpi: c.state ? v86StateHasAcpi(splitState(c.state).v86) : c.acpi === true,
      // A restored NE2000 keeps the MAC its guest programmed (v86 otherwise gives the card a new
      // random one and its receive filter drops every frame sent to the guest's address).
      preserve_mac_from_state_image: true,
    };
    // A restored machine gets the 9p device exactly when its state has one (v86 restores a
    // device only into a machine that has it); a booted one when a share is given.
    const has9p = c.state ? v86StateHas9p(splitState(c.state).v86) : c.share !== undefined;
    if (has9p) {
      if (!c.share) throw new EngineConfigError('this state has a shared folder (9p): give one to restore it (tabvisor run --share DIR)');
      // v86's virtio-9p (mount tag host9p) served by our 9p server over the same FileShare.
      const server = new P9Server(c.share);
      this.p9 = server;
      options.filesystem = { handle9p: (request, reply) => reply(server.handle(request, MAX_MSIZE)) };
    }
    if (!c.state) {
      options.bios = { buffer: exactBuffer(c.firmware!) };
      if (c.vgaBios) options.vga_bios = { buffer: exactBuffer(c.vgaBios) };
      options.bzimage = { buffer: exactBuffer(c.kernel!) };
      if (c.initrd) options.initrd = { buffer: exactBuffer(c.initrd) };
      options.cmdline = c.cmdline ?? '';
    }
    // The disk: this VM's, else the one a saved state carries (in memory).
    const savedDisk = c.state ? splitState(c.state).disk : undefined;
    const disk = c.disk ? diskBackend(c.disk) : savedDisk ? new MemoryOverlayDisk(savedDisk.bytes.slice(), { serial: 'tabvisor-sda' }) : undefined;
    // The IDE drive exists from the start; its real contents are attached below (v86-disk.ts).
    if (disk) options.hda = placeholderDisk();
    const emulator = new V86Class(options);
    this.emulator = emulator;
    // Listeners go on right away: v86 starts emitting as soon as it is initialised.
    emulator.add_listener('serial0-output-byte', (byte: number) => this.onSerialByte(byte));
    const bus = emulator as unknown as { add_listener(event: string, fn: () => void): void };
    bus.add_listener('cpu-event-halt', () => this.onHalt());
    // The ne2k card v86 always has: its frames go to the NetBackend, and the backend's to it.
    const net = c.net;
    if (net) {
      (emulator as unknown as { add_listener(event: string, fn: (frame: Uint8Array) => void): void })
        // v86 hands over a view into the card's transmit buffer, which its next transmits reuse.
        .add_listener('net0-send', (frame) => net.send(frame.slice()));
      const v86Bus = (emulator as unknown as { bus: { send(event: string, data: Uint8Array): void } }).bus;
      const pacer = new Ne2kPacer(
        () => (emulator as unknown as V86Internals).v86?.cpu?.devices?.net,
        (frame) => v86Bus.send('net0-receive', frame),
      );
      this.netPacer = pacer;
      net.connect?.((frame) => pacer.push(frame));
    }
    await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
    if (this.destroyed) return;
    this.hookInternals(emulator);
    if (disk) {
      this.disk = disk;
      attachV86Disk(emulator, disk, (err) => {
        this.finish({ kind: 'crash', message: `the disk failed: ${err instanceof Error ? err.message : String(err)}` });
      });
    }
    if (c.state) await this.restoreInto(emulator, c.state, { freshMemory: true });
    this.lastCounter = emulator.get_instruction_counter();
    await this.resume();
  }

  async pause(): Promise<void> {
    const emulator = this.emulator;
    if (!emulator || !this.isRunning) return;
    this.isRunning = false;
    // Count the run time before waiting for the stop: stats() read meanwhile must not lose it.
    const asked = now();
    this.runMs += asked - this.runningSince;
    await emulator.stop();
    this.sampleCounter();
    this.runMs += now() - asked;
    this.stopSampling();
  }

  async resume(): Promise<void> {
    const emulator = this.emulator;
    if (!emulator || this.isRunning || this.exited || this.destroyed) return;
    this.isRunning = true;
    this.runningSince = now();
    this.startSampling();
    await emulator.run();
    // Input typed while paused (or before start) reaches the guest now, in order.
    for (const data of this.pendingInput.splice(0)) emulator.serial_send_bytes(0, data);
  }

  async saveState(): Promise<Uint8Array> {
    const emulator = this.requireEmulator();
    if (this.isRunning) throw new Error('v86 engine: pause the machine before saving its state');
    const v86 = new Uint8Array(await emulator.save_state());
    // The guest's open 9p fids travel with the machine (p9-state.ts).
    const state = this.p9 ? withP9State(v86, this.p9.saveState()) : v86;
    const disk = this.disk;
    if (!disk) return state;
    // The disk goes with the state (v86 keeps only its registers); generation() flushes it first.
    const generation = disk.generation?.();
    return joinV86State(state, disk.read(0, disk.byteLength), generation);
  }

  /**
   * Replaces the machine with `state`. The state's frame and memory size are checked first; v86's
   * own restore is not atomic, so the current machine is saved before and put back if v86 throws:
   * a refused state (BadStateError) leaves the guest as it was, able to keep running.
   */
  async loadState(state: Uint8Array): Promise<void> {
    const emulator = this.requireEmulator();
    if (this.isRunning) throw new Error('v86 engine: pause the machine before loading a state');
    const current = await emulator.save_state();
    this.checkState(state, new Uint8Array(current));
    try {
      await this.restoreInto(emulator, state);
    } catch (err) {
      try {
        await emulator.restore_state(current);
      } catch (again) {
        this.finish({ kind: 'crash', message: `v86: the machine could not be put back after a refused state: ${again instanceof Error ? again.message : String(again)}` });
      }
      throw err;
    }
    this.exited = false;
    this.lastCounter = emulator.get_instruction_counter();
  }

  /**
   * True once the guest's serial driver opened COM1 (IER receive interrupt on). Linux's 8250
   * start-up empties the receiver, so bytes sent before this are lost.
   */
  consoleReceiving(): boolean {
    const uart = (this.emulator as unknown as V86Internals | undefined)?.v86?.cpu?.devices?.uart0;
    return uart !== undefined && ((uart.ier ?? 0) & UART_IER_RDI) !== 0;
  }

  /** Bytes typed that the guest has not read from COM1 yet (held while paused, or in the UART). */
  consoleInputWaiting(): number {
    const uart = (this.emulator as unknown as V86Internals | undefined)?.v86?.cpu?.devices?.uart0;
    return (uart?.input?.length ?? 0) + this.pendingInput.reduce((n, b) => n + b.length, 0);
  }

  /**
   * Refuses a state that is not a v86 state this build restores, whose memory is not this VM's,
   * or (given the machine's own current state) whose fields are not shaped like this machine's.
   */
  private checkState(whole: Uint8Array, current?: Uint8Array): void {
    const state = splitState(whole).v86;
    let parsed;
    try {
      parsed = v86StateInfo(state);
    } catch (e) {
      const why = e instanceof Error ? e.message.replace(/^bad snapshot: /, '') : String(e);
      throw new BadStateError(`the saved v86 state does not load: ${why}`);
    }
    const { memoryBytes, info } = parsed;
    if (memoryBytes !== this.config.memoryMiB * MiB) {
      throw new BadStateError(`the state holds ${memoryBytes / MiB} MiB of RAM but this VM has ${this.config.memoryMiB} MiB`);
    }
    if (current) {
      const ref = v86StateInfo(current).info;
      const where = v86ShapeMismatch(info.state, ref.state);
      if (where) throw new BadStateError(`the v86 state does not match this machine (at ${where})`);
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stopSampling();
    const emulator = this.emulator;
    this.emulator = undefined;
    if (emulator) {
      if (this.isRunning) {
        this.sampleCounter(emulator);
        this.runMs += now() - this.runningSince;
      }
      this.isRunning = false;
      // After a crash inside v86's loop no tick runs to acknowledge the stop; do not wait forever.
      const wait = delay(DESTROY_WAIT_MS);
      await Promise.race([emulator.destroy(), wait.done]);
      wait.cancel();
    }
    this.flushOutput();
    this.consoleListeners.clear();
    this.exitListeners.clear();
    this.pendingInput = [];
  }

  sendConsole(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (bytes.length === 0 || this.destroyed) return;
    // Behind input still held (a resume flushes it once v86 runs again): never ahead of it.
    if (this.emulator && this.isRunning && this.pendingInput.length === 0) this.emulator.serial_send_bytes(0, bytes);
    else this.pendingInput.push(bytes.slice());
  }

  onConsole(listener: (data: Uint8Array) => void): () => void {
    this.consoleListeners.add(listener);
    return () => this.consoleListeners.delete(listener);
  }

  onExit(listener: (reason: ExitReason) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  stats(): EngineStats {
    if (this.isRunning) this.sampleCounter();
    return {
      instructions: this.instructions,
      runMs: this.runMs + (this.isRunning ? now() - this.runningSince : 0),
      memoryBytes: this.config.memoryMiB * MiB,
    };
  }

  // --- internals ---------------------------------------------------------------------------

  private async wasmInstantiator(): Promise<(imports: WebAssembly.Imports) => Promise<WebAssembly.Exports>> {
    if (this.options.wasmFn) return this.options.wasmFn;
    const module = await compileWasm(this.assets, V86_WASM_PATH);
    return async (imports) => (await WebAssembly.instantiate(module, imports)).exports;
  }

  /**
   * `freshMemory`: the emulator was just made without BIOS, kernel or initrd and has not run, so
   * its guest RAM is fresh wasm pages, all zero: v86's restore then skips clearing the whole RAM
   * before writing the state's pages (writing 128 MiB of zeros faults in every page of it, most
   * of the cost of a template restore; bench/RESULTS.md, lab-reload profile).
   */
  private async restoreInto(emulator: V86, whole: Uint8Array, { freshMemory = false } = {}): Promise<void> {
    const { v86: state, disk: saved } = splitState(whole);
    if (!saved && this.disk?.generation) throw new BadStateError('the state was saved without a disk, and this VM has one');
    const adopt = saved ? this.diskAdoption(saved) : undefined;
    this.v86Messages.take();
    const cpu = (emulator as unknown as V86Internals).v86?.cpu;
    const zero = cpu?.zero_memory;
    const whole0 = freshMemory && cpu && typeof zero === 'function';
    if (whole0) {
      // Own property (v86 assigns the wasm export to the CPU object): only the whole-RAM clear is skipped.
      cpu.zero_memory = (addr, length) => {
        if (addr === 0 && length === cpu.memory_size?.[0]) return;
        zero.call(cpu, addr, length);
      };
    }
    try {
      await emulator.restore_state(exactBuffer(state)); // v86's restore_state is captured (hookInternals)
    } catch (err) {
      const sizes = memoryMismatch(this.v86Messages.take());
      const why = sizes ? `it is for a ${sizes.state / MiB} MiB machine, this one has ${sizes.machine / MiB} MiB` :
        err instanceof Error ? err.message : String(err);
      throw new BadStateError(`the saved v86 state does not load: ${why}`);
    } finally {
      if (whole0) cpu.zero_memory = zero;
    }
    // A state smaller than the machine loads fine (v86 takes the state's size): nothing to say.
    this.v86Messages.take();
    if (this.p9) {
      const fids = p9StateOf(state);
      try {
        if (fids) this.p9.loadState(fids);
        else this.p9.reset();
      } catch (err) {
        throw new BadStateError(`the saved 9p table does not load: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    adopt?.();
  }

  /**
   * What to do with the disk a state carries (checked before anything changes): nothing when the
   * disk still holds it (same generation), else copy it onto the disk, or refuse
   * (BootConfig.diskOnRestore). Returns the copy step, run once v86 took the state.
   */
  private diskAdoption(saved: NonNullable<SplitV86State['disk']>): (() => void) | undefined {
    const disk = this.disk;
    if (!disk) throw new BadStateError('the state has a disk but this machine has none');
    if (disk.byteLength !== saved.bytes.length) {
      throw new BadStateError(`the state's disk is ${saved.bytes.length} bytes, this machine's ${disk.byteLength}`);
    }
    const now = disk.generation?.();
    if (saved.generation !== undefined && now === saved.generation) return undefined;
    if (now !== undefined && now !== 'base' && this.config.diskOnRestore === 'refuse') {
      throw new BadStateError(DISK_KEPT_MESSAGE);
    }
    return () => copyDiskInto(disk, { byteLength: saved.bytes.length, read: (at, n) => saved.bytes.subarray(at, at + n) });
  }

  /**
   * Turns an exception inside v86's run loop into a 'crash' exit and a guest reboot into 'reboot';
   * runs v86's ticks and state calls with its console output captured.
   */
  private hookInternals(emulator: V86): void {
    const main = (emulator as unknown as V86Internals).v86;
    const tick = main?.do_tick;
    if (main && typeof tick === 'function') {
      main.do_tick = () => {
        try {
          this.v86Messages.capture(() => tick.call(main));
          this.netPacer?.flush(); // the guest may have emptied the card's receive ring
        } catch (err) {
          // v86 never gets to acknowledge the stop after a throw: do it, so stop() and destroy() return.
          main.running = false;
          main.stopping = false;
          try {
            main.bus?.send('emulator-stopped');
          } catch {
            // a listener failing on a dead emulator changes nothing: the crash is reported below
          }
          this.finish({ kind: 'crash', message: this.crashMessage(err) });
        }
      };
    }
    if (main) {
      // Looked up at each call (not captured), so the prototype's method stays the one that runs.
      const proto = Object.getPrototypeOf(main) as { yield?: (t: number, tick: number) => void };
      main.yield = (t, tick) => proto.yield?.call(main, idleSleepMs(t), tick);
    }
    for (const name of ['save_state', 'restore_state'] as const) {
      const original = main?.[name];
      if (main && typeof original === 'function') {
        main[name] = (...args: unknown[]) => this.v86Messages.capture(() => (original as (...a: unknown[]) => unknown).apply(main, args));
      }
    }
    const cpu = main?.cpu;
    const reboot = cpu?.reboot_internal;
    if (cpu && typeof reboot === 'function') {
      cpu.reboot_internal = () => {
        reboot.call(cpu);
        this.finish({ kind: 'reboot' });
      };
    }
  }

  /** "v86 stopped: <the panic reason v86 printed, else the exception>". */
  private crashMessage(err: unknown): string {
    const thrown = err instanceof Error ? err.message : String(err);
    const panic = panicReason(this.v86Messages.take());
    return `v86 stopped: ${panic !== undefined ? `${panic} (${thrown})` : thrown}`;
  }

  /** The CPU executed HLT with interrupts off: nothing can wake it, the guest is done. */
  private onHalt(): void {
    this.finish({ kind: 'poweroff', code: 0 });
  }

  private finish(reason: ExitReason): void {
    if (this.exited) return;
    this.exited = true;
    const emulator = this.emulator;
    if (emulator && this.isRunning) {
      this.sampleCounter(emulator);
      this.runMs += now() - this.runningSince;
      this.isRunning = false;
      this.stopSampling();
      void emulator.stop();
    }
    // Deliver after the output that led here (the current tick may still be emitting).
    setTimeout(() => {
      this.flushOutput();
      for (const listener of [...this.exitListeners]) listener(reason);
    }, 0);
  }

  private onSerialByte(byte: number): void {
    const panic = this.panicWatch.byte(byte);
    if (panic !== undefined) {
      this.sampleCounter();
      this.panicSeen = { reason: panic, instructions: this.instructions };
    } else if (this.panicSeen && byte !== 0x0a && byte !== 0x0d) {
      this.panicSeen = undefined; // the guest still talks: it was only the words
    }
    this.pendingOutput.push(byte);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flushOutput());
    }
  }

  private flushOutput(): void {
    this.flushScheduled = false;
    if (this.pendingOutput.length === 0) return;
    const chunk = Uint8Array.from(this.pendingOutput);
    this.pendingOutput = [];
    for (const listener of [...this.consoleListeners]) listener(chunk);
  }

  private sampleCounter(emulator = this.emulator): void {
    if (!emulator) return;
    const counter = emulator.get_instruction_counter() >>> 0;
    this.instructions += (counter - this.lastCounter) >>> 0;
    this.lastCounter = counter;
  }

  private checkPanic(): void {
    const seen = this.panicSeen;
    if (seen && this.instructions - seen.instructions >= PANIC_CONFIRM_INSTRUCTIONS) {
      this.finish({ kind: 'crash', message: `kernel panic: ${seen.reason}` });
    }
  }

  private startSampling(): void {
    this.stopSampling();
    const timer = setInterval(() => {
      this.sampleCounter();
      this.checkPanic();
    }, COUNTER_SAMPLE_MS);
    (timer as { unref?: () => void }).unref?.();
    this.counterTimer = timer;
  }

  private stopSampling(): void {
    if (this.counterTimer !== undefined) clearInterval(this.counterTimer);
    this.counterTimer = undefined;
  }

  private requireEmulator(): V86 {
    if (!this.emulator) throw new Error('v86 engine: not started');
    return this.emulator;
  }
}

/**
 * How long v86 waits before its next tick, given the `t` its main loop returned: 0 while the CPU
 * runs (tick again at once), else the time to the next timer event of a halted CPU.
 *
 * v86 itself polls with setImmediate while that is under 1 ms (a millisecond of busy host CPU per
 * guest timer interrupt) and otherwise passes the fraction to setTimeout, which works in whole
 * milliseconds from the event loop's cached clock and so fires up to ~1 ms *before* the deadline:
 * the tick then finds the timer not yet due and sleeps again, two host wake-ups per guest timer
 * interrupt. The engine sleeps to the next whole millisecond plus one instead, so the tick that
 * wakes finds the interrupt due: one wake-up per guest timer, the interrupt at most 2 ms late
 * (the guest keeps time with the TSC, and a jiffy is 10 ms). Guest I/O does not wait for this:
 * v86 ticks at once when a device raises an interrupt.
 */
export function idleSleepMs(t: number): number {
  return t > 0 ? Math.ceil(t) + 1 : t;
}

/** Rejects configurations v86 cannot run, with a message that names the fix. */
export function checkV86Config(config: BootConfig): void {
  const mem = config.memoryMiB;
  if (!Number.isInteger(mem) || mem < 1 || mem > MAX_MEMORY_MIB) {
    throw new EngineConfigError(`v86 memory must be a whole number of MiB between 1 and ${MAX_MEMORY_MIB} (got ${mem})`);
  }
  if (config.state) return; // a saved state carries its own memory contents; no kernel or BIOS needed
  if (!config.kernel) throw new EngineConfigError('v86 needs a kernel (a Linux bzImage)');
  if (!isBzImage(config.kernel)) throw new EngineConfigError('the kernel is not a Linux bzImage (no "HdrS" boot header)');
  if (!config.firmware) throw new EngineConfigError('v86 needs a BIOS (--firmware, e.g. SeaBIOS bios.bin)');
  if (config.firmware.length === 0 || config.firmware.length > 1 * MiB) {
    throw new EngineConfigError(`the BIOS image has an unusable size (${config.firmware.length} bytes)`);
  }
  if (config.initrd) {
    const needed = Math.floor((V86_INITRD_ADDRESS + config.initrd.length) / MiB) + 1;
    if (mem < needed) {
      throw new EngineConfigError(
        `v86 places the initrd at 64 MiB, so this ${(config.initrd.length / MiB).toFixed(1)} MiB initrd needs --mem ${needed}M or more`);
    }
  }
}

/** A state split from its disk trailer (v86-disk-state.ts); a damaged trailer is a bad state. */
function splitState(state: Uint8Array): SplitV86State {
  try {
    return splitV86State(state);
  } catch (err) {
    throw new BadStateError(`the saved v86 state does not load: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** v86's save_state() slot of its ACPI device: null when the machine had none. */
const V86_ACPI_INDEX = 50;

/** True when the machine that saved `state` had v86's ACPI device (and so its local APIC). */
export function v86StateHasAcpi(state: Uint8Array): boolean {
  const slot = v86StateInfo(state).info.state[V86_ACPI_INDEX];
  return slot !== null && slot !== undefined;
}

/** Linux x86 boot protocol: "HdrS" at offset 0x202 of a bzImage. */
export function isBzImage(kernel: Uint8Array): boolean {
  return kernel.length > 0x206 && kernel[0x202] === 0x48 && kernel[0x203] === 0x64 &&
    kernel[0x204] === 0x72 && kernel[0x205] === 0x53;
}

function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

/** A timer that keeps the process alive: an unref'd one let Node exit (status 0) mid-destroy. */
function delay(ms: number): { done: Promise<void>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
  return { done, cancel: () => clearTimeout(timer) };
}

function now(): number {
  return performance.now();
}
