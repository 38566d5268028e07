// The live operations of a VM host (vm-host.ts): saving, restoring, cloning and moving a VM while
// its guest runs. The pre-copy and the migration conversation are in live-ops.ts; this file
// applies them to the host's VMs (which it reaches through LiveHost) and keeps the results where
// they belong: snapshot files encoded in the worker, states kept for a clone in this worker, a
// received VM created and started here.
import { transfer } from 'comlink';
import type { HostOperation } from '../hypervisor/state-machine.js';
import type { Engine } from '../engines/engine.js';
import type { PreparedMachine } from '../engines/rv64/engine.js';
import type { AcceptMigrationRequest } from '../hypervisor/host-port.js';
import { ENGINE_STATE_SECTION, SnapshotWriter, type SnapshotMetadataInput } from '../snapshot/format.js';
import { INCREMENTAL_BASE_KEY, snapshotFileId } from '../snapshot/incremental.js';
import { precopyOptionsProblem, type PrecopyOptions } from '../snapshot/precopy.js';
import { portChannel, MigrationRefused, type MigrationMessage, type MigrationReply } from '../snapshot/migration-stream.js';
import { migrateIn, migrateOut, saveLive, type LiveSaveReport, type LiveVm } from './live-ops.js';
import type { BaseCapable, HostedVm } from './hosted-vm.js';
import type { CreateVmRequest, ReclaimReport, VmId, VmInfo } from './protocol.js';
import type { CompactReport } from '../engines/rv64/compact.js';

/** What the live operations need of their host. */
export interface LiveHost {
  /** The VM, checked against the host's rules for `operation`. */
  require(id: VmId, operation?: HostOperation): HostedVm;
  /** The live operations' view of a hosted VM (held without a state change). */
  liveVm(vm: HostedVm): LiveVm;
  create(request: CreateVmRequest): Promise<VmInfo>;
  start(id: VmId): Promise<VmInfo>;
  destroy(id: VmId): Promise<void>;
  /** Keeps a state in this host for a later create() (a clone); answers its name. */
  keep(state: Uint8Array): string;
  now(): number;
  /** A full garbage collection where the platform allows one (VmHostOptions.collectGarbage). */
  collectGarbage(): void;
}

export class HostLiveOps {
  constructor(private readonly host: LiveHost) {}

  /**
   * The machine state of a running or paused VM, taken live where the engine tracks dirty pages
   * (RAM pre-copied while the guest runs, then a short pause); `report.pauseMs` is how long the
   * guest stood still. Transferred, not copied, to the caller.
   */
  async saveStateLive(id: VmId, options: { keep?: boolean } = {}): Promise<{ state?: Uint8Array; kept?: string; report: LiveSaveReport }> {
    const vm = this.host.require(id, 'live');
    const { state, report } = await saveLive(this.host.liveVm(vm));
    if (options.keep) {
      // Kept here for a create() in this host (a clone): the state never leaves the worker.
      return { kept: this.host.keep(state), report };
    }
    return transfer({ state, report }, [state.buffer]);
  }

  /**
   * Gives what the guest freed (free page reporting, balloon) back to the host: the machine moves
   * into a new core whose memory holds only its non-zero pages (engines that can: RV64,
   * src/engines/rv64/compact.ts); the old memory goes with the old core. The guest runs during the
   * copy and stands still for the pages written meanwhile and the swap.
   */
  async reclaimMemory(id: VmId): Promise<ReclaimReport> {
    const vm = this.host.require(id, 'live');
    const engine = vm.engine as Engine & Partial<{ compact(ctl: { pause(): Promise<void>; resume(): Promise<void>; yieldToGuest(): Promise<void> }): Promise<CompactReport & { pauseMs: number }> }>;
    if (!engine.compact) throw new Error(`the ${vm.info.engine} engine cannot give memory back (only rv64 can)`);
    const live = this.host.liveVm(vm);
    let paused = false;
    const r = await engine.compact({
      pause: async () => {
        if (live.running()) {
          await live.pause();
          paused = true;
        }
      },
      resume: async () => {
        if (paused) await live.resume();
        paused = false;
      },
      yieldToGuest: () => live.yieldNow(),
    });
    // The old core (and its memory) is unreachable now; collect it once this call has unwound.
    setTimeout(() => this.host.collectGarbage(), 0);
    return { pauseMs: r.pauseMs, pagesKept: r.pagesCopied + r.pagesInPause, pagesTotal: r.pagesTotal };
  }

