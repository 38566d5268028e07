// The hypervisor: the one place that decides which VMs exist, where they run, how much memory
// they hold and what state they are in. The same class runs in the page and in Node; it drives
// VM hosts (workers) through VmHostPort and never touches an engine itself.
//
// Every user call goes through `perform()`: it serializes calls per VM, checks the call against
// the lifecycle table (state-machine.ts) before doing anything, and records the outcome through
// VmStateMachine.apply, the only code that changes a VM's state. What hosts report on their own
// (boot done, guest power-off, engine crash, worker death) arrives as signals through `signal()`.

import type { BootConfig, EngineKind, ExitReason, ImageEntry } from '../engines/engine.js';
import { ENGINE_STATE_SECTION, readSnapshot, SnapshotFormatError, SnapshotWriter, type Snapshot } from '../snapshot/index.js';
import type { CreateVmRequest, VmEvent } from '../worker/protocol.js';
import { ConsoleLog } from './console-log.js';
import { HypervisorError } from './errors.js';
import { TypedEmitter } from './events.js';
import { defaultPoolSize, HostPool, type HostConnection, type HostFactory, type HostSlot, type VmHostPort } from './host-port.js';
import { newIdentity, parseIdentity, type VmIdentity } from './identity.js';
import { formatBytes, MemoryBudget, type MemoryUsage } from './memory-budget.js';
import { VmStateMachine, type VmAction, type VmSignal, type VmState, type VmTransition } from './state-machine.js';

const MiB = 1024 * 1024;

/** Section name the first hypervisor snapshots used for the engine state; still read. */
const LEGACY_MACHINE_SECTION = 'machine';
/** Key of the hypervisor's facts inside SnapshotMetadata.extra. */
const META_KEY = 'tabvisorVm';

export interface HypervisorOptions {
  /** The images VMs can be made from (images/manifest.json). */
  images: readonly ImageEntry[];
  /** Guest memory all VMs together may reserve, in bytes. */
  memoryBudgetBytes: number;
  /** Starts a VM host (a worker) for slot `index` of the pool. */
  hosts: HostFactory;
  /** Number of hosts; one per core (navigator.hardwareConcurrency) by default, at least 1. */
  poolSize?: number;
  /** Monotonic milliseconds, for CPU shares; performance.now by default. */
  now?: () => number;
  /**
   * Period of the duty cycle that enforces caps on VMs whose host cannot time-slice (each v86
   * VM runs flat out in its own loop): a VM capped at 25% runs a quarter of each period and is
   * paused for the rest. 100 ms by default.
   */
  capPeriodMs?: number;
}

export interface CreateVmOptions {
  /** Image name from the manifest. */
  image: string;
  /** Unique among live VMs; `<image>-<n>` by default. */
  name?: string;
  /** Guest RAM; the image's default when absent. */
  memoryMiB?: number;
  /** Relative CPU share when VMs share a host; 1 by default. */
  weight?: number;
  /** At most this % of one core; none by default. */
  capPercent?: number;
}

export interface ImportSnapshotOptions {
  name?: string;
  weight?: number;
  capPercent?: number;
  /** 'keep' the identity saved in the file (a moved VM) or make a 'new' one (a copy). Default 'keep'. */
  identity?: 'keep' | 'new';
}

export interface VmSummary {
  id: string;
  name: string;
  image: string;
  engine: EngineKind;
  state: VmState;
  memoryMiB: number;
  weight: number;
  capPercent: number | undefined;
  identity: VmIdentity;
  /** The guest printed its image's ready marker (its shell is up). */
  ready: boolean;
  /** Pool slot of the host running it, while it has an engine. */
  host: number | undefined;
  /** Paused by the cap's duty cycle right now (its lifecycle state stays running). */
  throttled: boolean;
  /** Why it crashed, while crashed. */
  crashReason?: string;
}

export interface VmStatsReport {
  id: string;
  name: string;
  state: VmState;
  /** Guest instructions retired by the current engine instance. */
  instructions: number;
  /** Guest instructions per microsecond of wall time since the previous stats() call (or start). */
  mips: number;
  /** Fraction of one core spent running this guest since the previous stats() call (or start). */
  cpuShare: number;
  memoryBytes: number;
  reservedBytes: number;
  firstOutputMs?: number;
  readyMs?: number;
}

export interface MigrationReport {
  vm: VmSummary;
  fromHost: number;
  toHost: number;
  /** How long the guest was paused: save, transfer, load. */
  pauseMs: number;
  /** Size of the machine state carried over. */
  stateBytes: number;
}

export interface ConsoleAttachment {
  send(data: Uint8Array | string): Promise<void>;
  detach(): void;
}

export interface HypervisorEvents {
  /** Every lifecycle change of every VM (from the state machine). */
  transition: VmTransition;
  /** A VM's guest printed its ready marker. */
  ready: { vmId: string; vmName: string };
  /** Boot progress from a host ("Loading kernel ..."). */
  progress: { vmId: string; vmName: string; message: string };
}

class ManagedVm {
  /** Creation order (ids are `vm-<seq>`). */
  readonly seq: number;
  readonly console = new ConsoleLog();
  readonly consoleListeners = new Set<(data: Uint8Array) => void>();
  machine!: VmStateMachine;
  slot: HostSlot | undefined;
  /** The id of the current engine instance in its host: `<vm id>~<generation>`. */
  instance: string | undefined;
  generation = 0;
  ready = false;
  /** Console input typed while paused: delivered on resume, so no engine has to queue it. */
  pendingInput: Array<Uint8Array | string> = [];
  /** Console offset where the current engine instance began (its boot output starts here). */
  bootOffset = 0;
  crashReason: string | undefined;
  queue: Promise<unknown> = Promise.resolve();
  /** Host-paused by the cap governor while the lifecycle state is running. */
  throttled = false;
  capTimer: ReturnType<typeof setTimeout> | undefined;
  capStepQueued = false;
  /** Start of the current cap cycle: wall time and the engine's runMs then. */
  capBase: { at: number; runMs: number } | undefined;
  sample: { at: number; instructions: number; runMs: number } | undefined;

