// A VM host: the object a worker exposes (through comlink) to run one or more VMs.
// It owns the engines, their lifecycle state and their event stream, and nothing else: which VM
// runs where is decided above it (the hypervisor), which CPU runs below it (the engine).
// It has no idea whether it lives in a browser Worker, a node:worker_threads worker or in-process.
//
// Time on the host's one thread: engines that run bounded slices (RV64, made by
// `createSlicedEngine`) share it through one SliceRunner, by weight and cap (setSchedule), and
// cost nothing while their guests idle in wfi; the loop gives the thread back every few ms, so
// calls and events keep flowing. Other engines (v86) run their own loop; a cap pauses them for
// part of the time (DutyCycleCap). See docs/HYPERVISOR.md, "Time slices in a VM host".
//
// A hosted VM's record, network card and disk are in hosted-vm.ts; what the host does while a
// guest runs (live snapshots, restores, clones, migration) in vm-host-live.ts.
import { transfer } from 'comlink';
import { HOST_RULES, type HostOperation } from '../hypervisor/state-machine.js';
import type { AssetLoader, BootConfig, Engine, ExitReason } from '../engines/engine.js';
import { SliceScheduler, type SchedulerClock } from './scheduler.js';
import { SliceRunner, systemRunnerHost, type RunnerHost } from './slice-runner.js';
import { DutyCycleCap } from './duty-cycle-cap.js';
import { EventOutbox } from './event-outbox.js';
import { bootConfigFromImage } from './image-files.js';
import { stateFromSnapshotFile } from '../hypervisor/snapshot-files.js';
import { MarkerWatcher } from './marker-watcher.js';
import type { MemoryFileShare } from '../devices/backends/memory-file-share.js';
import {
  newExchangeShare, putExchangeFiles, takeFromExchange, type ExchangeFile, type ExchangeItem,
} from './file-exchange.js';
import type {
  CreateVmRequest, DiskRequest, ReclaimReport, ScheduleApplied, VmEvent, VmEventListener, VmId, VmInfo, VmSchedule, VmState, VmStats,
} from './protocol.js';
import { CAP_MIN_PERCENT, scheduleProblem } from './schedule-limits.js';
import { sliceTarget, type SlicedEngineFactory } from './sliced-engine.js';
import type { LiveVm } from './live-ops.js';
import type { PrecopyOptions } from '../snapshot/precopy.js';
import type { SnapshotMetadataInput } from '../snapshot/format.js';
import type { AcceptMigrationRequest } from '../hypervisor/host-port.js';
import { closeDisk, HostNic, type BaseCapable, type HostedVm, type OpenedDisk } from './hosted-vm.js';
import { HostLiveOps } from './vm-host-live.js';
import { ConsolePacer } from './console-pacer.js';

export type { OpenedDisk } from './hosted-vm.js';

export type EngineFactory = (config: BootConfig, assets: AssetLoader) => Promise<Engine>;

export interface VmHostOptions {
  assets: AssetLoader;
  createEngine: EngineFactory;
  /**
   * Tried first: an engine the host time-slices, or undefined to use createEngine. Without it
   * every engine runs flat out in its own loop (as before time slicing).
   */
  createSlicedEngine?: SlicedEngineFactory;
  /** Instructions per slice (SliceScheduler quantum); 100 000 by default. */
  quantum?: number;
  /** Longest stretch of slices before the loop yields to the event loop; 8 ms by default. */
  burstMs?: number;
  /**
   * Idle guests' timer deadlines are rounded up to multiples of this (ms), so that the VMs of a
   * host wake together rather than one by one; 0 = exact. 4 ms by default (a 250 Hz tick).
   */
  timerGridMs?: number;
  /** Period of the duty cycle that caps an engine with its own loop (v86); 100 ms by default. */
  capPeriodMs?: number;
  /** Monotonic milliseconds; performance.now by default. */
  now?: () => number;
  /** Opens a VM's persistent disk (the page: an OPFS overlay); without it, disk requests fail. */
  openDisk?: (request: DiskRequest) => Promise<OpenedDisk>;
  /**
   * Runs a full garbage collection, where the platform lets a worker ask for one (Node); after
   * reclaimMemory the old core's memory is returned only when it is collected. Without it the
   * engine's own collector decides when.
   */
  collectGarbage?: () => void;
}

