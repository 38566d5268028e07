// The hypervisor: the one place that decides which VMs exist, where they run, how much memory
// they hold and what state they are in. The same class runs in the page and in Node; it drives
// VM hosts (workers) through VmHostPort and never touches an engine itself.
//
// This file keeps the registry and the public API. How an action is carried out (call queue,
// lifecycle checks, host calls, engine instances) is in vm-actions.ts; snapshot files in
// snapshot-files.ts; migration in migration.ts; consoles in console-fanout.ts. Weights and caps
// are decided here and enforced by the hosts (every host time-slices).

import type { ImageEntry } from '../engines/engine.js';
import type { VmEvent } from '../worker/protocol.js';
import { scheduleProblem } from '../worker/schedule-limits.js';
import { ConsoleFanout, type ConsoleAttachment } from './console-fanout.js';
import { HypervisorError } from './errors.js';
import { VirtualNetworks, type NetworkInfo, type NetworkOptions } from './networks.js';
import { TypedEmitter } from './events.js';
import { defaultPoolSize, HostPool, type HostConnection, type HostFactory, type HostSlot } from './host-port.js';
import { newIdentity, type VmIdentity } from './identity.js';
import { ManagedVm, messageOf, type VmSummary } from './managed-vm.js';
import { formatBytes, MemoryBudget, type MemoryUsage } from './memory-budget.js';
import { migrateVm, type MigrationReport } from './migration.js';
import { checkCompatible, decodeSnapshotFile, encodeSnapshotFile, MiB } from './snapshot-files.js';
import { VmStateMachine, type VmState, type VmTransition } from './state-machine.js';
import { VmActions } from './vm-actions.js';

export type { ConsoleAttachment } from './console-fanout.js';
export type { VmSummary } from './managed-vm.js';
export type { MigrationReport } from './migration.js';

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
}

export interface CreateVmOptions {
  /** Image name from the manifest. */
  image: string;
  /** Unique among live VMs; `<image>-<n>` by default. */
  name?: string;
  /** Guest RAM; the image's default when absent. */
  memoryMiB?: number;
  /** Relative CPU share when VMs share a host, 0.1 to 1000; 1 by default. */
  weight?: number;
  /** At most this % of one core, 1 to 100; none by default. */
  capPercent?: number;
  /** Put the VM's network card on this virtual network (createNetwork); no card without it. */
  network?: string;
  /** A fixed address on that network (a static lease of its DHCP server). */
  ip?: string;
}

export interface ImportSnapshotOptions {
  name?: string;
  weight?: number;
  capPercent?: number;
  /** 'keep' the identity saved in the file (a moved VM) or make a 'new' one (a copy). Default 'keep'. */
  identity?: 'keep' | 'new';
  /**
   * Put the VM's network card on this virtual network. The card inside the saved machine keeps
   * the MAC it was saved with, so this goes with identity 'keep'.
   */
  network?: string;
  ip?: string;
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
  /** What the guest's balloon holds and what it was asked for (setBalloon), when it has one. */
  balloonBytes?: number;
  balloonTargetBytes?: number;
  firstOutputMs?: number;
  readyMs?: number;
}

export interface HypervisorEvents {
  /** Every lifecycle change of every VM (from the state machine). */
  transition: VmTransition;
  /** A VM's guest printed its ready marker. */
  ready: { vmId: string; vmName: string };
  /** Boot progress from a host ("Loading kernel ..."). */
  progress: { vmId: string; vmName: string; message: string };
}

export class Hypervisor {
  readonly events = new TypedEmitter<HypervisorEvents>();
  readonly memory: MemoryBudget;
  private readonly images = new Map<string, ImageEntry>();
  private readonly vms = new Map<string, ManagedVm>();
  private readonly pool: HostPool;
  private readonly actions: VmActions;
  private readonly consoles: ConsoleFanout;
  private readonly now: () => number;
  private nextId = 1;
  private closed = false;
  /** Names of VMs being created (not registered yet), so two creates cannot take one name. */
  private readonly admitting = new Set<string>();
  private readonly networks = new VirtualNetworks();
  private readonly netOutbox = new Map<ManagedVm, Uint8Array[]>();

  constructor(options: HypervisorOptions) {
    for (const image of options.images) this.images.set(image.name, image);
    this.memory = new MemoryBudget(options.memoryBudgetBytes);
    this.now = options.now ?? (() => performance.now());
    this.pool = new HostPool(
      options.hosts,
      options.poolSize ?? defaultPoolSize(),
      (slot, connection) => this.listenTo(slot, connection),
      (slot, reason) => this.actions.hostDied(slot, reason),
    );
    this.actions = new VmActions(this.pool, (vm) => this.vms.get(vm.id) === vm);
    this.consoles = new ConsoleFanout(this.actions, this.events);
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
    return [...this.vms.values()].sort((x, y) => x.seq - y.seq).map((vm) => vm.summary());
  }

