// How the hypervisor reaches the VM hosts (src/worker/vm-host.ts) that run its VMs: the subset of
// the VmHost API it needs, one connection per host (a worker, or in-process in tests and the CLI),
// and a pool of hosts sized from the machine's cores with least-loaded placement.

import type { CreateVmRequest, ReclaimReport, ScheduleApplied, VmEventListener, VmId, VmInfo, VmSchedule, VmStats } from '../worker/protocol.js';
import type { LiveSaveReport } from '../worker/live-ops.js';
import type { PrecopyOptions } from '../snapshot/precopy.js';
import type { SnapshotMetadataInput } from '../snapshot/format.js';
import type { VmHost } from '../worker/vm-host.js';
import type { ExchangeFile, ExchangeItem } from '../worker/file-exchange.js';

/**
 * The part of VmHost the hypervisor drives, keyed by VM id. A VmHost object satisfies it directly;
 * a comlink Remote<VmHost> does once its event listener is wrapped in comlink's proxy()
 * (see worker-host.ts).
 */
export interface VmHostPort {
  create(request: CreateVmRequest): Promise<VmInfo>;
  start(id: VmId): Promise<VmInfo>;
  pause(id: VmId): Promise<VmInfo>;
  resume(id: VmId): Promise<VmInfo>;
  /** The machine state of a paused VM. */
  saveState(id: VmId): Promise<Uint8Array>;
  /** Replaces a paused VM's machine state. */
  loadState(id: VmId, state: Uint8Array): Promise<VmInfo>;
  destroy(id: VmId): Promise<void>;
  sendConsole(id: VmId, data: Uint8Array | string): void | Promise<void>;
  stats(id: VmId): VmStats | Promise<VmStats>;
  /** Every VM's events (state, console, ready, exit), in order, in batches. */
  subscribe(listener: VmEventListener): number | Promise<number>;
  /**
   * Share and cap of a VM. Every host time-slices and enforces them itself (the slice loop for
   * RV64, a duty cycle for v86); the hypervisor only decides them. The answer says what it applies.
   */
  setSchedule(id: VmId, params: VmSchedule): ScheduleApplied | Promise<ScheduleApplied>;
  /** Asks a VM's guest to give `bytes` of RAM back through its balloon. */
  setBalloon(id: VmId, bytes: number): void | Promise<void>;
  /** Ethernet frames for a VM created with a network card. */
  sendNet(id: VmId, frames: Uint8Array[]): void | Promise<void>;
  /** The VM's exchange folder (VMs created with `exchange`; src/worker/file-exchange.ts). */
  putExchangeFiles(id: VmId, dir: string[], files: ExchangeFile[]): void | Promise<void>;
  takeFromExchange(id: VmId, path: string[]): ExchangeItem | Promise<ExchangeItem>;
  removeFromExchange(id: VmId, path: string[]): void | Promise<void>;
  // Live operations (VmHost has them; a port without them gets the pause-save-resume path).
  /** The machine state of a running or paused VM, RAM pre-copied while the guest runs. */
  saveStateLive?(id: VmId, options?: { keep?: boolean }): Promise<{ state?: Uint8Array; kept?: string; report: LiveSaveReport }>;
  /** A snapshot file encoded in the host (after the guest runs again). */
  snapshotFile?(id: VmId, metadata: SnapshotMetadataInput, options?: { incremental?: boolean }): Promise<{ file: Uint8Array; report: LiveSaveReport; stateBytes: number }>;
  /** Replaces a running or paused VM's machine; built before the pause where the engine can. */
  restoreLive?(id: VmId, state: Uint8Array, file?: { id?: string; baseId?: string }): Promise<{ pauseMs: number; pagesRewritten?: number }>;
  /** Moves the machine into new memory holding only its non-zero pages (RV64); see VmHost.reclaimMemory. */
  reclaimMemory?(id: VmId): Promise<ReclaimReport>;
  /** Sends a VM to a host that accepts it on the other end of `port` (pre-copy). */
  migrateOut?(id: VmId, port: MessagePort, hello: { memoryMiB: number; name?: string }, options?: PrecopyOptions): Promise<LiveSaveReport & { sentBytes: number; totalMs: number }>;
  /** Receives a migration on `port` as a new VM. */
  acceptMigration?(request: AcceptMigrationRequest, port: MessagePort): void | Promise<void>;
}