export class VmHost {
  private readonly vms = new Map<VmId, HostedVm>();
  private readonly outbox = new EventOutbox();
  private readonly assets: AssetLoader;
  private readonly collectGarbage: (() => void) | undefined;
  private readonly engineFactory: EngineFactory;
  private readonly slicedFactory: SlicedEngineFactory | undefined;
  private readonly now: () => number;
  private readonly scheduler: SliceScheduler;
  private readonly runner: SliceRunner;
  private readonly timerGridMs: number;
  private readonly capPeriodMs: number;
  private nextVm = 1;
  private nextKept = 1;
  private readonly kept = new Map<string, Uint8Array>();
  private readonly defer: (fn: () => void) => void;
  private readonly openDisk: VmHostOptions['openDisk'];
  private readonly live: HostLiveOps;

  constructor(options: VmHostOptions) {
    this.assets = options.assets;
    this.engineFactory = options.createEngine;
    this.openDisk = options.openDisk;
    this.collectGarbage = options.collectGarbage;
    this.slicedFactory = options.createSlicedEngine;
    this.now = options.now ?? (() => performance.now());
    this.timerGridMs = options.timerGridMs ?? 4;
    this.capPeriodMs = options.capPeriodMs ?? 100;
    const clock: SchedulerClock = { now: this.now };
    this.scheduler = new SliceScheduler({ clock, ...(options.quantum ? { quantum: options.quantum } : {}) });
    const system = systemRunnerHost();
    this.defer = system.defer;
    const runnerHost: RunnerHost = { ...system, now: this.now };
    this.runner = new SliceRunner(this.scheduler, runnerHost, {
      ...(options.burstMs ? { burstMs: options.burstMs } : {}),
      onFault: (id, error) => this.onSliceFault(id, error),
    });
    this.live = new HostLiveOps({
      require: (id, operation) => this.require(id, operation),
      liveVm: (vm) => this.liveVm(vm),
      create: (request) => this.create(request),
      start: (id) => this.start(id),
      destroy: (id) => this.destroy(id),
      keep: (state) => {
        const name = `kept-${this.nextKept++}`;
        this.kept.set(name, state);
        return name;
      },
      now: () => this.now(),
      collectGarbage: () => this.collectGarbage?.(),
    });
  }

  /** Registers a listener for every VM's events; returns an id for unsubscribe(). */
  subscribe(listener: VmEventListener): number {
    return this.outbox.subscribe(listener);
  }

  unsubscribe(subscription: number): boolean {
    return this.outbox.unsubscribe(subscription);
  }