  /** A VM by id or name. */
  get(ref: string): VmSummary {
    return this.find(ref).summary();
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
    if (options.network !== undefined) {
      if (!this.networks.has(options.network)) throw new HypervisorError('bad-argument', `no network named '${options.network}'`);
      vm.network = options.network;
      vm.ip = options.ip;
    } else if (options.ip !== undefined) {
      throw new HypervisorError('bad-argument', `VM '${vm.name}': an ip needs a network`);
    }
    await this.admit(vm, {});
    return vm.summary();
  }

  /**
   * Asks a running VM's guest to give `mib` of its RAM back (its balloon inflates; 0 deflates it).
   * The guest decides how much it really gives: stats() reports what the balloon holds.
   */
  async setBalloon(ref: string, mib: number): Promise<void> {
    const vm = this.find(ref);
    if (!Number.isInteger(mib) || mib < 0 || mib >= vm.memoryMiB) {
      throw new HypervisorError('bad-argument', `VM '${vm.name}': a balloon of ${mib} MiB is not between 0 and ${vm.memoryMiB - 1} MiB`);
    }
    if (vm.state !== 'running' && vm.state !== 'paused') {
      throw new HypervisorError('invalid-state', `cannot set the balloon of VM '${vm.name}': it is ${vm.state} (allowed when running or paused)`);
    }
    const port = vm.slot?.connection?.port;
    if (!port || !vm.instance) throw new HypervisorError('invalid-state', `VM '${vm.name}' has no running machine`);
    try {
      await port.setBalloon(vm.instance, mib * MiB);
    } catch (error) {
      throw new HypervisorError('bad-argument', `VM '${vm.name}': ${messageOf(error)}`);
    }
  }

  // --- networks -----------------------------------------------------------------------------

  /** A virtual network (a switch, with a DHCP server for `subnet`) that VMs can be created on. */
  createNetwork(name: string, options: NetworkOptions = {}): void {
    this.networks.create(name, options);
  }

  deleteNetwork(name: string): void {
    this.networks.delete(name);
  }

  listNetworks(): NetworkInfo[] {
    return this.networks.list();
  }

  /** The address a VM got on its network (from the network's DHCP server), once it has one. */
  addressOf(ref: string): string | undefined {
    const vm = this.find(ref);
    return vm.network ? this.networks.addressOf(vm.network, vm.identity.mac) : undefined;
  }

