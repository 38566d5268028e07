// Rv64Machine: QEMU's `virt` board around our RV64GC core (ARCHITECTURE.md, "The RV64 machine").
// RAM at 0x8000_0000, syscon, PLIC, UART and virtio-mmio slots on the MMIO bus (src/devices/), the
// CLINT inside the core. Loaders as QEMU: OpenSBI fw_jump at 0x8000_0000, the kernel Image at
// 0x8020_0000, the initrd and device tree high in RAM (boot-layout.ts); or a bare ELF entered
// directly. The machine runs synchronously in slices; the engine (engine.ts) owns time and events.

import { Rv64Core, StopReason, TIMEBASE_HZ, jitDefault } from './core.js';
import type { JitOptions } from './jit/jit.js';
import { parseElf, loadElfInto, checkElfInRam, ElfError, type ElfImage } from './elf.js';
import {
  BootLayoutError, FW_JUMP_FDT_ADDR, KERNEL_BASE, RAM_BASE, parseLinuxImage, placeElf, planBootLayout, type BootLayout,
} from './boot-layout.js';
import { ArrayGuestMemory } from '../../devices/guest-memory.js';
import { faultReportingBus } from '../../devices/mmio-bus.js';
import { VirtDevices } from '../../devices/virt-devices.js';
import type { ConsoleBackend } from '../../devices/backends/console.js';
import { MemoryOverlayDisk, type BlockBackend } from '../../devices/backends/disk.js';
import type { NetBackend } from '../../devices/backends/net.js';
import { VirtioBlock } from '../../devices/virtio/block.js';
import { VirtioConsole } from '../../devices/virtio/console.js';
import { VirtioRng, type RandomSource } from '../../devices/virtio/rng.js';
import { VirtioNet } from '../../devices/virtio/net.js';
import { VirtioP9 } from '../../devices/virtio/p9.js';
import { VirtioBalloon } from '../../devices/virtio/balloon.js';
import type { FileShare } from '../../devices/backends/file-share.js';
import type { VirtioDevice } from '../../devices/virtio/device.js';
import { CORE_ABI_VERSION } from './core.js';
import { StateFormatError, type StateValue } from './state-codec.js';
import type { PageSet } from '../live-state.js';

export { RAM_BASE, KERNEL_BASE, FW_JUMP_FDT_ADDR };

/** Fixed virtio slots, so a saved state always finds its devices where it left them. */
export const SLOT_CONSOLE = 0;
export const SLOT_RNG = 1;
export const SLOT_BLOCK = 2;
export const SLOT_NET = 3;
export const SLOT_SHARE = 4;
export const SLOT_BALLOON = 5;

/** Deterministic time: one 10 MHz tick per this many instructions (a 100 MIPS machine). */
export const DEFAULT_INSNS_PER_TICK = 10;

/** The kernel panicked, OpenSBI gave up, or the core failed: the guest cannot continue. */
export class MachineConfigError extends Error {
  override name = 'MachineConfigError';
}

export interface Rv64MachineOptions {
  /** Compiled build/rv64.wasm. */
  module: WebAssembly.Module;
  memoryBytes: number;
  /** OpenSBI fw_jump.bin (or another M-mode firmware for 0x8000_0000). Without it the kernel must be an ELF. */
  firmware?: Uint8Array;
  /** A RISC-V Linux Image, or an ELF (loaded at its physical addresses). */
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** Disk image for virtio-blk (read-only base; writes go to a copy-on-write overlay), or a back end. */
  disk?: Uint8Array | BlockBackend;
  /** A saved overlay (MemoryOverlayDisk state) to put over a Uint8Array disk. */
  diskOverlay?: object;
  /** Host side of a virtio-net device; none = no NIC. */
  net?: NetBackend;
  mac?: Uint8Array;
  /** A folder shared over virtio-9p (mount tag `hostshare`); none = no 9p device. */
  share?: FileShare;
  /** false: no virtio-balloon (a machine restored from a state saved without one). */
  balloon?: boolean;
  /** Guest output of ttyS0 and hvc0 (one stream, as on a terminal). */
  output: (data: Uint8Array) => void;
  /** mtime from instructions retired (reproducible runs) instead of the host clock. */
  deterministic?: boolean;
  insnsPerTick?: number;
  mmuType?: 'sv39' | 'sv48';
  /** Entropy for virtio-rng (default crypto.getRandomValues). */
  random?: RandomSource;
  /** Host clock in ms (real-time mode), default performance.now. */
  now?: () => number;
  /** Called when an interrupt line to the hart rises (device input while the host loop sleeps). */
  onInterrupt?: () => void;
  /** When true, the machine is not loaded (the caller will loadState()). */
  forRestore?: boolean;
}

export type MachineExit =
  | { kind: 'poweroff'; code: number }
  | { kind: 'reboot' }
  | { kind: 'crash'; message: string };

/** What one slice did. */
export interface SliceResult {
  instructions: number;
  /** The hart waits for an interrupt: ms until its timer (undefined = only an external event can wake it). */
  idle?: { msUntilTimer: number | undefined };
  exit?: MachineExit;
}