  /**
   * A whole snapshot file of a running or paused VM, encoded here (compression and hash happen
   * in this worker, after the guest runs again) and transferred to the caller. `metadata` is the
   * caller's (engine, image, memory, the hypervisor's facts).
   */
  async snapshotFile(
    id: VmId,
    metadata: SnapshotMetadataInput,
    options: { incremental?: boolean } = {},
  ): Promise<{ file: Uint8Array; report: LiveSaveReport; stateBytes: number; incremental: boolean }> {
    const vm = this.host.require(id, 'live');
    const bases = vm.engine as Engine & Partial<BaseCapable>;
    if (options.incremental) {
      // Only the pages written since the VM's base (its last whole snapshot or restore), in a pause.
      const baseId = bases.baseId;
      if (!baseId || !bases.incrementalState) throw new Error(`VM ${id} has no base for an incremental snapshot: take a whole one first (or restore one)`);
      const live = this.host.liveVm(vm);
      const wasRunning = live.running();
      const t0 = this.host.now();
      if (wasRunning) await live.pause();
      let state: Uint8Array;
      try {
        state = bases.incrementalState();
      } finally {
        if (wasRunning) await live.resume();
      }
      const pauseMs = wasRunning ? this.host.now() - t0 : 0;
      const meta = { ...metadata, extra: { ...metadata.extra, [INCREMENTAL_BASE_KEY]: baseId } };
      const file = await new SnapshotWriter(meta).addSection(ENGINE_STATE_SECTION, state).encode();
      const report: LiveSaveReport = { pauseMs, live: false, rounds: [], finalPages: 0 };
      return transfer({ file, report, stateBytes: state.length, incremental: true }, [file.buffer]);
    }
    const { state, report } = await saveLive(this.host.liveVm(vm));
    const file = await new SnapshotWriter(metadata).addSection(ENGINE_STATE_SECTION, state).encode();
    // This file is the base later incremental snapshots and resets are measured from.
    bases.setBase?.(snapshotFileId(file), state);
    return transfer({ file, report, stateBytes: state.length, incremental: false }, [file.buffer]);
  }

  /**
   * Replaces a running or paused VM's machine with `state`. Where the engine can (RV64), the new
   * machine is built and checked while the old one runs; the guest pauses only for the swap.
   * A state the engine refuses leaves the VM as it was. Answers how long the guest stood still.
   */
  async restoreLive(id: VmId, state: Uint8Array, file: { id?: string; baseId?: string } = {}): Promise<{ pauseMs: number; pagesRewritten?: number }> {
    const vm = this.host.require(id, 'live');
    const engine = vm.engine as Engine & Partial<{ prepareState(s: Uint8Array): Promise<PreparedMachine>; commitState(p: PreparedMachine): void } & BaseCapable>;
    const live = this.host.liveVm(vm);
    const wasRunning = live.running();
    vm.input.clear(); // typed for the machine being replaced
    if (file.id !== undefined && engine.baseId === file.id && engine.resetToBase) {
      // The VM's own base (a template, its last snapshot): rewrite only the pages written since.
      const t0 = this.host.now();
      if (wasRunning) await live.pause();
      let pagesRewritten: number;
      try {
        pagesRewritten = engine.resetToBase();
      } finally {
        if (wasRunning) await live.resume();
      }
      return { pauseMs: this.host.now() - t0, pagesRewritten };
    }
    if (file.baseId !== undefined) {
      if (!engine.stateFromDelta) throw new Error(`the ${vm.info.engine} engine has no incremental snapshots`);
      state = engine.stateFromDelta(state, file.baseId);
    }
    if (!engine.prepareState || !engine.commitState) {
      const t0 = this.host.now();
      if (wasRunning) await live.pause();
      try {
        await vm.engine.loadState(state);
      } finally {
        if (wasRunning) await live.resume();
      }
      return { pauseMs: this.host.now() - t0 };
    }
    const prepared = await engine.prepareState(state);
    const t0 = this.host.now();
    if (wasRunning && vm.info.state === 'running') await live.pause();
    engine.commitState(prepared);
    // A whole file becomes the base (an incremental one keeps the base it was taken over).
    if (file.id !== undefined && file.baseId === undefined) engine.setBase?.(file.id, state);
    if (wasRunning && vm.info.state === 'running') await live.resume();
    return { pauseMs: this.host.now() - t0 };
  }