  constructor(
    readonly id: string,
    public name: string,
    readonly image: ImageEntry,
    readonly memoryMiB: number,
    public weight: number,
    public capPercent: number | undefined,
    public identity: VmIdentity,
  ) {
    this.seq = Number(id.slice(id.lastIndexOf('-') + 1));
  }

  get state(): VmState {
    return this.machine.state as VmState;
  }
}

export class Hypervisor {
  readonly events = new TypedEmitter<HypervisorEvents>();
  readonly memory: MemoryBudget;
  private readonly images = new Map<string, ImageEntry>();
  private readonly vms = new Map<string, ManagedVm>();
  /** Engine instance id -> VM, for routing host events. Only current instances are here. */
  private readonly instances = new Map<string, ManagedVm>();
  private readonly pool: HostPool;
  private readonly now: () => number;
  private nextId = 1;
  private closed = false;
  /** Names of VMs being created (not registered yet), so two creates cannot take one name. */
  private readonly admitting = new Set<string>();
  private readonly capPeriodMs: number;

  constructor(options: HypervisorOptions) {
    for (const image of options.images) this.images.set(image.name, image);
    this.memory = new MemoryBudget(options.memoryBudgetBytes);
    this.now = options.now ?? (() => performance.now());
    this.capPeriodMs = options.capPeriodMs ?? 100;
    // Caps follow the lifecycle: every transition may start or end a VM's duty cycle.
    this.events.on('transition', (t) => {
      const vm = this.vms.get(t.vmId);
      if (vm?.machine) this.governCap(vm); // (no machine yet while 'create' is being emitted)
    });
    this.pool = new HostPool(
      options.hosts,
      options.poolSize ?? defaultPoolSize(),
      (slot, connection) => this.listenTo(slot, connection),
      (slot, reason) => this.hostDied(slot, reason),
    );
  }

  // --- queries ------------------------------------------------------------------------------

  imageNames(): string[] {
    return [...this.images.keys()];
  }

  image(name: string): ImageEntry | undefined {
    return this.images.get(name);
  }

  /** Every VM, in the order they were created. */
  list(): VmSummary[] {
    return [...this.vms.values()].sort((x, y) => x.seq - y.seq).map((vm) => this.summary(vm));
  }

  /** A VM by id or name. */
  get(ref: string): VmSummary {
    return this.summary(this.find(ref));
  }

  has(ref: string): boolean {
    return this.vms.has(ref) || [...this.vms.values()].some((vm) => vm.name === ref);
  }

  memoryUsage(): MemoryUsage {
    return this.memory.usage();
  }

  /** Number of hosts in the pool and the VM instances on each. */
  hostLoad(): number[] {
    return this.pool.slots.map((s) => s.vms.size);
  }

  // --- lifecycle ----------------------------------------------------------------------------

  /** Registers a VM, reserves its memory and loads its image into a host. It does not boot it. */
  async create(options: CreateVmOptions): Promise<VmSummary> {
    const vm = this.newVm(options.image, options, newIdentity());
    await this.admit(vm, {});
    return this.summary(vm);
  }

