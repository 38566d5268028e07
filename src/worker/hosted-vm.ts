// One VM as a VM host holds it (vm-host.ts), and the small pieces around it: its network card
// as the host sees it, its persistent disk, and what engines with a base for incremental
// snapshots offer. Shared by the host and its live operations (vm-host-live.ts).
import type { Engine } from '../engines/engine.js';
import type { NetBackend } from '../devices/backends/net.js';
import type { BlockBackend } from '../devices/backends/disk.js';
import type { MemoryFileShare } from '../devices/backends/memory-file-share.js';
import type { DutyCycleCap } from './duty-cycle-cap.js';
import type { MarkerWatcher } from './marker-watcher.js';
import type { SliceableEngine } from './sliced-engine.js';
import type { VmInfo } from './protocol.js';
import type { ConsolePacer } from './console-pacer.js';

/** A persistent disk as a host holds it: closing flushes it and lets its storage go. */
export type OpenedDisk = BlockBackend & { close(): void };

export interface HostedVm {
  info: VmInfo;
  engine: Engine;
  /** The last step of console input: a terminal's cursor report goes in alone. */
  input: ConsolePacer;
  /** Set for an engine the host's slice loop drives (the same object as `engine`). */
  sliced: SliceableEngine | undefined;
  schedule: { weight: number; capPercent: number | undefined };
  /** The duty cycle of a capped engine that runs its own loop. */
  cap: DutyCycleCap | undefined;
  /** A lifted cap releasing its engine (pause waits for it, so the release cannot undo a pause). */
  capReleasing?: Promise<void>;
  marker: MarkerWatcher | null;
  unsubscribe: Array<() => void>;
  /** The host side of the VM's network card, when it has one. */
  nic?: HostNic;
  /** The VM's exchange folder (CreateVmRequest.exchange). */
  exchange?: MemoryFileShare;
  /** The snapshot file the VM is made from, to become its base once started. */
  base?: { id: string; state: Uint8Array };
  /** The VM's persistent disk, closed after its engine is destroyed. */
  disk?: OpenedDisk;
  startedAt?: number;
  firstOutputMs?: number;
  readyMs?: number;
}

/** Engines that keep a base for incremental snapshots and resets (RV64). */
export interface BaseCapable {
  readonly baseId: string | undefined;
  setBase(id: string, state: Uint8Array): void;
  incrementalState(): Uint8Array;
  resetToBase(): number;
  stateFromDelta(delta: Uint8Array, baseId: string): Uint8Array;
}

/** A VM's network card as the host sees it: frames out become events, frames in go to the device. */
export class HostNic implements NetBackend {
  private receiver: ((frame: Uint8Array) => void) | undefined;
  constructor(readonly send: (frame: Uint8Array) => void) {}
  connect(receive: (frame: Uint8Array) => void): void {
    this.receiver = receive;
  }
  deliver(frame: Uint8Array): void {
    this.receiver?.(frame);
  }
}

/** Flushes and closes a VM's disk; a failure here cannot be reported to a guest that is gone. */
export function closeDisk(disk: OpenedDisk | undefined): void {
  try {
    disk?.close();
  } catch {
    // what the guest flushed is durable already
  }
}