  /**
   * A new VM in this host with the machine of `id` (taken live, see saveStateLive): no RAM leaves
   * the worker. The new VM is created, not started; `request` names it.
   */
  async cloneLocal(id: VmId, request: { id: VmId; name?: string; readyMarker?: string; cmdline?: string }): Promise<{ info: VmInfo; report: LiveSaveReport }> {
    const vm = this.host.require(id, 'live');
    const { state, report } = await saveLive(this.host.liveVm(vm));
    const info = await this.host.create({
      id: request.id,
      ...(request.name ? { name: request.name } : {}),
      ...(request.readyMarker ? { readyMarker: request.readyMarker } : {}),
      config: { engine: vm.info.engine, memoryMiB: vm.info.memoryMiB, ...(request.cmdline !== undefined ? { cmdline: request.cmdline } : {}), state },
    });
    return { info, report };
  }

  /**
   * Sends VM `id` over `port` to a host that called acceptMigration, with iterative pre-copy; the
   * guest runs until the short final pause. On success the VM here is destroyed (the target runs
   * it); on any failure or refusal it keeps running here and the error says why.
   */
  async migrateOut(
    id: VmId, port: MessagePort, hello: { memoryMiB: number; name?: string }, options: PrecopyOptions = {},
  ): Promise<LiveSaveReport & { sentBytes: number; totalMs: number }> {
    const vm = this.host.require(id, 'live');
    const problem = precopyOptionsProblem(options);
    if (problem) throw new Error(problem);
    const report = await migrateOut(this.host.liveVm(vm), portChannel<MigrationMessage, MigrationReply>(port), hello, options);
    await this.host.destroy(id);
    return report;
  }

  /**
   * Receives a migration on `port` as VM `request.id` (in the background: the conversation is
   * driven by the sender). Refuses an engine or memory size other than `expect` says.
   */
  acceptMigration(request: AcceptMigrationRequest, port: MessagePort): void {
    void migrateIn(portChannel<MigrationReply, MigrationMessage>(port), {
      accept: async (hello) => {
        if (request.engine !== undefined && hello.engine !== request.engine) {
          throw new MigrationRefused(`this host expects a ${request.engine} machine, not ${hello.engine}`);
        }
        if (request.maxMemoryMiB !== undefined && hello.memoryMiB > request.maxMemoryMiB) {
          throw new MigrationRefused(`the machine has ${hello.memoryMiB} MiB of RAM but only ${request.maxMemoryMiB} MiB is free here`);
        }
        await this.host.create({
          id: request.id,
          ...(request.name ? { name: request.name } : {}),
          ...(request.readyMarker ? { readyMarker: request.readyMarker } : {}),
          ...(request.nic ? { nic: request.nic } : {}),
          ...(request.exchange ? { exchange: true } : {}),
          config: { engine: hello.engine, memoryMiB: hello.memoryMiB, state: hello.state },
        });
        return this.host.require(request.id).engine;
      },
      start: async () => {
        await this.host.start(request.id);
      },
      discard: () => this.host.destroy(request.id),
    }).catch(() => undefined);
  }
}