  async start(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'start', async (vm) => {
      vm.machine.apply('start');
      await this.actions.boot(vm);
    });
  }

  async pause(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'pause', async (vm) => {
      await this.actions.hostCall(vm, 'pause', (port, id) => port.pause(id));
      this.actions.finish(vm, 'pause');
    });
  }

  async resume(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'resume', async (vm) => {
      await this.actions.hostCall(vm, 'resume', (port, id) => port.resume(id));
      this.actions.finish(vm, 'resume');
      await this.consoles.deliverPending(vm);
    });
  }

  /** Powers the VM off and frees its engine; its memory stays reserved until delete. */
  async stop(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'stop', async (vm) => {
      await this.actions.discardInstance(vm);
      this.actions.finish(vm, 'stop');
    });
  }

  /** Discards the machine and boots the image again. */
  async reset(ref: string): Promise<VmSummary> {
    return this.perform(ref, 'reset', async (vm) => {
      await this.actions.discardInstance(vm);
      vm.machine.apply('reset');
      await this.actions.boot(vm);
    });
  }

  /** Forgets a created, stopped or crashed VM and releases its memory. */
  async delete(ref: string): Promise<void> {
    await this.perform(ref, 'delete', async (vm) => {
      await this.actions.discardInstance(vm);
      this.memory.release(vm.id);
      this.networks.detach(vm.id);
      this.actions.finish(vm, 'delete');
      vm.consoleListeners.clear();
      this.vms.delete(vm.id);
    });
  }

  // --- state --------------------------------------------------------------------------------

  /** Saves the whole machine as a snapshot file (a running VM pauses for the time of the save). */
  async snapshot(ref: string): Promise<Uint8Array> {
    let file!: Uint8Array;
    await this.perform(ref, 'snapshot', async (vm) => {
      const state = await this.actions.captureState(vm, 'snapshot');
      file = await encodeSnapshotFile(vm, state);
      this.actions.finish(vm, 'snapshot');
    });
    return file;
  }

  /** A snapshot file and a file name for it, for download or `tabvisor run --restore`. */
  async exportSnapshot(ref: string): Promise<{ fileName: string; bytes: Uint8Array }> {
    const bytes = await this.snapshot(ref);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return { fileName: `${this.find(ref).name}-${stamp}.tvsnap`, bytes };
  }

  /**
   * Replaces the VM's machine with the one in a snapshot file, and runs it. A file that is
   * damaged, of another engine or memory size, or whose machine the engine refuses is
   * `bad-snapshot`, and the VM is left as it was.
   */
  async restore(ref: string, file: Uint8Array): Promise<VmSummary> {
    const target = this.find(ref);
    const { snap, meta, state } = await decodeSnapshotFile(file, `cannot restore VM '${target.name}'`, { vmBytes: target.memoryMiB * MiB });
    return this.perform(ref, 'restore', async (vm) => {
      checkCompatible(vm, snap);
      await this.actions.restoreMachine(vm, state, meta.ready);
      this.actions.finish(vm, 'restore');
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
        state = await this.actions.captureState(vm, 'clone');
        ready = vm.ready;
        this.actions.finish(vm, 'clone');
      });
    } catch (error) {
      this.memory.release(copy.id);
      throw error;
    }
    await this.admit(copy, { state, ready, reserved: true });
    return copy.summary();
  }

  /**
   * A new running VM from a snapshot file (exported here, by another tab or by the CLI). Its
   * memory is what the file's metadata declares, charged to the budget before any host is
   * asked; a machine state that does not fit that size is refused (`bad-snapshot`).
   */
  async importSnapshot(file: Uint8Array, options: ImportSnapshotOptions = {}): Promise<VmSummary> {
    const context = 'cannot import the snapshot';
    const usage = this.memory.usage();
    const limit = { freeBudgetBytes: usage.freeBytes, budgetBytes: usage.totalBytes };
    const { snap, meta, state } = await decodeSnapshotFile(file, context, limit);
    const imageName = snap.metadata.image;
    if (!imageName || !this.images.has(imageName)) {
      throw new HypervisorError(
        'bad-snapshot',
        `${context}: it was taken from image '${imageName ?? '(none)'}', which is not in the manifest`,
      );
    }
    const identity = options.identity === 'new' || !meta.identity ? newIdentity() : meta.identity;
    const vm = this.newVm(imageName, {
      name: options.name ?? (meta.name && !this.has(meta.name) ? meta.name : undefined),
      memoryMiB: snap.metadata.memoryMiB,
      weight: options.weight ?? meta.weight,
      capPercent: options.capPercent ?? meta.capPercent,
    }, identity);
    checkCompatible(vm, snap);
    if (options.network !== undefined) {
      if (!this.networks.has(options.network)) throw new HypervisorError('bad-argument', `no network named '${options.network}'`);
      vm.network = options.network;
      vm.ip = options.ip;
    }
    await this.admit(vm, { state, ready: meta.ready });
    return vm.summary();
  }

  /**
   * Moves a running or paused VM to another host (the least loaded other one, or `toHost`):
   * stop-and-copy. The guest is paused while its state is saved, carried over and loaded; the
   * report says for how long. If the new host fails, the VM continues where it was.
   */
  async migrate(ref: string, options: { toHost?: number } = {}): Promise<MigrationReport> {
    let report!: MigrationReport;
    await this.perform(ref, 'migrate', async (vm) => {
      report = await migrateVm(this.actions, this.pool, vm, options.toHost, this.now);
      this.actions.finish(vm, 'migrate');
      report.vm = vm.summary();
    });
    return report;
  }

  // --- console and stats --------------------------------------------------------------------

  /**
   * Subscribes to a VM's console. The output kept so far (up to 256 KiB) is replayed first unless
   * `replay` is false. The attachment sends input and survives reset and restore.
   */
  attachConsole(ref: string, listener: (data: Uint8Array) => void, options: { replay?: boolean } = {}): ConsoleAttachment {
    return this.consoles.attach(this.find(ref), listener, options.replay !== false);
  }

  /**
   * Types on a VM's console. The VM must have a live machine (booting, running or paused); input
   * for a paused VM waits in the hypervisor and reaches the guest when it resumes.
   */
  async sendConsole(ref: string, data: Uint8Array | string): Promise<void> {
    await this.consoles.send(this.find(ref), data);
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
    return this.consoles.waitFor(this.find(ref), text, options);
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
    const s = await this.actions.hostCall(vm, 'stats', (port, id) => port.stats(id), 'throw');
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
      ...(s.balloonBytes !== undefined ? { balloonBytes: s.balloonBytes, balloonTargetBytes: s.balloonTargetBytes ?? 0 } : {}),
      ...(s.firstOutputMs !== undefined ? { firstOutputMs: s.firstOutputMs } : {}),
      ...(s.readyMs !== undefined ? { readyMs: s.readyMs } : {}),
    };
  }

  /**
   * Changes a VM's share and cap (ranges: src/worker/schedule-limits.ts). The hypervisor only
   * decides them: it tells the VM's host, which enforces them (docs/HYPERVISOR.md, "Scheduler").
   * `enforced` is false for a weight its host cannot apply (an engine with its own loop, v86).
   */
  async setSchedule(ref: string, params: { weight?: number; capPercent?: number | undefined }): Promise<VmSummary & { enforced: boolean }> {
    const vm = this.find(ref);
    checkSchedule(vm.name, params);
    if (params.weight !== undefined) vm.weight = params.weight;
    if ('capPercent' in params) vm.capPercent = params.capPercent;
    const port = vm.slot?.connection?.port;
    let weightApplied = true;
    if (vm.instance && port) {
      const schedule = { weight: vm.weight, capPercent: vm.capPercent };
      const applied = await this.actions.hostCall(vm, 'schedule', (p, id) => p.setSchedule(id, schedule));
      weightApplied = applied?.weight !== false;
    } else {
      // No machine now: the next instance gets them at creation; whether it can apply a weight
      // depends on its engine.
      weightApplied = vm.image.engine === 'rv64';
    }
    return { ...vm.summary(), enforced: params.weight === undefined || weightApplied };
  }

  /** Stops every VM and ends every host. The hypervisor cannot be used afterwards. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const vm of this.vms.values()) {
      if (vm.instance) vm.machine.apply('poweroff', 'hypervisor shut down');
      this.actions.forgetInstance(vm);
    }
    await this.pool.closeAll();
  }

  // --- internals: registry ------------------------------------------------------------------

  private find(ref: string): ManagedVm {
    const vm = this.vms.get(ref) ?? [...this.vms.values()].find((v) => v.name === ref);
    if (!vm) throw new HypervisorError('unknown-vm', `no VM named '${ref}'`);
    return vm;
  }

  private perform(ref: string, action: Parameters<VmActions['perform']>[1], body: (vm: ManagedVm) => Promise<void>): Promise<VmSummary> {
    return this.actions.perform(this.find(ref), action, body);
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
    checkSchedule(name, options);
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
    if (vm.network !== undefined) {
      this.networks.attach(vm.network, vm.id, vm.identity.mac, (frame) => this.frameToGuest(vm, frame), vm.ip);
    }
    try {
      await this.actions.makeInstance(vm, from.state);
      if (from.state) await this.actions.hostCall(vm, 'restore', (port, id) => port.start(id), 'throw');
    } catch (error) {
      await this.actions.discardInstance(vm);
      this.memory.release(vm.id);
      this.networks.detach(vm.id);
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

  /**
   * A frame the switch has for a VM. Frames that arrive in one turn travel to the host in one
   * call; a VM without a running engine instance drops them, as an unplugged card would.
   */
  private frameToGuest(vm: ManagedVm, frame: Uint8Array): void {
    const queued = this.netOutbox.get(vm);
    if (queued) {
      queued.push(frame);
      return;
    }
    this.netOutbox.set(vm, [frame]);
    queueMicrotask(() => {
      const frames = this.netOutbox.get(vm) ?? [];
      this.netOutbox.delete(vm);
      const port = vm.slot?.connection?.port;
      if (port && vm.instance) void Promise.resolve(port.sendNet(vm.instance, frames)).catch(() => undefined);
    });
  }

  // --- internals: host events ---------------------------------------------------------------

  private async listenTo(_slot: HostSlot, connection: HostConnection): Promise<void> {
    await connection.port.subscribe((events) => {
      for (const event of events) this.onHostEvent(event);
    });
  }

  private onHostEvent(event: VmEvent): void {
    const vm = this.actions.instances.get(event.vmId);
    if (!vm) return; // an instance we already discarded
    switch (event.kind) {
      case 'console':
        this.consoles.output(vm, event.data);
        break;
      case 'ready':
        vm.ready = true;
        this.events.emit('ready', { vmId: vm.id, vmName: vm.name });
        break;
      case 'progress':
        this.events.emit('progress', { vmId: vm.id, vmName: vm.name, message: event.message });
        break;
      case 'throttle':
        if (event.vmId === vm.instance) vm.throttled = event.throttled;
        break;
      case 'exit':
        // Only the VM's current instance speaks for it (not one left behind by a migration).
        if (event.vmId === vm.instance) void this.actions.onExit(vm, event.reason);
        break;
      case 'net':
        if (event.vmId === vm.instance) this.networks.fromGuest(vm.id, event.frame);
        break;
      case 'state':
        break; // the hypervisor keeps its own state; exits arrive as 'exit'
    }
  }
}

/** Refuses a weight or cap outside the documented ranges (schedule-limits.ts), naming the VM. */
function checkSchedule(name: string, params: { weight?: number | undefined; capPercent?: number | undefined }): void {
  const problem = scheduleProblem(params);
  if (problem) throw new HypervisorError('bad-argument', `VM '${name}': ${problem}`);
}

export { formatBytes };
