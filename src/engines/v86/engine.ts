// x86 guests through the v86 npm package (its ESM build). Works in Node and in a browser Web
// Worker: every file, the wasm included, comes through the AssetLoader, so v86 never touches
// fs or XHR itself.

import type { V86, V86Options } from 'v86';
import type {
  AssetLoader, BootConfig, Engine, EngineStats, ExitReason,
} from '../engine.js';
import { BadStateError, EngineConfigError } from '../create.js';
import { v86ShapeMismatch, v86StateInfo } from '../state-memory.js';

/** Where v86's wasm lives, relative to the project root. */
export const V86_WASM_PATH = 'node_modules/v86/build/v86.wasm';

const MiB = 1024 * 1024;
/** v86 copies the initrd to this guest-physical address; RAM must extend beyond its end. */
const V86_INITRD_ADDRESS = 64 * MiB;
/** Instruction counter sampling period: v86's counter is 32 bits and wraps within seconds. */
const COUNTER_SAMPLE_MS = 500;
const MAX_MEMORY_MIB = 2048;
const DESTROY_WAIT_MS = 2000;

export interface V86EngineOptions {
  /** Instantiates v86's wasm; defaults to compiling V86_WASM_PATH loaded through the AssetLoader. */
  wasmFn?: (imports: WebAssembly.Imports) => Promise<WebAssembly.Exports>;
}

/** The few v86 internals the engine hooks: the tick (to catch emulator crashes) and reboots. */
interface V86Internals {
  v86?: {
    do_tick?: () => void;
    cpu?: { reboot_internal?: () => void };
  };
}

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
      await Promise.race([emulator.destroy(), delay(DESTROY_WAIT_MS)]);
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
    try {
      await emulator.restore_state(exactBuffer(state));
    } catch (err) {
      throw new BadStateError(`the saved v86 state does not load: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Turns an exception inside v86's run loop into a 'crash' exit and a guest reboot into 'reboot'. */
  private hookInternals(emulator: V86): void {
    const main = (emulator as unknown as V86Internals).v86;
    const tick = main?.do_tick;
    if (main && typeof tick === 'function') {
      main.do_tick = () => {
        try {
          tick.call(main);
        } catch (err) {
          this.finish({ kind: 'crash', message: `v86 stopped: ${err instanceof Error ? err.message : String(err)}` });
        }
      };
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

  private startSampling(): void {
    this.stopSampling();
    const timer = setInterval(() => this.sampleCounter(), COUNTER_SAMPLE_MS);
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    (timer as { unref?: () => void }).unref?.();
  });
}

function now(): number {
  return performance.now();
}