  /** Loads the VM's files and builds its engine; the VM is 'created', not yet running. */
  async create(request: CreateVmRequest): Promise<VmInfo> {
    const id = request.id ?? this.freshId();
    if (this.vms.has(id)) throw new Error(`a VM named ${id} already exists in this host`);
    // Reserve the id while loading, so two concurrent creates cannot take it twice.
    const reserved = { info: { id } } as HostedVm;
    this.vms.set(id, reserved);
    const progress = (message: string) => this.post({ kind: 'progress', vmId: id, message });
    let disk: OpenedDisk | undefined;
    try {
      let config: BootConfig;
      let readyMarker: string | undefined;
      let name: string;
      if (request.keptState !== undefined) {
        const state = this.kept.get(request.keptState);
        this.kept.delete(request.keptState);
        if (!state || !request.config) throw new Error(`this host keeps no state named ${request.keptState}`);
        request = { ...request, config: { ...request.config, state } };
      }
      if (request.image) {
        config = await bootConfigFromImage(request.image, this.assets, progress);
        readyMarker = request.image.readyMarker;
        name = request.name ?? request.image.name;
      } else {
        config = request.config;
        if (request.stateFile) {
          progress('Reading the snapshot');
          const state = await stateFromSnapshotFile(request.stateFile, { ...config, ...(request.stateImage ? { image: request.stateImage } : {}) });
          config = { ...config, state };
        }
        readyMarker = request.readyMarker;
        name = request.name ?? id;
      }
      if (request.extraCmdline) config = { ...config, cmdline: `${config.cmdline ?? ''} ${request.extraCmdline}`.trim() };
      const nic = request.nic ? new HostNic((frame) => this.post({ kind: 'net', vmId: id, frame })) : undefined;
      if (nic) config = { ...config, net: nic, mac: request.nic!.mac };
      const exchange = request.exchange ? newExchangeShare() : undefined;
      if (exchange) config = { ...config, share: exchange };
      if (request.disk) {
        if (!this.openDisk) throw new Error('this VM host keeps no disks');
        progress('Opening the disk');
        disk = await this.openDisk(request.disk);
        config = { ...config, disk, diskOnRestore: request.disk.onRestore ?? 'copy' };
      }
      progress(`Starting the ${config.engine} engine`);
      const sliced = this.slicedFactory ? await this.slicedFactory(config, this.assets) : undefined;
      const engine = sliced ?? (await this.engineFactory(config, this.assets));
      const vm: HostedVm = {
        info: {
          id,
          name,
          engine: engine.kind,
          memoryMiB: config.memoryMiB,
          state: 'created',
          ready: false,
          ...(readyMarker ? { readyMarker } : {}),
        },
        engine,
        // An idle guest runs in the next slice (it is paused: at resume).
        input: new ConsolePacer(engine, () => {
          if (sliced && this.scheduler.has(id)) this.runner.wake(id);
        }),
        sliced,
        schedule: { weight: 1, capPercent: undefined },
        cap: undefined,
        marker: readyMarker ? new MarkerWatcher(readyMarker) : null,
        unsubscribe: [],
        ...(nic ? { nic } : {}),
        ...(exchange ? { exchange } : {}),
        ...(request.baseId !== undefined && config.state ? { base: { id: request.baseId, state: config.state } } : {}),
        ...(disk ? { disk } : {}),
      };
      if (this.vms.get(id) !== reserved) {
        // destroy() was called while loading.
        await engine.destroy();
        throw new Error(`VM ${id} was destroyed while it was being created`);
      }
      this.vms.set(id, vm);
      vm.unsubscribe.push(
        engine.onConsole((data) => this.onConsole(vm, data)),
        engine.onExit((reason) => this.onExit(vm, reason)),
      );
      this.post({ kind: 'state', vmId: id, state: 'created' });
      return { ...vm.info };
    } catch (err) {
      if (this.vms.get(id) === reserved) this.vms.delete(id);
      closeDisk(disk);
      throw err;
    }
  }

  /** Boots the VM (or restores the state its BootConfig carries). */
  async start(id: VmId): Promise<VmInfo> {
    const vm = this.require(id, 'start');
    vm.startedAt = this.now();
    await vm.engine.start();
    if (vm.base) {
      // Made from a snapshot file: that file is its base (a later restore of it is a cheap reset).
      (vm.engine as Engine & Partial<BaseCapable>).setBase?.(vm.base.id, vm.base.state);
      vm.base = undefined;
    }
    // The guest may already have exited while starting, or the VM been destroyed.
    if (vm.info.state === 'created' && this.vms.get(id) === vm) {
      this.setState(vm, 'running');
      this.startRunning(vm);
    }
    return { ...vm.info };
  }

  async pause(id: VmId): Promise<VmInfo> {
    const vm = this.require(id, 'pause');
    // Between two calls no slice is half done: the slice loop runs whole slices between turns
    // of the event loop, and this call is one such turn.
    if (vm.sliced) this.runner.pause(id);
    await vm.capReleasing;
    await vm.cap?.stop(false);
    await vm.engine.pause();
    if (vm.info.state === 'running') this.setState(vm, 'paused');
    return { ...vm.info };
  }

