// The one interface the hypervisor, the CLI and the UI see for every CPU engine.
// An engine is the only code that knows which CPU it drives (ARCHITECTURE.md, "Layers").

import type { BlockBackend } from '../devices/backends/disk.js';
import type { FileShare } from '../devices/backends/file-share.js';
import type { NetBackend } from '../devices/backends/net.js';

/** Loads a file the engine needs (image, firmware, wasm): fs in Node, fetch in the page. */
export interface AssetLoader {
  /** Returns the bytes of `path` (relative to the project root, e.g. "images/x86-busybox/bzImage"). */
  load(path: string): Promise<Uint8Array>;
  /** Absolute path or URL of an asset, for libraries that want to fetch it themselves. */
  resolve(path: string): string;
}

/** One entry of images/manifest.json (see docs/IMAGES.md). Paths are relative to the project root. */
export interface ImageEntry {
  name: string;
  description?: string;
  arch: 'riscv64' | 'i686';
  engine: EngineKind;
  /** Firmware (OpenSBI fw_jump.bin for rv64, SeaBIOS bios.bin for v86). */
  firmware?: string;
  /** VGA BIOS for v86, optional. */
  vgaBios?: string;
  kernel: string;
  initrd?: string;
  cmdline: string;
  /** Guest memory in MiB. */
  memoryMiB: number;
  /** The line the image's init prints when the shell is ready. */
  readyMarker: string;
  /**
   * v86 only: the machine has v86's ACPI device and a local APIC (v86's `acpi` option), for a
   * kernel that ticks on the APIC timer (an idle guest then sleeps until its next timer, not
   * every ~27 ms, the PIT's limit; docs/IMAGES.md). Off for kernels that would power off
   * through ACPI, which v86 ignores.
   */
  acpi?: boolean;
  /** sha256 (hex) of every file named above, keyed by path. */
  sha256: Record<string, string>;
}

export type EngineKind = 'rv64' | 'v86';

/** What a VM is booted from: a manifest image, or loose files (CLI --kernel/--firmware/--initrd). */
export interface BootConfig {
  engine: EngineKind;
  memoryMiB: number;
  kernel?: Uint8Array;
  firmware?: Uint8Array;
  vgaBios?: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /**
   * Virtual disk: an image (read-only base; writes go to an in-memory overlay), or a block back end
   * that keeps the writes itself (the CLI's file disk, src/devices/backends/file-disk.ts).
   */
  disk?: Uint8Array | BlockBackend;
  /** A folder shared with the guest over 9p (mount tag `hostshare`; src/devices/p9). Host side only. */
  share?: FileShare;
  /** The host side of a NIC; the guest gets a network card when this is given. */
  net?: NetBackend;
  /** The NIC's MAC address ('52:54:00:12:34:56'); a random one when absent. */
  mac?: string;
  /** Start from this saved state instead of booting. */
  state?: Uint8Array;
  /** v86: boot with ACPI and a local APIC (ImageEntry.acpi). A saved state brings its own. */
  acpi?: boolean;
  /** Time derived from instructions retired, so that runs are reproducible (rv64). */
  deterministic?: boolean;
  /**
   * Restoring `state` onto a persistent `disk` (one with generation()): when the disk no longer
   * holds what the state was saved with, 'copy' puts the state's disk contents on it (a snapshot
   * restore or a clone), 'refuse' fails with BadStateError and leaves the disk alone (resuming
   * saved work must never undo writes the guest synced since). Default 'copy'.
   */
  diskOnRestore?: 'copy' | 'refuse';
}

export type ExitReason =
  | { kind: 'poweroff'; code: number }
  | { kind: 'reboot' }
  | { kind: 'crash'; message: string };

export interface EngineStats {
  /** Guest instructions retired since boot (or since the state was loaded). */
  instructions: number;
  /** Milliseconds the engine spent running guest code. */
  runMs: number;
  /** Guest RAM in bytes. */
  memoryBytes: number;
  /** Bytes the guest's balloon holds (given back to the host), when the machine has a balloon. */
  balloonBytes?: number;
  /** Bytes the host asked the balloon for. */
  balloonTargetBytes?: number;
  /** Bytes of free memory the guest reported since boot (dropped from RAM, snapshots, migration). */
  freedReportedBytes?: number;
  /** The JIT's code cache, when the engine has our JIT (rv64): see JitFigures. */
  jit?: JitFigures;
}

/**
 * What the rv64 JIT holds for one VM now: wasm code emitted since its last flush and the modules
 * it is in (both bounded, docs/JIT.md), and what it did since the engine started. Its tables in
 * the core's memory are a fixed 0.4 MiB, not counted here.
 */
export interface JitFigures {
  codeBytes: number;
  modules: number;
  regions: number;
  /** Guest instructions run in compiled code. */
  instructions: number;
}

/**
 * A running (or paused) guest machine. Console bytes flow through listeners so the same engine
 * serves a terminal, a pipe or a test. All methods may be called from a worker or the main thread.
 */
export interface Engine {
  readonly kind: EngineKind;
  /** Boots (or restores the state given in the BootConfig) and starts running. */
  start(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  readonly running: boolean;
  /** Captures the whole machine state; the engine must be paused. */
  saveState(): Promise<Uint8Array>;
  /** Replaces the machine state; the engine must be paused. */
  loadState(state: Uint8Array): Promise<void>;
  /** Stops the guest for good and frees its memory. */
  destroy(): Promise<void>;
  /** Bytes typed on the guest's console. */
  sendConsole(data: Uint8Array | string): void;
  /**
   * True once the guest's console driver can receive (its serial port was opened): bytes sent
   * earlier may be discarded by the driver's start-up. Engines that cannot tell leave it out.
   */
  consoleReceiving?(): boolean;
  /**
   * Console input bytes the guest has not read yet from its device (engines that can tell): the
   * console pacer (src/worker/console-pacer.ts) waits for 0 after a terminal's cursor report.
   */
  consoleInputWaiting?(): number;
  /** Subscribes to console output; returns the unsubscribe function. */
  onConsole(listener: (data: Uint8Array) => void): () => void;
  /** Called once when the guest powers off, reboots (when not handled) or crashes. */
  onExit(listener: (reason: ExitReason) => void): () => void;
  stats(): EngineStats;
  /** Asks the guest to give `bytes` of its RAM back through its balloon driver (engines that have one). */
  setBalloon?(bytes: number): void;
}