const PANIC_TEXT = 'Kernel panic - not syncing';
const SBI_TRAP_ERROR = 'sbi_trap_error';
/** A panic message is forgotten when the guest still runs normally this much later. */
const PANIC_GRACE_INSNS = 50_000_000;
/** Slices in a row that look dead after a panic message before the VM ends. */
const PANIC_DEAD_SLICES = 8;
/** Linux's panic loop (mdelay) stays within this many bytes of code. */
const PANIC_LOOP_BYTES = 1024n;
const CSR_MIE = 0x304;
const CSR_MEPC = 0x341;
const CSR_MCAUSE = 0x342;
const CSR_SEPC = 0x141;
const CSR_SCAUSE = 0x142;
/** Trap-loop watch: at least one exception per this many instructions ... */
const TRAP_LOOP_RATE = 2000;
/** ... with the same redirected trap at the end of this many slices in a row. */
const TRAP_LOOP_SLICES = 100;
const TRAP_NAMES = [
  'instruction address misaligned', 'instruction access fault', 'illegal instruction', 'breakpoint',
  'load address misaligned', 'load access fault', 'store address misaligned', 'store access fault',
  'environment call from U-mode', 'environment call from S-mode', 'reserved trap 10', 'environment call from M-mode',
  'instruction page fault', 'load page fault', 'reserved trap 14', 'store page fault',
];

function trapName(cause: bigint): string {
  return TRAP_NAMES[Number(cause & 0xffn)] ?? `trap cause ${cause}`;
}

/** Merges byte streams of the two consoles and keeps a tail of recent text for the panic watch. */
class ConsoleOut implements ConsoleBackend {
  input: ((data: Uint8Array) => void) | undefined;
  constructor(private readonly sink: (data: Uint8Array) => void) {}
  write(data: Uint8Array): void {
    this.sink(data);
  }
  connect(input: (data: Uint8Array) => void): void {
    this.input = input;
  }
}

export class Rv64Machine {
  readonly core: Rv64Core;
  readonly devices: VirtDevices;
  readonly memory: ArrayGuestMemory;
  readonly memoryBytes: number;
  /**
   * True while guest RAM is as the core's init left it: fresh wasm pages, all zero, never touched
   * (a machine built for a restore, before its state is loaded). A full state then loads without
   * clearing RAM first: writing 128 MiB of zeros makes the host fault in every page of it, the
   * largest cost of a template restore (bench/RESULTS.md, lab-reload profile).
   */
  private ramUntouched = false;
  readonly deterministic: boolean;
  readonly insnsPerTick: number;
  readonly mmuType: 'sv39' | 'sv48';
  readonly disk: BlockBackend | undefined;
  /** The disk image the overlay sits on, when the machine made the overlay. */
  private readonly diskBase: Uint8Array | undefined;
  readonly serial: ConsoleOut;
  readonly hvc: VirtioConsole;
  readonly net: VirtioNet | undefined;
  readonly share: VirtioP9 | undefined;
  /** virtio-balloon: on every machine booted by this build (a restored one has it if it was saved with it). */
  readonly balloon: VirtioBalloon | undefined;
  /** Where the loaders put things (undefined after a restore). */
  layout: BootLayout | undefined;
  private exitReason: MachineExit | undefined;
  private pendingExit: MachineExit | undefined;
  private tail = '';
  private panicAt: bigint | undefined;
  private panicLine = '';
  private panicKind: 'kernel' | 'sbi' = 'kernel';
  private deadSlices = 0;
  private deadPcLow = 0n;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private lastExceptions = 0n;
  private trapSignature = '';
  private trapLoopSlices = 0;

