// x86 guests through the v86 npm package (its ESM build). Works in Node and in a browser Web
// Worker: every file, the wasm included, comes through the AssetLoader, so v86 never touches
// fs or XHR itself.

import type { V86, V86Options } from 'v86';
import { MAX_MSIZE, P9Server } from '../../devices/p9/server.js';
import type {
  AssetLoader, BootConfig, Engine, EngineStats, ExitReason,
} from '../engine.js';
import { BadStateError, EngineConfigError } from '../create.js';
import { v86ShapeMismatch, v86StateInfo } from '../state-memory.js';
import { PanicWatch } from './panic-watch.js';
import { memoryMismatch, panicReason, V86Messages } from './v86-console.js';

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
    running?: boolean;
    stopping?: boolean;
    bus?: { send(event: string, data?: unknown): void };
    save_state?: () => unknown;
    restore_state?: (state: unknown) => unknown;
    cpu?: { reboot_internal?: () => void; devices?: { uart0?: { ier?: number } } };
  };
}

/** 16550 IER bit 0: the driver wants receive interrupts, i.e. it opened the port (Linux 8250 startup). */
const UART_IER_RDI = 0x01;

type V86Module = { V86: new (options: V86Options) => V86 };

// One compiled module per wasm location, shared by every engine in this process or worker.
const compiledWasm = new Map<string, Promise<WebAssembly.Module>>();

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
  /** A panic end line was printed; confirmed by silence (PANIC_CONFIRM_INSTRUCTIONS). */
  private panicSeen: { reason: string; instructions: number } | undefined;

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
      // ACPI stays off: v86 ignores ACPI sleep requests, and without ACPI Linux's poweroff
      // ends in cli+hlt, which v86 reports as "cpu-event-halt" (see onHalt).
      acpi: false,
    };
    if (c.share) {
      // v86's virtio-9p (mount tag host9p) served by our 9p server over the same FileShare.
      const server = new P9Server(c.share);
      options.filesystem = { handle9p: (request, reply) => reply(server.handle(request, MAX_MSIZE)) };
    }
    if (!c.state) {
      options.bios = { buffer: exactBuffer(c.firmware!) };
      if (c.vgaBios) options.vga_bios = { buffer: exactBuffer(c.vgaBios) };
      options.bzimage = { buffer: exactBuffer(c.kernel!) };
      if (c.initrd) options.initrd = { buffer: exactBuffer(c.initrd) };
      options.cmdline = c.cmdline ?? '';
    }
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
        .add_listener('net0-send', (frame) => net.send(frame));
      const v86Bus = (emulator as unknown as { bus: { send(event: string, data: Uint8Array): void } }).bus;
      net.connect?.((frame) => v86Bus.send('net0-receive', frame));
    }
    await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
    if (this.destroyed) return;
    this.hookInternals(emulator);
    if (c.state) await this.restoreInto(emulator, c.state);
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
    return new Uint8Array(await emulator.save_state());
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

  /**
   * Refuses a state that is not a v86 state this build restores, whose memory is not this VM's,
   * or (given the machine's own current state) whose fields are not shaped like this machine's.
   */
  private checkState(state: Uint8Array, current?: Uint8Array): void {
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
    if (this.emulator && this.isRunning) this.emulator.serial_send_bytes(0, bytes);
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
    const where = this.assets.resolve(V86_WASM_PATH);
    let compiled = compiledWasm.get(where);
    if (!compiled) {
      compiled = this.assets.load(V86_WASM_PATH).then((bytes) => WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>));
      compiledWasm.set(where, compiled);
      compiled.catch(() => compiledWasm.delete(where));
    }
    const module = await compiled;
    return async (imports) => (await WebAssembly.instantiate(module, imports)).exports;
  }

  private async restoreInto(emulator: V86, state: Uint8Array): Promise<void> {
    this.v86Messages.take();
    try {
      await emulator.restore_state(exactBuffer(state)); // v86's restore_state is captured (hookInternals)
    } catch (err) {
      const sizes = memoryMismatch(this.v86Messages.take());
      const why = sizes ? `it is for a ${sizes.state / MiB} MiB machine, this one has ${sizes.machine / MiB} MiB` :
        err instanceof Error ? err.message : String(err);
      throw new BadStateError(`the saved v86 state does not load: ${why}`);
    }
    // A state smaller than the machine loads fine (v86 takes the state's size): nothing to say.
    this.v86Messages.take();
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

/** Rejects configurations v86 cannot run, with a message that names the fix. */
export function checkV86Config(config: BootConfig): void {
  const mem = config.memoryMiB;
  if (!Number.isInteger(mem) || mem < 1 || mem > MAX_MEMORY_MIB) {
    throw new EngineConfigError(`v86 memory must be a whole number of MiB between 1 and ${MAX_MEMORY_MIB} (got ${mem})`);
  }
  if (config.disk) throw new EngineConfigError('the v86 engine does not support --disk yet (use an image with an initrd)');
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