/** What a receiving host is told about an arriving VM. */
export interface AcceptMigrationRequest {
  id: VmId;
  name?: string;
  readyMarker?: string;
  engine?: string;
  maxMemoryMiB?: number;
  nic?: { mac: string };
  /** Give the arriving VM an exchange folder (CreateVmRequest.exchange); its files stay behind. */
  exchange?: boolean;
}

/** One live host: its port, a way to learn that it died, and a way to end it. */
export interface HostConnection {
  readonly port: VmHostPort;
  /** A label for messages ("worker 2"). */
  readonly label: string;
  /** Called at most once, when the host dies on its own (worker exit, uncaught error). */
  onDeath(listener: (reason: string) => void): void;
  /** Ends the host and every VM in it. */
  close(): Promise<void>;
}

/** Starts a new host (a worker). */
export type HostFactory = (index: number) => Promise<HostConnection>;

/** A VmHost in this thread: no worker, so nothing can kill it but the process. */
export function inProcessHost(host: VmHost, label = 'in-process host'): HostConnection {
  return {
    port: host,
    label,
    onDeath: () => {},
    close: () => host.destroyAll(),
  };
}

/** A slot of the pool: a host (once started) and what runs on it. */
export interface HostSlot {
  readonly index: number;
  connection: HostConnection | undefined;
  starting: Promise<HostConnection> | undefined;
  /** Ids of the VM instances placed here (the hypervisor's host-side ids). */
  readonly vms: Set<string>;
}

/** Number of hosts for this machine: one per core, at least one (in Node 20 use nodePoolSize()). */
export function defaultPoolSize(): number {
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency : undefined;
  return Math.max(1, cores ?? 1);
}

/**
 * A fixed number of host slots, started lazily. Placement picks the slot with the fewest VMs, so
 * VMs spread over workers (one failure domain each) before they share one.
 */
export class HostPool {
  readonly slots: HostSlot[];

  constructor(
    private readonly factory: HostFactory,
    size: number,
    private readonly onHostEvent: (slot: HostSlot, connection: HostConnection) => Promise<void>,
    private readonly onHostDeath: (slot: HostSlot, reason: string) => void,
  ) {
    const n = Math.max(1, Math.floor(size));
    this.slots = Array.from({ length: n }, (_, index) => ({ index, connection: undefined, starting: undefined, vms: new Set<string>() }));
  }

  /** The least loaded slot; among equals, one whose host already runs (no start-up cost). */
  leastLoaded(): HostSlot {
    let best = this.slots[0]!;
    for (const slot of this.slots) {
      const fewer = slot.vms.size < best.vms.size;
      const sameButLive = slot.vms.size === best.vms.size && slot.connection && !best.connection;
      if (fewer || sameButLive) best = slot;
    }
    return best;
  }

  /** The slot's host, started if needed. */
  async connect(slot: HostSlot): Promise<HostConnection> {
    if (slot.connection) return slot.connection;
    if (!slot.starting) {
      slot.starting = (async () => {
        try {
          const connection = await this.factory(slot.index);
          let died: string | undefined;
          connection.onDeath((reason) => {
            died = reason;
            if (slot.connection !== connection) return;
            slot.connection = undefined;
            this.onHostDeath(slot, reason);
          });
          await this.onHostEvent(slot, connection);
          // A host that died while starting must not take the slot: the next placement retries.
          if (died !== undefined) throw new Error(`${connection.label} died while starting: ${died}`);
          slot.connection = connection;
          return connection;
        } finally {
          slot.starting = undefined;
        }
      })();
    }
    return slot.starting;
  }

  async closeAll(): Promise<void> {
    const live = this.slots.map((s) => s.connection).filter((c): c is HostConnection => c !== undefined);
    for (const slot of this.slots) slot.connection = undefined;
    await Promise.allSettled(live.map((c) => c.close()));
  }
}