  constructor(private readonly opts: Rv64MachineOptions) {
    const memoryBytes = opts.memoryBytes;
    if (!Number.isInteger(memoryBytes) || memoryBytes < 16 * 1024 * 1024 || memoryBytes % 4096 !== 0 || memoryBytes > 2048 * 1024 * 1024) {
      throw new MachineConfigError(`rv64 memory must be between 16 MiB and 2048 MiB (got ${memoryBytes / 1048576} MiB)`);
    }
    this.memoryBytes = memoryBytes;
    this.deterministic = opts.deterministic ?? false;
    this.insnsPerTick = opts.insnsPerTick ?? DEFAULT_INSNS_PER_TICK;
    this.mmuType = opts.mmuType ?? 'sv48';
    this.core = Rv64Core.fromModule(opts.module, {
      ramBytes: memoryBytes,
      ...(opts.now ? { now: opts.now } : {}),
      ...(this.deterministic ? { deterministic: { insnsPerTick: this.insnsPerTick } } : {}),
      jit: machineJit(this.deterministic),
    });
    const core = this.core;
    // Device DMA marks the core's dirty bitmap too, so snapshots and migration see every written page.
    this.memory = new ArrayGuestMemory(() => core.ram, RAM_BASE, (off, len) => markDirty(core, off, len));

    const sink = (data: Uint8Array): void => this.onOutput(data);
    this.serial = new ConsoleOut(sink);
    this.hvc = new VirtioConsole({ write: sink });
    const virtio: (VirtioDevice | undefined)[] = [];
    virtio[SLOT_CONSOLE] = this.hvc;
    virtio[SLOT_RNG] = new VirtioRng(opts.random);
    if (opts.disk !== undefined) {
      if (opts.disk instanceof Uint8Array) {
        const overlay = new MemoryOverlayDisk(opts.disk, { serial: 'tabvisor-vda' });
        if (opts.diskOverlay) {
          try {
            overlay.loadState(opts.diskOverlay);
          } catch (e) {
            throw new StateFormatError(`state: disk overlay: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
        this.diskBase = opts.disk;
        this.disk = overlay;
      } else {
        this.disk = opts.disk;
      }
      virtio[SLOT_BLOCK] = new VirtioBlock(this.disk);
    }
    if (opts.net !== undefined) {
      this.net = new VirtioNet(opts.mac ?? randomMac(opts.random), opts.net);
      virtio[SLOT_NET] = this.net;
    }
    if (opts.share !== undefined) {
      this.share = new VirtioP9(opts.share);
      virtio[SLOT_SHARE] = this.share;
    }
    if (opts.balloon !== false) {
      // Pages the guest gives back are zeroed (snapshots and migration skip zero pages); the
      // write also drops compiled code on them and marks them dirty, like any device write.
      const memory = this.memory;
      this.balloon = new VirtioBalloon({
        isRam: (addr, len) => memory.isRam(addr, len),
        discard: (addr, len) => {
          // Pages still as fresh as the core's init left them are skipped: writing zeros there only
          // makes the host fault them in (free page reporting right after a template restore
          // hands over ~100 MiB of them).
          for (const [start, end] of core.zeroRam(addr - RAM_BASE, len)) markDirty(core, start, end - start);
        },
      }, memoryBytes / 4096);
      virtio[SLOT_BALLOON] = this.balloon;
    }
    this.devices = new VirtDevices({
      memory: this.memory,
      console: this.serial,
      syscon: {
        poweroff: () => this.stop({ kind: 'poweroff', code: 0 }),
        reboot: () => this.stop({ kind: 'reboot' }),
        fail: (code) => this.stop({ kind: 'poweroff', code }),
      },
      virtio,
    });
    // A rising interrupt line also tells the host loop, which may be sleeping while the hart idles.
    const wake = opts.onInterrupt ?? (() => {});
    this.devices.connectHart(
      (l) => { core.setMeip(l); if (l) wake(); },
      (l) => { core.setSeip(l); if (l) wake(); },
    );
    core.setBus(faultReportingBus(this.devices.bus, () => core.mmioFault()));
    if (!opts.forRestore) this.load();
    else this.ramUntouched = true;
  }

  /** Copies firmware, kernel, initrd and device tree into RAM and sets the hart's boot registers. */
  private load(): void {
    const o = this.opts;
    if (!o.kernel || o.kernel.length === 0) throw new MachineConfigError('rv64 needs a kernel (a RISC-V Linux Image or an ELF program)');
    const image = parseLinuxImage(o.kernel);
    let elf: ElfImage | undefined;
    if (!image) {
      try {
        elf = parseElf(o.kernel);
      } catch (e) {
        const why = e instanceof ElfError ? e.message : String(e);
        throw new MachineConfigError(`the kernel is neither a RISC-V Linux Image (no "RSC\\x05" header magic) nor a RISC-V ELF (${why})`);
      }
    }
    if (image && !o.firmware) throw new MachineConfigError('a Linux Image needs firmware (OpenSBI fw_jump.bin) to boot');
    // Without firmware the hart starts at the ELF's entry point, which must then be in RAM.
    if (elf && !o.firmware) {
      try {
        checkElfInRam(placeElf(elf), BigInt(RAM_BASE), this.memoryBytes);
      } catch (e) {
        throw new MachineConfigError(e instanceof Error ? e.message : String(e));
      }
    }
    if (o.firmware && o.firmware.length > KERNEL_BASE - RAM_BASE) {
      throw new MachineConfigError(`the firmware (${o.firmware.length} bytes) is larger than the 2 MiB below the kernel`);
    }

    let kernelStart = KERNEL_BASE;
    let kernelBytes = 0;
    if (image) {
      kernelBytes = Math.max(o.kernel.length, image.imageSize);
    } else if (elf) {
      elf = placeElf(elf);
      const lo = Math.min(...elf.segments.map((s) => Number(s.paddr)));
      const hi = Math.max(...elf.segments.map((s) => Number(s.paddr) + s.memSize));
      kernelStart = lo;
      kernelBytes = hi - lo;
      if (o.firmware && lo < KERNEL_BASE) throw new MachineConfigError(`the ELF kernel starts at 0x${lo.toString(16)}, inside the firmware's 2 MiB; link it at 0x${KERNEL_BASE.toString(16)}`);
    }

    const dtbProbe = this.deviceTree(undefined);
    const dtbBytes = dtbProbe.length + 4096; // room for the initrd properties
    let layout: BootLayout;
    try {
      layout = planBootLayout({
        memoryBytes: this.memoryBytes,
        ...(o.firmware ? { firmwareBytes: o.firmware.length } : {}),
        kernelStart,
        kernelBytes,
        ...(o.initrd ? { initrdBytes: o.initrd.length } : {}),
        dtbBytes,
        fwJumpFdtCopy: o.firmware !== undefined,
      });
    } catch (e) {
      if (e instanceof BootLayoutError) throw new MachineConfigError(e.message);
      throw e;
    }
    this.layout = layout;
    const core = this.core;
    if (o.firmware) core.writePhys(BigInt(RAM_BASE), o.firmware);
    if (image) core.writePhys(BigInt(KERNEL_BASE), o.kernel);
    else if (elf) {
      try {
        loadElfInto(elf, o.kernel, core.ram, BigInt(RAM_BASE), (off, len) => core.noteRamWritten(off, len));
      } catch (e) {
        throw new MachineConfigError(e instanceof Error ? e.message : String(e));
      }
    }
    if (o.initrd && layout.initrd) core.writePhys(BigInt(layout.initrd.start), o.initrd);
    const dtb = this.deviceTree(layout.initrd);
    core.writePhys(BigInt(layout.dtb), dtb);
    core.clearDirty();
    // QEMU's reset vector: a0 = hart id, a1 = device tree, M mode at the firmware (or the ELF's entry).
    core.pc = o.firmware ? BigInt(RAM_BASE) : elf!.entry;
    core.setReg(10, 0n);
    core.setReg(11, BigInt(layout.dtb));
  }

  private deviceTree(initrd: { start: number; end: number } | undefined): Uint8Array {
    const cfg: Parameters<VirtDevices['deviceTree']>[0] = { memoryBytes: this.memoryBytes, mmuType: this.mmuType };
    if (this.opts.cmdline !== undefined) cfg.bootargs = this.opts.cmdline;
    if (initrd) cfg.initrd = initrd;
    const seed = new Uint8Array(32);
    (this.opts.random ?? ((b: Uint8Array) => globalThis.crypto.getRandomValues(b)))(seed);
    cfg.rngSeed = seed;
    return this.devices.deviceTree(cfg);
  }

  /** Host input for the serial console (ttyS0). */
  sendSerial(data: Uint8Array): void {
    this.serial.input?.(data);
  }

  /** Host input for the virtio console (hvc0). */
  sendHvc(data: Uint8Array): void {
    this.hvc.receive(data);
  }

  get exit(): MachineExit | undefined {
    return this.exitReason;
  }

  private stop(reason: MachineExit): void {
    if (this.pendingExit === undefined) this.pendingExit = reason;
    this.core.requestStop();
  }

  private onOutput(data: Uint8Array): void {
    this.opts.output(data);
    // Watch the console for a kernel panic or an OpenSBI trap error. Text alone proves nothing (a
    // user may echo it): runSlice() ends the VM only when the hart then behaves like a dead one.
    this.tail = (this.tail + this.decoder.decode(data, { stream: true })).slice(-4096);
    if (this.panicAt === undefined) {
      const i = this.tail.indexOf(PANIC_TEXT);
      const j = this.tail.indexOf(SBI_TRAP_ERROR);
      if (i >= 0 || j >= 0) {
        this.panicAt = this.core.steps;
        this.panicKind = i >= 0 && (j < 0 || i < j) ? 'kernel' : 'sbi';
        this.deadSlices = 0;
        this.tail = this.tail.slice(this.panicKind === 'kernel' ? i : j);
      }
    }
    if (this.panicAt !== undefined && this.panicLine === '') {
      const nl = this.tail.indexOf('\n');
      if (nl >= 0) this.panicLine = this.tail.slice(0, nl).trim();
    }
  }

  private panicExit(): MachineExit {
    const line = this.panicLine || this.tail.split('\n')[0]!.trim();
    return { kind: 'crash', message: this.panicKind === 'sbi' ? `OpenSBI: ${line}` : `guest ${line}` };
  }

  /**
   * After a panic message: is the hart now doing what a dead guest does? Linux's panic() ends in a
   * busy delay loop in S mode (a few instructions, interrupts on, never wfi, never user mode);
   * OpenSBI's hang waits in M mode. Several such slices in a row end the VM; a guest that carries
   * on normally (user mode, idle, code elsewhere) clears the suspicion.
   */
  private confirmPanic(stop: StopReason): boolean {
    const core = this.core;
    const priv = core.priv;
    if (this.panicKind === 'sbi') {
      if (priv === 3 && stop === StopReason.Wfi) return true;
      this.deadSlices = priv === 3 ? this.deadSlices + 1 : 0;
    } else if (priv === 1 && stop === StopReason.Budget) {
      const pc = core.pc;
      if (this.deadSlices === 0 || pc < this.deadPcLow || pc > this.deadPcLow + PANIC_LOOP_BYTES) {
        this.deadSlices = 1;
        this.deadPcLow = pc > PANIC_LOOP_BYTES / 2n ? pc - PANIC_LOOP_BYTES / 2n : 0n;
      } else {
        this.deadSlices++;
      }
    } else if (priv !== 3) {
      this.deadSlices = 0; // user mode or idle: alive (M mode is the firmware serving a timer tick)
    }
    if (this.deadSlices >= PANIC_DEAD_SLICES) return true;
    if (core.steps - this.panicAt! > BigInt(PANIC_GRACE_INSNS)) {
      // The message did not come from a dying guest (someone printed it): forget it.
      this.panicAt = undefined;
      this.panicLine = '';
      this.tail = '';
      this.deadSlices = 0;
    }
    return false;
  }

  /**
   * Runs at most `budget` instructions. Returns early when the hart idles in wfi (see `idle`) or
   * the machine stops (`exit`, final).
   */
  runSlice(budget: number): SliceResult {
    if (this.exitReason) return { instructions: 0, exit: this.exitReason };
    const core = this.core;
    const before = core.steps;
    let stop: StopReason;
    try {
      stop = core.run(budget);
    } catch (e) {
      return this.finish({ kind: 'crash', message: `rv64 core failed at pc 0x${core.pc.toString(16)}: ${e instanceof Error ? e.message : String(e)}` }, before);
    }
    const instructions = Number(core.steps - before);
    if (this.pendingExit) return this.finish(this.pendingExit, before);
    if (stop === StopReason.Fatal) {
      return this.finish({ kind: 'crash', message: `rv64 core fault (code ${core.exports.fatalCode()}) at pc 0x${core.pc.toString(16)}` }, before);
    }
    if (this.panicAt !== undefined && this.confirmPanic(stop)) return this.finish(this.panicExit(), before);
    const stuck = this.watchTrapLoop(instructions);
    if (stuck) return this.finish({ kind: 'crash', message: stuck }, before);
    if (stop === StopReason.Wfi) {
      if (core.readCsr(CSR_MIE) === 0n) {
        return this.finish({
          kind: 'crash',
          message: `the hart stopped: wfi with every interrupt disabled at pc 0x${core.pc.toString(16)} (priv ${core.priv})`,
        }, before);
      }
      const ticks = core.ticksUntilTimer();
      return { instructions, idle: { msUntilTimer: ticks === undefined ? undefined : Number(ticks) / (TIMEBASE_HZ / 1000) } };
    }
    return { instructions };
  }

  /**
   * A guest that faults at one pc forever (a garbage kernel, a jump into nowhere) never stops on its
   * own: the firmware redirects each trap to the supervisor's handler, which faults again. Seen from
   * slice ends: many exceptions, and the last trap M mode took is the one it handed to S mode (mepc
   * = sepc, same causes), unchanged at nearly every slice end for
   * about TRAP_LOOP_SLICES slices. Normal Linux never looks
   * like that (its M-mode traps are SBI calls and timer interrupts from other pcs than sepc).
   */
  private watchTrapLoop(instructions: number): string | undefined {
    const core = this.core;
    const exceptions = core.exports.statExceptions();
    const delta = Number(exceptions - this.lastExceptions);
    this.lastExceptions = exceptions;
    const mepc = core.readCsr(CSR_MEPC);
    const sepc = core.readCsr(CSR_SEPC);
    const mcause = core.readCsr(CSR_MCAUSE);
    const scause = core.readCsr(CSR_SCAUSE);
    const signature = `${mepc}/${mcause}/${scause}`;
    if (instructions > 0 && delta * TRAP_LOOP_RATE >= instructions && mepc === sepc && mcause === scause && signature === this.trapSignature) {
      if (++this.trapLoopSlices >= TRAP_LOOP_SLICES) {
        this.trapLoopSlices = 0;
        return `the guest is stuck: ${trapName(mcause)} at pc 0x${mepc.toString(16)}, over and over (the firmware hands it back to the kernel's trap handler, which faults again)`;
      }
    } else {
      // A slice may end while the firmware handles a nested trap of its own: forgive a few.
      this.trapLoopSlices = Math.max(0, this.trapLoopSlices - 3);
    }
    this.trapSignature = signature;
    return undefined;
  }

  private finish(reason: MachineExit, before: bigint): SliceResult {
    this.exitReason = reason;
    return { instructions: Number(this.core.steps - before), exit: reason };
  }

  /** Deterministic mode: jump guest time over an idle period (to the next timer deadline). */
  skipIdleTime(): boolean {
    const ticks = this.core.ticksUntilTimer();
    if (ticks === undefined) return false;
    this.core.advanceTime(ticks > 0n ? ticks : 1n);
    return true;
  }

  /** Whole disk as the guest sees it now (base with the overlay applied). */
  exportDisk(): Uint8Array | undefined {
    const d = this.disk;
    if (!d) return undefined;
    return d.read(0, d.byteLength);
  }

  /**
   * The whole machine as named, versioned fields (see docs/RV64-MACHINE.md, "State"): the board's
   * configuration, the core's state block, RAM (non-zero 4 KiB pages only), every device, and the
   * disk (non-zero chunks of the base and the overlay). The machine must not be running a slice.
   */
  saveState(ram?: { pages: PageSet; delta: boolean }): { [key: string]: StateValue } {
    const core = this.core;
    const config: { [key: string]: StateValue } = {
      memoryBytes: this.memoryBytes,
      mmuType: this.mmuType,
      deterministic: this.deterministic,
      insnsPerTick: this.insnsPerTick,
      disk: this.disk !== undefined,
      net: this.net !== undefined,
      share: this.share !== undefined,
      balloon: this.balloon !== undefined,
    };
    if (this.net) config.mac = this.net.mac.slice();
    const state: { [key: string]: StateValue } = {
      format: MACHINE_STATE_FORMAT,
      version: MACHINE_STATE_VERSION,
      config,
      core: { abi: CORE_ABI_VERSION, block: core.saveState(), steps: core.steps },
      ram: ram ? pageSetValue(ram.pages) : savePages(core.ram, 4096),
      devices: this.devices.saveState() as unknown as StateValue,
    };
    // Only the pages written since a base the reader holds (migration rounds, incremental files).
    if (ram?.delta) state.ramDelta = true;
    if (this.exitReason) state.exit = this.exitReason as unknown as StateValue;
    if (this.disk) state.disk = saveDisk(this.disk, this.diskBase);
    return state;
  }

  /** Reads the board configuration out of a saved state, to build the machine it loads into. */
  static configFromState(state: StateValue): SavedMachineConfig {
    const s = asObject(state, 'machine state');
    if (s.format !== MACHINE_STATE_FORMAT) throw new StateFormatError('not an rv64 machine state');
    if (s.version !== MACHINE_STATE_VERSION) throw new StateFormatError(`rv64 machine state version ${shown(s.version)} is not supported (this build reads ${MACHINE_STATE_VERSION})`);
    const c = asObject(s.config, 'config');
    const memoryBytes = c.memoryBytes;
    if (typeof memoryBytes !== 'number' || !Number.isInteger(memoryBytes) || memoryBytes <= 0) throw new StateFormatError('state: bad memory size');
    if (memoryBytes % 4096 !== 0 || memoryBytes > MAX_MEMORY_BYTES) throw new StateFormatError('state: bad memory size');
    // Every field as saveState() writes it: anything else is refused, not guessed at.
    if (c.mmuType !== 'sv39' && c.mmuType !== 'sv48') throw new StateFormatError('state: bad MMU type');
    if (typeof c.deterministic !== 'boolean' || typeof c.disk !== 'boolean' || typeof c.net !== 'boolean') {
      throw new StateFormatError('state: bad board flags');
    }
    const ipt = c.insnsPerTick;
    if (typeof ipt !== 'number' || !Number.isInteger(ipt) || ipt < 1 || ipt > 0xffff_ffff) throw new StateFormatError('state: bad instructions per tick');
    const out: SavedMachineConfig = {
      memoryBytes, mmuType: c.mmuType, deterministic: c.deterministic, insnsPerTick: ipt, disk: c.disk, net: c.net,
      // Added after the first states were written: absent means the machine had none.
      share: c.share === true,
      balloon: c.balloon === true,
    };
    if (c.mac !== undefined) {
      if (!(c.mac instanceof Uint8Array) || c.mac.length !== 6) throw new StateFormatError('state: bad MAC address');
      out.mac = c.mac;
    }
    return out;
  }

  /** The disk saved in a state: its base image and overlay, for the machine's `disk` and `diskOverlay` options. */
  static diskFromState(state: StateValue): { base: Uint8Array; overlay: object; generation?: string } | undefined {
    const s = asObject(state, 'machine state');
    if (s.disk === undefined || s.disk === null) return undefined;
    const d = asObject(s.disk, 'disk');
    const byteLength = d.byteLength;
    if (typeof byteLength !== 'number' || !Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength > MAX_DISK_BYTES) throw new StateFormatError('state: bad disk size');
    const base = new Uint8Array(byteLength);
    loadPages(base, d.base as StateValue, 'disk');
    if (d.generation !== undefined && typeof d.generation !== 'string') throw new StateFormatError('state: bad disk generation');
    return { base, overlay: asObject(d.overlay, 'disk overlay'), ...(typeof d.generation === 'string' ? { generation: d.generation } : {}) };
  }

  /** Loads a state saved by saveState() into a machine built from configFromState() (forRestore). */
  loadState(state: StateValue, options: { overRam?: boolean } = {}): void {
    const s = asObject(state, 'machine state');
    // A delta's RAM is only what changed since its base: it loads only over that base's RAM.
    const delta = s.ramDelta === true;
    if (s.ramDelta !== undefined && typeof s.ramDelta !== 'boolean') throw new StateFormatError('state: bad RAM delta flag');
    if (delta && !options.overRam) throw new StateFormatError('state: its RAM holds only the pages changed since a base state, which is not here');
    const core = asObject(s.core, 'core');
    if (core.abi !== CORE_ABI_VERSION) throw new StateFormatError(`state was saved by rv64 core ABI ${shown(core.abi)}; this build has ${CORE_ABI_VERSION}`);
    if (!(core.block instanceof Uint8Array)) throw new StateFormatError('state: core block missing');
    // Everything that can be checked without loading is checked first: the core block (every
    // field as the guest could have set it) and its time mode against the board's.
    const problem = this.core.checkState(core.block);
    if (problem !== undefined) throw new StateFormatError(`state: ${problem}`);
    const block = new DataView(core.block.buffer, core.block.byteOffset, core.block.byteLength);
    const timeDet = block.getBigUint64(BLOCK_TIMEDET, true) === 1n;
    if (timeDet !== this.deterministic || (timeDet && block.getBigUint64(BLOCK_IPT, true) !== BigInt(this.insnsPerTick))) {
      throw new StateFormatError('state: the core\'s time mode differs from the board\'s');
    }
    checkPages(s.ram as StateValue, this.core.ramBytes, 4096, 'RAM');
    const ram = this.core.ram;
    // Over RAM (an incoming migration writes pages before and after): not known to be untouched.
    const fresh = !delta && this.ramUntouched && !options.overRam;
    if (!delta && !fresh) ram.fill(0);
    this.ramUntouched = false;
    this.core.noteRamLoaded(loadPages(ram, s.ram as StateValue, 'RAM'), fresh);
    try {
      this.core.loadState(core.block);
      this.devices.loadState(asObject(s.devices, 'devices'));
    } catch (e) {
      if (e instanceof StateFormatError) throw e;
      throw new StateFormatError(`state does not load: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.core.clearDirty();
    this.clearExit();
    this.layout = undefined;
  }

  /** Forgets the exit, e.g. after loading a state into a machine that had stopped. */
  clearExit(): void {
    this.exitReason = undefined;
    this.pendingExit = undefined;
    this.panicAt = undefined;
    this.panicLine = '';
    this.tail = '';
    this.trapLoopSlices = 0;
    this.trapSignature = '';
    this.lastExceptions = this.core.exports.statExceptions();
  }
}

export const MACHINE_STATE_FORMAT = 'tabvisor-rv64-machine';
export const MACHINE_STATE_VERSION = 1;
/** The board's largest RAM (the core's wasm memory holds up to 4 GiB; the CLI documents 2048 MiB). */
const MAX_MEMORY_BYTES = 2048 * 1024 * 1024;
/** Byte offsets in the core block of the time mode and instructions-per-tick slots (assembly/state.ts). */
const BLOCK_TIMEDET = 0x300 + 34 * 8;
const BLOCK_IPT = 0x300 + 35 * 8;
/** Largest disk a state may carry (it is rebuilt in memory). */
const MAX_DISK_BYTES = 2 ** 31;

/** The board configuration a state was saved with. */
export interface SavedMachineConfig {
  memoryBytes: number;
  mmuType: 'sv39' | 'sv48';
  deterministic: boolean;
  insnsPerTick: number;
  disk: boolean;
  net: boolean;
  /** The machine had a 9p share (the host must give one again to restore it). */
  share: boolean;
  balloon: boolean;
  mac?: Uint8Array;
}

function asObject(v: StateValue | undefined, what: string): { [key: string]: StateValue } {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    throw new StateFormatError(`state: ${what} is missing or not a record`);
  }
  return v as { [key: string]: StateValue };
}

/** A PageSet as the state's page record (the layout savePages writes). */
export function pageSetValue(set: PageSet): StateValue {
  const index = new Uint8Array(set.indices.length * 4);
  const dv = new DataView(index.buffer);
  set.indices.forEach((p, i) => dv.setUint32(i * 4, p, true));
  return { pageSize: 4096, count: set.indices.length, index, data: set.data };
}

/** Non-zero pages of `bytes`: their indices (u32 LE) and contents, back to back. */
function savePages(bytes: Uint8Array, pageSize: number): StateValue {
  const count = Math.ceil(bytes.length / pageSize);
  const indices: number[] = [];
  const aligned = bytes.byteOffset % 8 === 0 && pageSize % 8 === 0;
  for (let p = 0; p < count; p++) {
    const start = p * pageSize;
    const end = Math.min(start + pageSize, bytes.length);
    let nonZero = false;
    if (aligned && end - start === pageSize) {
      const words = new BigUint64Array(bytes.buffer, bytes.byteOffset + start, pageSize / 8);
      for (let i = 0; i < words.length; i++) if (words[i] !== 0n) { nonZero = true; break; }
    } else {
      for (let i = start; i < end; i++) if (bytes[i] !== 0) { nonZero = true; break; }
    }
    if (nonZero) indices.push(p);
  }
  const index = new Uint8Array(indices.length * 4);
  const data = new Uint8Array(indices.length * pageSize);
  const dv = new DataView(index.buffer);
  indices.forEach((p, i) => {
    dv.setUint32(i * 4, p, true);
    const start = p * pageSize;
    data.set(bytes.subarray(start, Math.min(start + pageSize, bytes.length)), i * pageSize);
  });
  return { pageSize, count: indices.length, index, data };
}

/** Refuses a page set that loadPages would not take whole: malformed, a page past `size`, or a page twice. */
function checkPages(v: StateValue | undefined, size: number, pageSize: number, what: string): void {
  const s = asObject(v, what);
  const { index, data } = s;
  if (s.pageSize !== pageSize || !(index instanceof Uint8Array) || !(data instanceof Uint8Array) || index.length % 4 !== 0 ||
      data.length !== (index.length / 4) * pageSize || s.count !== index.length / 4) {
    throw new StateFormatError(`state: ${what} pages are malformed`);
  }
  const pages = Math.ceil(size / pageSize);
  if (index.length / 4 > pages) throw new StateFormatError(`state: more ${what} pages than ${what} has`);
  const dv = new DataView(index.buffer, index.byteOffset, index.byteLength);
  let last = -1;
  for (let i = 0; i < index.length / 4; i++) {
    const p = dv.getUint32(i * 4, true);
    // savePages writes indices in increasing order.
    if (p >= pages) throw new StateFormatError(`state: ${what} page beyond the end`);
    if (p <= last) throw new StateFormatError(`state: ${what} pages out of order or repeated`);
    last = p;
  }
}

/** Writes a page set into `into`; returns the bitmap of the pages written (bit p: page p, 4 KiB pages). */
function loadPages(into: Uint8Array, v: StateValue | undefined, what: string): Uint8Array {
  const s = asObject(v, what);
  const { pageSize, index, data } = s;
  if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 512 || pageSize > 1 << 20) throw new StateFormatError(`state: ${what} page size is bad`);
  if (!(index instanceof Uint8Array) || !(data instanceof Uint8Array) || index.length % 4 !== 0 || data.length !== (index.length / 4) * pageSize) {
    throw new StateFormatError(`state: ${what} pages are malformed`);
  }
  const dv = new DataView(index.buffer, index.byteOffset, index.byteLength);
  const written = new Uint8Array(Math.ceil(into.length / 4096 / 8));
  for (let i = 0; i < index.length / 4; i++) {
    const start = dv.getUint32(i * 4, true) * pageSize;
    if (start >= into.length) throw new StateFormatError(`state: ${what} page beyond the end`);
    const n = Math.min(pageSize, into.length - start);
    into.set(data.subarray(i * pageSize, i * pageSize + n), start);
    for (let p = start >>> 12; p <= (start + n - 1) >>> 12; p++) written[p >> 3]! |= 1 << (p & 7);
  }
  return written;
}

function saveDisk(disk: BlockBackend, base: Uint8Array | undefined): StateValue {
  if (disk instanceof MemoryOverlayDisk && base !== undefined) {
    // The base as it was given (non-zero 4 KiB chunks) plus the overlay, so write-back still knows what changed.
    return {
      byteLength: disk.byteLength,
      base: savePages(base, 4096),
      overlay: disk.saveState() as unknown as StateValue,
    };
  }
  // A persistent disk also names its contents, so a restore knows whether it still holds them.
  const generation = disk.generation?.();
  const whole = disk.read(0, disk.byteLength);
  return {
    byteLength: disk.byteLength,
    base: savePages(whole, 4096),
    overlay: { version: 1, chunkSize: 4096, byteLength: disk.byteLength, chunks: [] },
    ...(generation !== undefined ? { generation } : {}),
  };
}

function markDirty(core: Rv64Core, off: number, len: number): void {
  if (len <= 0) return;
  const bitmap = core.dirtyBitmap();
  const last = (off + len - 1) >>> 12;
  for (let p = off >>> 12; p <= last; p++) bitmap[p >>> 3]! |= 1 << (p & 7);
  // Device DMA over compiled guest code drops those blocks at once (the JIT, when on).
  core.noteHostWrite(BigInt(RAM_BASE + off), len);
}

function randomMac(random: RandomSource | undefined): Uint8Array {
  const mac = new Uint8Array(6);
  (random ?? ((b: Uint8Array) => globalThis.crypto.getRandomValues(b)))(mac);
  mac[0] = (mac[0]! & 0xfe) | 0x02; // locally administered, unicast
  return mac;
}

/** A value from a state for a message: numbers and short strings as they are, anything else by its kind. */
function shown(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40));
  return v === null ? 'null' : typeof v === 'object' ? 'an object' : typeof v;
}

/**
 * The JIT of a machine: a real-time machine compiles in the background (the guest never waits
 * for the compiler); a deterministic one compiles in the foreground, so the same blocks run
 * compiled at the same instruction in every run. The environment (jitDefault) can say otherwise.
 */
function machineJit(deterministic: boolean): false | JitOptions {
  const d = jitDefault();
  if (d === false) return false;
  return { compile: deterministic ? 'sync' : 'async', ...(d === true ? {} : d) };
}