  async resume(id: VmId): Promise<VmInfo> {
    const vm = this.require(id, 'resume');
    await vm.engine.resume();
    this.setState(vm, 'running');
    this.startRunning(vm);
    return { ...vm.info };
  }

  /**
   * The VM's share of this host's core: `weight` (relative, when VMs compete) and `capPercent`
   * (at most that % of one core; ranges in schedule-limits.ts). Kept across pause and resume;
   * settable before start. Every host enforces caps: sliced engines (RV64) through the slice
   * loop, engines with their own loop (v86) through a duty cycle. Weights apply to sliced
   * engines only; the answer says what this VM gets.
   */
  setSchedule(id: VmId, params: VmSchedule): ScheduleApplied {
    const vm = this.require(id);
    const weight = params.weight ?? vm.schedule.weight;
    const capPercent = 'capPercent' in params ? params.capPercent : vm.schedule.capPercent;
    const problem = scheduleProblem({ weight, capPercent });
    if (problem) throw new Error(`VM ${id}: ${problem}`);
    vm.schedule = { weight, capPercent };
    if (vm.sliced) {
      if (this.scheduler.has(id)) this.runner.setParams(id, { weight, capPercent });
    } else if (vm.info.state === 'running') {
      this.applyCap(vm);
    }
    return { weight: vm.sliced !== undefined, cap: true };
  }

  /** The whole machine state of a paused VM (transferred, not copied, to the caller's thread). */
  async saveState(id: VmId): Promise<Uint8Array> {
    const vm = this.require(id, 'saveState');
    const state = await vm.engine.saveState();
    return transfer(state, [state.buffer]);
  }

  /** Replaces a paused VM's state (to start a VM from a state, create it with BootConfig.state). */
  async loadState(id: VmId, state: Uint8Array): Promise<VmInfo> {
    const vm = this.require(id, 'loadState');
    vm.input.clear(); // typed for the machine being replaced
    await vm.engine.loadState(state);
    return { ...vm.info };
  }

  // Live operations (vm-host-live.ts): saving, restoring, cloning and moving a VM while it runs.
  saveStateLive(id: VmId, options: { keep?: boolean } = {}): ReturnType<HostLiveOps['saveStateLive']> {
    return this.live.saveStateLive(id, options);
  }

  snapshotFile(id: VmId, metadata: SnapshotMetadataInput, options: { incremental?: boolean } = {}): ReturnType<HostLiveOps['snapshotFile']> {
    return this.live.snapshotFile(id, metadata, options);
  }

  restoreLive(id: VmId, state: Uint8Array, file: { id?: string; baseId?: string } = {}): ReturnType<HostLiveOps['restoreLive']> {
    return this.live.restoreLive(id, state, file);
  }

  /** Gives what the guest freed back to the host (HostLiveOps.reclaimMemory). */
  reclaimMemory(id: VmId): Promise<ReclaimReport> {
    return this.live.reclaimMemory(id);
  }

  cloneLocal(id: VmId, request: { id: VmId; name?: string; readyMarker?: string; cmdline?: string }): ReturnType<HostLiveOps['cloneLocal']> {
    return this.live.cloneLocal(id, request);
  }

  migrateOut(id: VmId, port: MessagePort, hello: { memoryMiB: number; name?: string }, options: PrecopyOptions = {}): ReturnType<HostLiveOps['migrateOut']> {
    return this.live.migrateOut(id, port, hello, options);
  }

  acceptMigration(request: AcceptMigrationRequest, port: MessagePort): void {
    this.live.acceptMigration(request, port);
  }