  async start(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'start', async (vm) => {
      vm.machine.apply('start');
      await this.boot(vm, {});
    });
  }

  async pause(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'pause', async (vm) => {
      // A throttled VM is already paused in its host; it only changes its lifecycle state.
      if (!vm.throttled) await this.hostCall(vm, 'pause', (port, id) => port.pause(id));
      vm.throttled = false;
      this.finish(vm, 'pause');
    });
  }

  async resume(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'resume', async (vm) => {
      await this.hostCall(vm, 'resume', (port, id) => port.resume(id));
      this.finish(vm, 'resume');
      for (const data of vm.pendingInput.splice(0)) {
        await this.hostCall(vm, 'console input', (port, id) => port.sendConsole(id, data), 'throw');
      }
    });
  }

  /** Powers the VM off and frees its engine; its memory stays reserved until delete. */
  async stop(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'stop', async (vm) => {
      await this.discardInstance(vm);
      this.finish(vm, 'stop');
    });
  }

  /** Discards the machine and boots the image again. */
  async reset(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'reset', async (vm) => {
      await this.discardInstance(vm);
      vm.machine.apply('reset');
      await this.boot(vm, {});
    });
  }

  /** Forgets a created, stopped or crashed VM and releases its memory. */
  async delete(ref: string): Promise<void> {
    await this.perform(ref, 'delete', async (vm) => {
      await this.discardInstance(vm);
      this.memory.release(vm.id);
      this.finish(vm, 'delete');
      vm.consoleListeners.clear();
      this.vms.delete(vm.id);
    });
  }

  // --- state --------------------------------------------------------------------------------

  /** Saves the whole machine as a snapshot file (a running VM pauses for the time of the save). */
  async snapshot(ref: string): Promise<Uint8Array> {
    let file!: Uint8Array;
    await this.perform(ref, 'snapshot', async (vm) => {
      const state = await this.captureState(vm, 'snapshot');
      file = await this.encodeSnapshot(vm, state);
      this.finish(vm, 'snapshot');
    });
    return file;
  }

  /** A snapshot file and a file name for it, for download or `tabvisor run --restore`. */
  async exportSnapshot(ref: string): Promise<{ fileName: string; bytes: Uint8Array }> {
    const bytes = await this.snapshot(ref);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return { fileName: `${this.find(ref).name}-${stamp}.tvsnap`, bytes };
  }

  /** Replaces the VM's machine with the one in a snapshot file, and runs it. */
  async restore(ref: string, file: Uint8Array): Promise<VmSummary> {
    const target = this.find(ref);
    const snap = await this.decodeSnapshot(file, `cannot restore VM '${target.name}'`);
    return this.perform(ref, 'restore', async (vm) => {
      this.checkCompatible(vm, snap);
      await this.loadMachine(vm, engineState(snap), readMeta(snap).ready);
      this.finish(vm, 'restore');
    });
  }

  /** A new running VM with this one's machine state and a new identity (MAC, entropy, UUID). */
  async clone(ref: string, options: { name?: string } = {}): Promise<VmSummary> {
    const source = this.find(ref);
    const copy = this.newVm(source.image.name, {
      name: options.name ?? this.freshName(`${source.name}-clone`),
      memoryMiB: source.memoryMiB,
      weight: source.weight,
      capPercent: source.capPercent,
    }, newIdentity(source.id));
    // Reserve before pausing the source: a clone that cannot fit must not disturb anything.
    this.memory.reserve(copy.id, copy.name, copy.memoryMiB * MiB);
    let state!: Uint8Array;
    let ready = false;
    try {
      await this.perform(ref, 'clone', async (vm) => {
        state = await this.captureState(vm, 'clone');
        ready = vm.ready;
        this.finish(vm, 'clone');
      });
    } catch (error) {
      this.memory.release(copy.id);
      throw error;
    }
    await this.admit(copy, { state, ready, reserved: true });
    return this.summary(copy);
  }

  /** A new running VM from a snapshot file (exported here, by another tab or by the CLI). */
  async importSnapshot(file: Uint8Array, options: ImportSnapshotOptions = {}): Promise<VmSummary> {
    const snap = await this.decodeSnapshot(file, 'cannot import the snapshot');
    const meta = readMeta(snap);
    const imageName = snap.metadata.image;
    if (!imageName || !this.images.has(imageName)) {
      throw new HypervisorError(
        'bad-snapshot',
        `cannot import the snapshot: it was taken from image '${imageName ?? '(none)'}', which is not in the manifest`,
      );
    }
    const identity = options.identity === 'new' || !meta.identity ? newIdentity() : meta.identity;
    const vm = this.newVm(imageName, {
      name: options.name ?? (meta.name && !this.has(meta.name) ? meta.name : undefined),
      memoryMiB: snap.metadata.memoryMiB,
      weight: options.weight ?? meta.weight,
      capPercent: options.capPercent ?? meta.capPercent,
    }, identity);
    this.checkCompatible(vm, snap);
    await this.admit(vm, { state: engineState(snap), ready: meta.ready });
    return this.summary(vm);
  }

  /**
   * Moves a running or paused VM to another host (the least loaded other one, or `toHost`):
   * stop-and-copy. The guest is paused while its state is saved, carried over and loaded; the
   * report says for how long. If the new host fails, the VM continues where it was.
   */
  async migrate(ref: string, options: { toHost?: number } = {}): Promise<MigrationReport> {
    let report!: MigrationReport;
    await this.perform(ref, 'migrate', async (vm) => {
      const from = vm.slot!;
      const target = this.migrationTarget(vm, from, options.toHost);
      const wasRunning = vm.state === 'running';
      const t0 = this.now();
      if (wasRunning && !vm.throttled) await this.hostCall(vm, 'migrate', (port, id) => port.pause(id));
      const state = await this.hostCall(vm, 'migrate', (port, id) => port.saveState(id));
      const old = { instance: vm.instance!, slot: from, ready: vm.ready, bootOffset: vm.bootOffset, pendingInput: vm.pendingInput };
      try {
        await this.makeInstance(vm, state, target);
        await this.hostCall(vm, 'migrate', (port, id) => port.start(id), 'throw');
        if (!wasRunning) await this.hostCall(vm, 'migrate', (port, id) => port.pause(id), 'throw');
      } catch (error) {
        // Back to the old instance, which still holds the machine, paused.
        if (vm.instance !== old.instance) await this.discardInstance(vm);
        vm.instance = old.instance;
        vm.slot = old.slot;
        old.slot.vms.add(old.instance);
        this.instances.set(old.instance, vm);
        Object.assign(vm, { ready: old.ready, bootOffset: old.bootOffset, pendingInput: old.pendingInput });
        if (!old.slot.connection) {
          // The old worker died too while we tried: nothing holds the machine any more.
          this.forgetInstance(vm);
          this.signal(vm, 'crash', `its host (worker ${from.index + 1}) died during a migration`);
          throw new HypervisorError('host-failure', `cannot migrate VM '${vm.name}': ${messageOf(error)}; its old worker died meanwhile`);
        }
        if (wasRunning) await this.hostCall(vm, 'migrate', (port, id) => port.resume(id));
        vm.throttled = false;
        throw new HypervisorError('host-failure', `cannot migrate VM '${vm.name}': ${messageOf(error)}; it stays on worker ${from.index + 1}`);
      }
      const pauseMs = this.now() - t0;
      Object.assign(vm, { ready: old.ready, bootOffset: old.bootOffset, pendingInput: old.pendingInput });
      // The old instance is no longer the VM's: drop it from routing, then free it.
      old.slot.vms.delete(old.instance);
      this.instances.delete(old.instance);
      await Promise.resolve(old.slot.connection?.port.destroy(old.instance)).catch(() => undefined);
      this.finish(vm, 'migrate');
      report = { vm: this.summary(vm), fromHost: from.index, toHost: target.index, pauseMs, stateBytes: state.length };
    });
    return report;
  }

  private migrationTarget(vm: ManagedVm, from: HostSlot, toHost: number | undefined): HostSlot {
    const slots = this.pool.slots;
    if (toHost !== undefined) {
      const slot = slots[toHost];
      if (!slot) throw new HypervisorError('bad-argument', `cannot migrate VM '${vm.name}': there is no host ${toHost} (have 0-${slots.length - 1})`);
      if (slot === from) throw new HypervisorError('bad-argument', `cannot migrate VM '${vm.name}': it already runs on host ${toHost}`);
      return slot;
    }
    const others = slots.filter((s) => s !== from);
    if (others.length === 0) throw new HypervisorError('bad-argument', `cannot migrate VM '${vm.name}': the pool has only one host`);
    return others.reduce((best, s) => (s.vms.size < best.vms.size || (s.vms.size === best.vms.size && s.connection && !best.connection) ? s : best));
  }

  // --- console and stats --------------------------------------------------------------------

  /**
   * Subscribes to a VM's console. The output kept so far (up to 256 KiB) is replayed first unless
   * `replay` is false. The attachment sends input and survives reset and restore.
   */
  attachConsole(ref: string, listener: (data: Uint8Array) => void, options: { replay?: boolean } = {}): ConsoleAttachment {
    const vm = this.find(ref);
    if (options.replay !== false) {
      const history = vm.console.bytes();
      if (history.length > 0) listener(history);
    }
    vm.consoleListeners.add(listener);
    return {
      send: (data) => this.sendConsole(vm.id, data),
      detach: () => {
        vm.consoleListeners.delete(listener);
      },
    };
  }

  /**
   * Types on a VM's console. The VM must have a live machine (booting, running or paused); input
   * for a paused VM waits in the hypervisor and reaches the guest when it resumes.
   */
  async sendConsole(ref: string, data: Uint8Array | string): Promise<void> {
    const vm = this.find(ref);
    if (!vm.instance || !['booting', 'running', 'paused'].includes(vm.state)) {
      throw new HypervisorError('invalid-state', `cannot type on VM '${vm.name}': it is ${vm.state}`);
    }
    if (vm.state === 'paused' || vm.throttled) {
      vm.pendingInput.push(typeof data === 'string' ? data : data.slice());
      return;
    }
    await this.hostCall(vm, 'console input', (port, id) => port.sendConsole(id, data), 'throw');
  }

  /** Console output kept so far (from stream offset `from`), as text. */
  consoleText(ref: string, from = 0): string {
    return this.find(ref).console.text(from);
  }

  /** Bytes of console output so far: an offset to pass to waitForConsole to ignore older output. */
  consoleOffset(ref: string): number {
    return this.find(ref).console.totalBytes;
  }

  /**
   * Resolves with the offset just after `text` once the VM's console prints it (at or after
   * `from`). Rejects when the VM stops or crashes first, or after `timeoutMs`.
   */
  waitForConsole(ref: string, text: string, options: { from?: number; timeoutMs?: number } = {}): Promise<number> {
    const vm = this.find(ref);
    const wait = vm.console.waitFor(text, options.from ?? 0);
    return new Promise<number>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        wait.cancel();
        offState();
        if (timer !== undefined) clearTimeout(timer);
      };
      const offState = this.events.on('transition', (t) => {
        if (t.vmId !== vm.id || !['stopped', 'crashed', 'deleted'].includes(t.to)) return;
        done();
        reject(new HypervisorError('invalid-state', `VM '${vm.name}' ${t.to === 'crashed' ? `crashed (${t.detail ?? 'no reason'})` : `was ${t.to}`} before its console printed ${JSON.stringify(text)}`));
      });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          done();
          reject(new HypervisorError('host-failure', `VM '${vm.name}' did not print ${JSON.stringify(text)} within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
      wait.promise.then((offset) => {
        done();
        resolve(offset);
      });
    });
  }

  /** Resolves once the guest of the current boot printed its image's ready marker. */
  waitUntilReady(ref: string, timeoutMs?: number): Promise<void> {
    const vm = this.find(ref);
    if (vm.ready) return Promise.resolve();
    const options = { from: vm.bootOffset, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
    return this.waitForConsole(vm.id, vm.image.readyMarker, options).then(() => undefined);
  }

  async stats(ref: string): Promise<VmStatsReport> {
    const vm = this.find(ref);
    const base = { id: vm.id, name: vm.name, state: vm.state, reservedBytes: this.memory.reservedFor(vm.id) };
    if (!vm.instance || !vm.slot?.connection) {
      return { ...base, instructions: 0, mips: 0, cpuShare: 0, memoryBytes: 0 };
    }
    const s = await this.hostCall(vm, 'stats', (port, id) => port.stats(id), 'throw');
    const at = this.now();
    const prev = vm.sample;
    vm.sample = { at, instructions: s.instructions, runMs: s.runMs };
    // Over the interval since the previous call; the first call covers the engine's whole life.
    const wallMs = prev ? at - prev.at : s.runMs;
    const dInstr = s.instructions - (prev?.instructions ?? 0);
    const dRun = s.runMs - (prev?.runMs ?? 0);
    return {
      ...base,
      instructions: s.instructions,
      mips: wallMs > 0 ? dInstr / (wallMs * 1000) : 0,
      cpuShare: wallMs > 0 ? Math.min(1, Math.max(0, dRun / wallMs)) : 0,
      memoryBytes: s.memoryBytes,
      ...(s.firstOutputMs !== undefined ? { firstOutputMs: s.firstOutputMs } : {}),
      ...(s.readyMs !== undefined ? { readyMs: s.readyMs } : {}),
    };
  }

  /**
   * Changes a VM's share and cap. They are handed to its host, which enforces them when it
   * time-slices several VMs (docs/HYPERVISOR.md, "Scheduler"); `enforced` says whether it can.
   */
  async setSchedule(ref: string, params: { weight?: number; capPercent?: number | undefined }): Promise<VmSummary & { enforced: boolean }> {
    const vm = this.find(ref);
    checkSchedule(vm.name, params.weight, params.capPercent);
    if (params.weight !== undefined) vm.weight = params.weight;
    if ('capPercent' in params) {
      vm.capPercent = params.capPercent;
      vm.capBase = undefined; // measure the new cap from now
    }
    const slicing = await this.pushSchedule(vm);
    this.governCap(vm);
    // A cap is enforced by the host's scheduler, or else by the duty cycle; a weight only by the host.
    return { ...this.summary(vm), enforced: slicing || params.weight === undefined };
  }

  /** Tells the VM's host its weight and cap; false when the host cannot time-slice. */
  private async pushSchedule(vm: ManagedVm): Promise<boolean> {
    const port = vm.slot?.connection?.port;
    if (!vm.instance || !port?.setSchedule) return false;
    const params = { weight: vm.weight, capPercent: vm.capPercent };
    await this.hostCall(vm, 'schedule', (p, id) => p.setSchedule!(id, params));
    return true;
  }

  /** Stops every VM and ends every host. The hypervisor cannot be used afterwards. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const vm of this.vms.values()) {
      if (vm.capTimer !== undefined) clearTimeout(vm.capTimer);
      vm.capTimer = undefined;
      if (vm.instance) vm.machine.apply('poweroff', 'hypervisor shut down');
      this.forgetInstance(vm);
    }
    await this.pool.closeAll();
  }

  // --- internals: registry ------------------------------------------------------------------

  private find(ref: string): ManagedVm {
    const vm = this.vms.get(ref) ?? [...this.vms.values()].find((v) => v.name === ref);
    if (!vm) throw new HypervisorError('unknown-vm', `no VM named '${ref}'`);
    return vm;
  }

  private newVm(
    imageName: string,
    options: Omit<CreateVmOptions, 'image'> & { name?: string | undefined; capPercent?: number | undefined },
    identity: VmIdentity,
  ): ManagedVm {
    if (this.closed) throw new HypervisorError('invalid-state', 'the hypervisor has shut down');
    const image = this.images.get(imageName);
    if (!image) {
      throw new HypervisorError('bad-argument', `no image named '${imageName}' (have: ${this.imageNames().join(', ') || 'none'})`);
    }
    const name = options.name ?? this.freshName(image.name);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
      throw new HypervisorError('bad-argument', `VM name '${name}' must be 1-63 letters, digits, '.', '_' or '-'`);
    }
    if (this.has(name)) throw new HypervisorError('duplicate-name', `a VM named '${name}' already exists`);
    const memoryMiB = options.memoryMiB ?? image.memoryMiB;
    if (!Number.isInteger(memoryMiB) || memoryMiB <= 0) {
      throw new HypervisorError('bad-argument', `VM '${name}': memory must be a whole number of MiB, got ${memoryMiB}`);
    }
    checkSchedule(name, options.weight, options.capPercent);
    let id: string;
    do id = `vm-${this.nextId++}`;
    while (this.vms.has(id));
    return new ManagedVm(id, name, image, memoryMiB, options.weight ?? 1, options.capPercent, identity);
  }

  private freshName(base: string): string {
    for (let n = 1; ; n++) {
      const name = `${base}-${n}`;
      if (!this.has(name) && !this.admitting.has(name)) return name;
    }
  }

  /**
   * Reserves memory, makes the engine instance and only then registers the VM: a VM whose engine
   * or image is not available never appears (no fake VM). With `state`, the VM is restored from it
   * and runs; otherwise it is left created.
   */
  private async admit(vm: ManagedVm, from: { state?: Uint8Array; ready?: boolean; reserved?: boolean }): Promise<void> {
    if (!from.reserved) this.memory.reserve(vm.id, vm.name, vm.memoryMiB * MiB);
    if (this.has(vm.name) || this.admitting.has(vm.name)) {
      this.memory.release(vm.id);
      throw new HypervisorError('duplicate-name', `a VM named '${vm.name}' already exists`);
    }
    this.admitting.add(vm.name);
    try {
      await this.admitNamed(vm, from);
    } finally {
      this.admitting.delete(vm.name);
    }
  }

  private async admitNamed(vm: ManagedVm, from: { state?: Uint8Array; ready?: boolean }): Promise<void> {
    try {
      await this.makeInstance(vm, from.state);
      if (from.state) await this.hostCall(vm, 'restore', (port, id) => port.start(id), 'throw');
    } catch (error) {
      await this.discardInstance(vm);
      this.memory.release(vm.id);
      if (error instanceof HypervisorError && error.code === 'no-memory') throw error;
      const code = from.state ? 'bad-snapshot' : 'engine-unavailable';
      throw new HypervisorError(code, `cannot create VM '${vm.name}' (image ${vm.image.name}): ${messageOf(error)}`);
    }
    this.vms.set(vm.id, vm);
    vm.machine = new VmStateMachine(vm.id, vm.name, (t) => this.events.emit('transition', t));
    if (from.state) {
      vm.ready = from.ready ?? false;
      vm.machine.apply('restore');
    }
  }

  private summary(vm: ManagedVm): VmSummary {
    return {
      id: vm.id,
      name: vm.name,
      image: vm.image.name,
      engine: vm.image.engine,
      state: vm.state,
      memoryMiB: vm.memoryMiB,
      weight: vm.weight,
      capPercent: vm.capPercent,
      identity: { ...vm.identity },
      ready: vm.ready,
      host: vm.instance ? vm.slot?.index : undefined,
      throttled: vm.throttled,
      ...(vm.state === 'crashed' && vm.crashReason ? { crashReason: vm.crashReason } : {}),
    };
  }

  // --- internals: performing actions --------------------------------------------------------

  /** Runs `body` for one action, after the VM's previous actions, once the table allows it. */
  private perform(ref: string, action: VmAction, body: (vm: ManagedVm) => Promise<void>): Promise<VmSummary> {
    const vm = this.find(ref);
    const run = async (): Promise<VmSummary> => {
      if (!this.vms.has(vm.id)) throw new HypervisorError('unknown-vm', `no VM named '${vm.name}' (it was deleted)`);
      vm.machine.check(action);
      await body(vm);
      return this.summary(vm);
    };
    const result = vm.queue.then(run, run);
    vm.queue = result.catch(() => undefined);
    return result;
  }

  /** Records a finished action; if a signal changed the state meanwhile, says so instead. */
  private finish(vm: ManagedVm, action: VmAction): void {
    if (vm.machine.allows(action)) {
      vm.machine.apply(action);
      return;
    }
    throw new HypervisorError('invalid-state', `${action} of VM '${vm.name}' did not complete: it is ${vm.state} now`);
  }

  /** A host-reported event or failure. Ignored when it does not apply (the table says so). */
  private signal(vm: ManagedVm, signal: VmSignal, detail?: string): void {
    if (!this.vms.has(vm.id)) return;
    if (signal === 'crash' && vm.machine.allows('crash')) vm.crashReason = detail;
    vm.machine.apply(signal, detail);
  }

  /** Creates an engine instance on the least loaded host, and boots it (or restores `state`). */
  private async boot(vm: ManagedVm, from: { state?: Uint8Array }): Promise<void> {
    try {
      if (!vm.instance) await this.makeInstance(vm, from.state);
    } catch (error) {
      this.signal(vm, 'crash', `could not make its engine: ${messageOf(error)}`);
      throw new HypervisorError('host-failure', `cannot boot VM '${vm.name}': ${messageOf(error)}`);
    }
    await this.hostCall(vm, 'start', (port, id) => port.start(id));
    this.signal(vm, 'booted');
  }

  private async makeInstance(vm: ManagedVm, state: Uint8Array | undefined, slot = this.pool.leastLoaded()): Promise<void> {
    // Count the instance on its slot before any await, so VMs created together spread out.
    const instance = `${vm.id}~${++vm.generation}`;
    vm.slot = slot;
    vm.instance = instance;
    vm.ready = false;
    vm.bootOffset = vm.console.totalBytes;
    vm.sample = undefined;
    vm.pendingInput = [];
    vm.throttled = false;
    slot.vms.add(instance);
    this.instances.set(instance, vm);
    let connection: HostConnection;
    try {
      connection = await this.pool.connect(slot);
    } catch (error) {
      this.forgetInstance(vm);
      throw error;
    }
    const image: ImageEntry = { ...vm.image, memoryMiB: vm.memoryMiB };
    // A saved state carries its own memory contents: the host needs no image files for it.
    const request: CreateVmRequest = state
      ? { id: instance, name: vm.name, config: restoreConfig(image, state), readyMarker: image.readyMarker }
      : { id: instance, name: vm.name, image };
    try {
      await connection.port.create(request);
      if (connection.port.setSchedule && (vm.weight !== 1 || vm.capPercent !== undefined)) {
        await connection.port.setSchedule(instance, { weight: vm.weight, capPercent: vm.capPercent });
      }
    } catch (error) {
      this.forgetInstance(vm);
      await Promise.resolve(connection.port.destroy(instance)).catch(() => undefined);
      throw error;
    }
  }

  /** Destroys the current engine instance, if any; a dead host is not an error here. */
  private async discardInstance(vm: ManagedVm): Promise<void> {
    const instance = vm.instance;
    const connection = vm.slot?.connection;
    this.forgetInstance(vm);
    if (instance && connection) await Promise.resolve(connection.port.destroy(instance)).catch(() => undefined);
  }

  private forgetInstance(vm: ManagedVm): void {
    if (vm.instance) {
      vm.slot?.vms.delete(vm.instance);
      this.instances.delete(vm.instance);
    }
    vm.instance = undefined;
    vm.slot = undefined;
    vm.throttled = false;
  }

  /**
   * Calls the VM's host. When a lifecycle call fails (`onFailure` 'crash'), the engine is in an
   * unknown state: the VM is marked crashed (its instance discarded) and the caller gets a
   * HypervisorError. A failed console write or stats query ('throw') only reports the error:
   * it usually means the guest just exited, and the exit event that follows says how.
   * Other VMs are untouched either way.
   */
  private async hostCall<T>(
    vm: ManagedVm,
    what: string,
    call: (port: VmHostPort, instance: string) => T | Promise<T>,
    onFailure: 'crash' | 'throw' = 'crash',
  ): Promise<T> {
    const instance = vm.instance;
    const connection = vm.slot?.connection;
    if (!instance || !connection) {
      throw new HypervisorError('invalid-state', `cannot ${what} VM '${vm.name}': it has no running machine (it is ${vm.machine?.state ?? 'being created'})`);
    }
    try {
      return await call(connection.port, instance);
    } catch (error) {
      if (vm.instance !== instance) {
        // A signal (crash, power-off, worker death) replaced the instance while we waited.
        throw new HypervisorError('invalid-state', `cannot ${what} VM '${vm.name}': it is ${vm.state} now`);
      }
      if (onFailure === 'crash' && vm.machine) {
        await this.discardInstance(vm);
        this.signal(vm, 'crash', `${what} failed: ${messageOf(error)}`);
        throw new HypervisorError('host-failure', `${what} of VM '${vm.name}' failed: ${messageOf(error)}; the VM is marked crashed`);
      }
      throw new HypervisorError('host-failure', `${what} of VM '${vm.name}' failed: ${messageOf(error)}`);
    }
  }

  /** The machine state of a running or paused VM; a running VM is paused around the save. */
  private async captureState(vm: ManagedVm, what: string): Promise<Uint8Array> {
    const wasRunning = vm.state === 'running' && !vm.throttled;
    if (wasRunning) await this.hostCall(vm, what, (port, id) => port.pause(id));
    const state = await this.hostCall(vm, what, (port, id) => port.saveState(id));
    if (wasRunning) await this.hostCall(vm, what, (port, id) => port.resume(id));
    return state;
  }

  /** Puts `state` into the VM: in place when its machine is live, else in a new instance. */
  private async loadMachine(vm: ManagedVm, state: Uint8Array, ready: boolean): Promise<void> {
    if (vm.instance && (vm.state === 'running' || vm.state === 'paused')) {
      if (vm.state === 'running' && !vm.throttled) await this.hostCall(vm, 'restore', (port, id) => port.pause(id));
      await this.hostCall(vm, 'restore', (port, id) => port.loadState(id, state));
      await this.hostCall(vm, 'restore', (port, id) => port.resume(id));
      vm.throttled = false;
    } else {
      await this.discardInstance(vm);
      try {
        await this.makeInstance(vm, state);
      } catch (error) {
        this.signal(vm, 'crash', `could not make its engine: ${messageOf(error)}`);
        throw new HypervisorError('host-failure', `cannot restore VM '${vm.name}': ${messageOf(error)}`);
      }
      await this.hostCall(vm, 'restore', (port, id) => port.start(id));
    }
    vm.ready = ready;
    vm.crashReason = undefined;
    vm.pendingInput = []; // typed for the machine that was replaced
  }

  private async encodeSnapshot(vm: ManagedVm, state: Uint8Array): Promise<Uint8Array> {
    const meta: SnapshotVmMeta = {
      name: vm.name,
      identity: vm.identity,
      weight: vm.weight,
      ...(vm.capPercent !== undefined ? { capPercent: vm.capPercent } : {}),
      ready: vm.ready,
      imageSha256: vm.image.sha256,
    };
    return new SnapshotWriter({
      engine: vm.image.engine,
      image: vm.image.name,
      memoryMiB: vm.memoryMiB,
      extra: { [META_KEY]: meta, cmdline: vm.image.cmdline },
    })
      .addSection(ENGINE_STATE_SECTION, state)
      .encode();
  }

  private async decodeSnapshot(file: Uint8Array, context: string): Promise<Snapshot> {
    let snap: Snapshot;
    try {
      snap = await readSnapshot(file);
    } catch (error) {
      if (error instanceof SnapshotFormatError) throw new HypervisorError('bad-snapshot', `${context}: ${error.message}`);
      throw error;
    }
    if (!snap.hasSection(ENGINE_STATE_SECTION) && !snap.hasSection(LEGACY_MACHINE_SECTION)) {
      throw new HypervisorError('bad-snapshot', `${context}: the snapshot has no '${ENGINE_STATE_SECTION}' section`);
    }
    return snap;
  }

  private checkCompatible(vm: ManagedVm, snap: Snapshot): void {
    const m = snap.metadata;
    if (m.engine !== vm.image.engine || m.memoryMiB !== vm.memoryMiB) {
      throw new HypervisorError(
        'bad-snapshot',
        `cannot restore VM '${vm.name}' (${vm.image.engine}, ${vm.memoryMiB} MiB) from a snapshot of a ` +
          `${m.engine} machine with ${m.memoryMiB} MiB`,
      );
    }
  }

  // --- internals: caps for hosts that cannot time-slice ---------------------------------------
  //
  // A running VM with a cap below 100% whose host has no scheduler of its own (each v86 VM runs
  // flat out in its own loop) is paused in its host for part of the time; its lifecycle state
  // stays running and `throttled` shows the pauses. It runs about cap% of capPeriodMs, then pauses
  // until the time it has run since the cycle began (the engine's runMs, measured in the host)
  // is within the cap again: the pause absorbs any overshoot, so the long-run share is the cap.

  private capWanted(vm: ManagedVm): boolean {
    return (
      !this.closed &&
      this.vms.has(vm.id) &&
      vm.state === 'running' &&
      vm.instance !== undefined &&
      vm.capPercent !== undefined &&
      vm.capPercent < 100 &&
      !vm.slot?.connection?.port.setSchedule
    );
  }

  /** Starts or stops a VM's duty cycle to match its state and cap. */
  private governCap(vm: ManagedVm): void {
    if (!this.capWanted(vm)) {
      if (vm.capTimer !== undefined) clearTimeout(vm.capTimer);
      vm.capTimer = undefined;
      vm.capBase = undefined;
      if (vm.throttled && vm.state === 'running' && !vm.capStepQueued) this.enqueueCapStep(vm, 'unthrottle');
      return;
    }
    if (vm.capTimer !== undefined || vm.capStepQueued) return;
    this.enqueueCapStep(vm, vm.throttled ? 'unthrottle' : 'throttle-later');
  }

  private capTimerFor(vm: ManagedVm, delayMs: number, kind: 'throttle' | 'unthrottle'): void {
    vm.capTimer = setTimeout(() => {
      vm.capTimer = undefined;
      this.enqueueCapStep(vm, kind);
    }, Math.max(0, delayMs));
  }

  /** One step of the cycle, in turn with the VM's other calls (never during a snapshot, say). */
  private enqueueCapStep(vm: ManagedVm, kind: 'throttle-later' | 'throttle' | 'unthrottle'): void {
    vm.capStepQueued = true;
    const step = async (): Promise<void> => {
      vm.capStepQueued = false;
      const wanted = this.capWanted(vm);
      try {
        if (kind === 'unthrottle' || !wanted) {
          if (vm.throttled && vm.state === 'running' && vm.instance) {
            await this.hostCall(vm, 'unthrottle', (port, id) => port.resume(id));
            vm.throttled = false;
            for (const data of vm.pendingInput.splice(0)) {
              await this.hostCall(vm, 'console input', (port, id) => port.sendConsole(id, data), 'throw');
            }
          }
          if (!wanted) return;
        }
        if (!vm.capBase) vm.capBase = { at: this.now(), runMs: (await this.hostCall(vm, 'cap', (p, id) => p.stats(id), 'throw')).runMs };
        const cap = vm.capPercent! / 100;
        if (kind !== 'throttle') return this.capTimerFor(vm, cap * this.capPeriodMs, 'throttle');
        await this.hostCall(vm, 'throttle', (port, id) => port.pause(id));
        vm.throttled = true;
        const runMs = (await this.hostCall(vm, 'cap', (p, id) => p.stats(id), 'throw')).runMs;
        const at = this.now();
        const used = runMs - vm.capBase.runMs;
        const elapsed = at - vm.capBase.at;
        // Resume once cap × elapsed time has caught up with the time used.
        let pauseMs = used / cap - elapsed;
        if (pauseMs < 0) {
          // Under the cap (an engine that does not count idle time): bank at most one period.
          if (-pauseMs * cap > cap * this.capPeriodMs) vm.capBase = { at, runMs };
          pauseMs = 0;
        }
        this.capTimerFor(vm, pauseMs, 'unthrottle');
      } catch {
        // The VM crashed or exited meanwhile; its transition ends the cycle.
      }
    };
    vm.queue = vm.queue.then(step, step);
  }

  // --- internals: host events ---------------------------------------------------------------

  private async listenTo(slot: HostSlot, connection: HostConnection): Promise<void> {
    await connection.port.subscribe((events) => {
      for (const event of events) this.onHostEvent(event);
    });
  }

  private onHostEvent(event: VmEvent): void {
    const vm = this.instances.get(event.vmId);
    if (!vm) return; // an instance we already discarded
    switch (event.kind) {
      case 'console':
        vm.console.append(event.data);
        for (const listener of [...vm.consoleListeners]) {
          try {
            listener(event.data);
          } catch (error) {
            console.error(`tabvisor: a console listener of VM '${vm.name}' threw:`, error);
          }
        }
        break;
      case 'ready':
        vm.ready = true;
        this.events.emit('ready', { vmId: vm.id, vmName: vm.name });
        break;
      case 'progress':
        this.events.emit('progress', { vmId: vm.id, vmName: vm.name, message: event.message });
        break;
      case 'exit':
        // Only the VM's current instance speaks for it (not one left behind by a migration).
        if (event.vmId === vm.instance) void this.onExit(vm, event.reason);
        break;
      case 'state':
        break; // the hypervisor keeps its own state; exits arrive as 'exit'
    }
  }

  private async onExit(vm: ManagedVm, reason: ExitReason): Promise<void> {
    if (!vm.machine) return;
    switch (reason.kind) {
      case 'poweroff':
        await this.discardInstance(vm);
        this.signal(vm, 'poweroff', `the guest powered off (code ${reason.code})`);
        break;
      case 'crash':
        await this.discardInstance(vm);
        this.signal(vm, 'crash', reason.message);
        break;
      case 'reboot': {
        // The engine does not reboot in place: boot a fresh machine, as a reset does.
        if (!vm.machine.allows('reboot')) return;
        await this.discardInstance(vm);
        this.signal(vm, 'reboot', 'the guest rebooted');
        const run = async (): Promise<void> => {
          if (vm.state === 'booting' && !vm.instance) await this.boot(vm, {}).catch(() => undefined);
        };
        vm.queue = vm.queue.then(run, run);
        break;
      }
    }
  }

  private hostDied(slot: HostSlot, reason: string): void {
    for (const instance of [...slot.vms]) {
      const vm = this.instances.get(instance);
      this.instances.delete(instance);
      if (!vm || vm.instance !== instance) continue;
      this.forgetInstance(vm);
      this.signal(vm, 'crash', `its host (worker ${slot.index + 1}) died: ${reason}`);
    }
    slot.vms.clear();
  }
}

/** What the hypervisor stores about a VM inside a snapshot file. */
interface SnapshotVmMeta {
  name?: string;
  identity?: VmIdentity;
  weight?: number;
  capPercent?: number;
  ready: boolean;
  imageSha256?: Record<string, string>;
}

function readMeta(snap: Snapshot): SnapshotVmMeta {
  const raw = snap.metadata.extra?.[META_KEY];
  if (typeof raw !== 'object' || raw === null) return { ready: false };
  const r = raw as Record<string, unknown>;
  const identity = parseIdentity(r.identity);
  return {
    ready: r.ready === true,
    ...(typeof r.name === 'string' ? { name: r.name } : {}),
    ...(identity ? { identity } : {}),
    ...(typeof r.weight === 'number' && r.weight > 0 ? { weight: r.weight } : {}),
    ...(typeof r.capPercent === 'number' && r.capPercent > 0 && r.capPercent <= 100 ? { capPercent: r.capPercent } : {}),
  };
}

/** The engine's saved state inside a snapshot (the CLI and the hypervisor write the same section). */
function engineState(snap: Snapshot): Uint8Array {
  return snap.section(snap.hasSection(ENGINE_STATE_SECTION) ? ENGINE_STATE_SECTION : LEGACY_MACHINE_SECTION);
}

function restoreConfig(image: ImageEntry, state: Uint8Array): BootConfig {
  return { engine: image.engine, memoryMiB: image.memoryMiB, cmdline: image.cmdline, state };
}

function checkSchedule(name: string, weight: number | undefined, capPercent: number | undefined): void {
  if (weight !== undefined && !(weight > 0 && Number.isFinite(weight))) {
    throw new HypervisorError('bad-argument', `VM '${name}': weight must be a positive number, got ${weight}`);
  }
  if (capPercent !== undefined && !(capPercent > 0 && capPercent <= 100)) {
    throw new HypervisorError('bad-argument', `VM '${name}': cap must be a percentage of one core in (0, 100], got ${capPercent}`);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export { formatBytes };