  /** The live operations' view of a hosted VM: held (out of the loop, engine paused) without a state change. */
  private liveVm(vm: HostedVm): LiveVm {
    const id = vm.info.id;
    return {
      engine: vm.engine,
      running: () => vm.info.state === 'running',
      pause: async () => {
        if (vm.sliced) this.runner.pause(id);
        await vm.capReleasing;
        await vm.cap?.stop(false);
        await vm.engine.pause();
      },
      resume: async () => {
        await vm.engine.resume();
        if (vm.info.state === 'running' && this.vms.get(id) === vm) this.startRunning(vm);
      },
      yieldNow: () => new Promise<void>((resolve) => this.defer(resolve)),
      now: this.now,
      // Pre-copy's auto-throttle: a smaller cap in the slice loop (its own cap scaled down);
      // 100 puts the VM's own schedule back. Engines with their own loop are not throttled.
      ...(vm.sliced ? {
        throttle: (percent: number) => {
          if (!this.scheduler.has(id) || this.vms.get(id) !== vm) return;
          const own = vm.schedule.capPercent;
          const capPercent = percent >= 100 ? own : Math.max(CAP_MIN_PERCENT, ((own ?? 100) * percent) / 100);
          this.runner.setParams(id, { weight: vm.schedule.weight, capPercent });
        },
      } : {}),
    };
  }

  /** Stops the VM for good and frees its memory. Destroying an unknown id is not an error. */
  async destroy(id: VmId): Promise<void> {
    const vm = this.vms.get(id);
    if (!vm) return;
    this.vms.delete(id);
    if (!vm.engine) return; // still loading; create() notices
    if (vm.sliced) this.runner.remove(id);
    await vm.cap?.stop(false);
    for (const off of vm.unsubscribe) off();
    vm.input.clear();
    try {
      await vm.engine.destroy();
    } finally {
      closeDisk(vm.disk);
    }
    this.outbox.flush();
  }

  /** Destroys every VM (before the worker is terminated). */
  async destroyAll(): Promise<void> {
    await Promise.all([...this.vms.keys()].map((id) => this.destroy(id)));
  }

  sendConsole(id: VmId, data: Uint8Array | string): void {
    this.require(id, 'sendConsole').input.send(data);
  }

  /** Asks the guest to give `bytes` of RAM back through its balloon (engines that have one). */
  setBalloon(id: VmId, bytes: number): void {
    const vm = this.require(id);
    if (!vm.engine.setBalloon) throw new Error(`the ${vm.info.engine} engine has no balloon device`);
    vm.engine.setBalloon(bytes);
    if (vm.sliced && this.scheduler.has(id)) this.runner.wake(id);
  }

  /** Ethernet frames for the VM's network card (from the hypervisor's switch); dropped without one. */
  sendNet(id: VmId, frames: Uint8Array[]): void {
    const vm = this.vms.get(id);
    if (!vm?.nic) return;
    for (const f of frames) vm.nic.deliver(f);
    if (vm.sliced && this.scheduler.has(id)) this.runner.wake(id);
  }

  /** Puts files in folder `dir` of the VM's exchange folder (transferred from the page). */
  putExchangeFiles(id: VmId, dir: string[], files: ExchangeFile[]): void {
    putExchangeFiles(this.exchangeOf(id), dir, files);
  }

  /** A file of the exchange folder, or a folder as a tar (transferred to the caller). */
  takeFromExchange(id: VmId, path: string[]): ExchangeItem {
    const item = takeFromExchange(this.exchangeOf(id), path);
    return transfer(item, [item.bytes.buffer]);
  }

  /** Removes a file or folder of the exchange folder (a transfer is done); missing is fine. */
  removeFromExchange(id: VmId, path: string[]): void {
    this.exchangeOf(id).removeTree(path);
  }

  private exchangeOf(id: VmId): MemoryFileShare {
    const share = this.require(id).exchange;
    if (!share) throw new Error(`VM ${id} has no exchange folder`);
    return share;
  }

  info(id: VmId): VmInfo {
    return { ...this.require(id).info };
  }

  list(): VmInfo[] {
    return [...this.vms.values()].filter((vm) => vm.engine).map((vm) => ({ ...vm.info }));
  }

  stats(id: VmId): VmStats {
    const vm = this.require(id);
    const sched = vm.sliced && this.scheduler.has(id) ? this.scheduler.stats(id) : undefined;
    return {
      ...vm.engine.stats(),
      id,
      state: vm.info.state,
      schedule: {
        ...vm.schedule,
        sliced: vm.sliced !== undefined,
        ...(sched ? { slices: sched.slices, runnable: sched.state === 'runnable' } : {}),
        ...(vm.cap ? { throttled: vm.cap.throttled } : {}),
      },
      ...(vm.firstOutputMs !== undefined ? { firstOutputMs: vm.firstOutputMs } : {}),
      ...(vm.readyMs !== undefined ? { readyMs: vm.readyMs } : {}),
    };
  }

  /** A VM that is now running goes (back) into the slice loop, or its duty cycle (re)starts. */
  private startRunning(vm: HostedVm): void {
    const id = vm.info.id;
    if (vm.sliced) {
      if (!this.scheduler.has(id)) this.runner.add(id, sliceTarget(vm.sliced, this.now, this.timerGridMs), vm.schedule);
      else {
        this.runner.resume(id);
        // Its saved idle state may predate a loadState: let it look at its timers at once.
        this.runner.wake(id);
      }
    } else {
      this.applyCap(vm);
    }
  }

  /** Starts, changes or ends the duty cycle of a running engine with its own loop. */
  private applyCap(vm: HostedVm): void {
    const cap = vm.schedule.capPercent;
    if (cap !== undefined && cap < 100) {
      vm.cap ??= new DutyCycleCap(vm.engine, cap, this.now, this.capPeriodMs, (throttled) =>
        this.post({ kind: 'throttle', vmId: vm.info.id, throttled }),
      );
      vm.cap.start(cap);
    } else if (vm.cap) {
      const held = vm.cap;
      vm.cap = undefined;
      const releasing = held.stop(true).finally(() => {
        if (vm.capReleasing === releasing) vm.capReleasing = undefined;
      });
      vm.capReleasing = releasing;
    }
  }

  private onExit(vm: HostedVm, reason: ExitReason): void {
    const id = vm.info.id;
    if (vm.sliced && this.vms.get(id) === vm) this.runner.remove(id);
    void vm.cap?.stop(false);
    vm.info.exit = reason;
    this.setState(vm, reason.kind === 'crash' ? 'failed' : 'stopped');
    this.post({ kind: 'exit', vmId: id, reason });
  }

  /** A slice threw (a device or the core failed outside the guest's control): that VM fails alone. */
  private onSliceFault(id: VmId, error: unknown): void {
    const vm = this.vms.get(id);
    if (!vm?.engine || vm.info.exit) return;
    const message = `VM ${id} failed in a time slice: ${error instanceof Error ? error.message : String(error)}`;
    this.onExit(vm, { kind: 'crash', message });
    void vm.engine.pause().catch(() => undefined);
  }

  private onConsole(vm: HostedVm, data: Uint8Array): void {
    if (vm.firstOutputMs === undefined && vm.startedAt !== undefined) vm.firstOutputMs = this.now() - vm.startedAt;
    this.post({ kind: 'console', vmId: vm.info.id, data });
    if (vm.marker?.push(data)) {
      vm.info.ready = true;
      if (vm.startedAt !== undefined) vm.readyMs = this.now() - vm.startedAt;
      this.post({ kind: 'ready', vmId: vm.info.id });
    }
  }

  private setState(vm: HostedVm, state: VmState): void {
    if (vm.info.state === state) return;
    vm.info.state = state;
    this.post({ kind: 'state', vmId: vm.info.id, state });
  }

  private post(event: VmEvent): void {
    this.outbox.post(event);
  }

  private require(id: VmId, operation?: HostOperation): HostedVm {
    const vm = this.vms.get(id);
    if (!vm) throw new Error(`no VM named ${id} in this host`);
    if (!vm.engine) throw new Error(`VM ${id} is still being created`);
    if (operation) {
      const allowed = HOST_RULES[operation];
      if (!allowed.includes(vm.info.state)) {
        throw new Error(`cannot ${operation} VM ${id}: it is ${vm.info.state} (needs ${allowed.join(' or ')})`);
      }
    }
    return vm;
  }

  private freshId(): VmId {
    let id: VmId;
    do id = `vm-${this.nextVm++}`;
    while (this.vms.has(id));
    return id;
  }
}
