// A VM host: the object a worker exposes (through comlink) to run one or more VMs.
// It owns the engines, their lifecycle state and their event stream, and nothing else: which VM
// runs where and when is decided above it (the hypervisor), which CPU runs below it (the engine).
// It has no idea whether it lives in a browser Worker, a node:worker_threads worker or in-process.
import { transfer } from 'comlink';
import type { AssetLoader, BootConfig, Engine } from '../engines/engine.js';
import { EventOutbox } from './event-outbox.js';
import { bootConfigFromImage } from './image-files.js';
import { MarkerWatcher } from './marker-watcher.js';
import type { CreateVmRequest, VmEvent, VmEventListener, VmId, VmInfo, VmState, VmStats } from './protocol.js';

export type EngineFactory = (config: BootConfig, assets: AssetLoader) => Promise<Engine>;

export interface VmHostOptions {
  assets: AssetLoader;
  createEngine: EngineFactory;
  /** Monotonic milliseconds; performance.now by default. */
  now?: () => number;
}

/** Which operation is allowed in which state: the one place that says so. */
const ALLOWED: Record<string, readonly VmState[]> = {
  start: ['created'],
  pause: ['running'],
  resume: ['paused'],
  saveState: ['paused'],
  loadState: ['paused'],
  sendConsole: ['created', 'running', 'paused'],
};

interface HostedVm {
  info: VmInfo;
  engine: Engine;
  marker: MarkerWatcher | null;
  unsubscribe: Array<() => void>;
  startedAt?: number;
  firstOutputMs?: number;
  readyMs?: number;
}

export class VmHost {
  private readonly vms = new Map<VmId, HostedVm>();
  private readonly outbox = new EventOutbox();
  private readonly assets: AssetLoader;
  private readonly engineFactory: EngineFactory;
  private readonly now: () => number;
  private nextVm = 1;

  constructor(options: VmHostOptions) {
    this.assets = options.assets;
    this.engineFactory = options.createEngine;
    this.now = options.now ?? (() => performance.now());
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
    try {
      let config: BootConfig;
      let readyMarker: string | undefined;
      let name: string;
      if (request.image) {
        config = await bootConfigFromImage(request.image, this.assets, progress);
        readyMarker = request.image.readyMarker;
        name = request.name ?? request.image.name;
      } else {
        config = request.config;
        readyMarker = request.readyMarker;
        name = request.name ?? id;
      }
      progress(`Starting the ${config.engine} engine`);
      const engine = await this.engineFactory(config, this.assets);
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
        marker: readyMarker ? new MarkerWatcher(readyMarker) : null,
        unsubscribe: [],
      };
      if (this.vms.get(id) !== reserved) {
        // destroy() was called while loading.
        await engine.destroy();
        throw new Error(`VM ${id} was destroyed while it was being created`);
      }
      this.vms.set(id, vm);
      vm.unsubscribe.push(
        engine.onConsole((data) => this.onConsole(vm, data)),
        engine.onExit((reason) => {
          vm.info.exit = reason;
          this.setState(vm, reason.kind === 'crash' ? 'failed' : 'stopped');
          this.post({ kind: 'exit', vmId: id, reason });
        }),
      );
      this.post({ kind: 'state', vmId: id, state: 'created' });
      return { ...vm.info };
    } catch (err) {
      if (this.vms.get(id) === reserved) this.vms.delete(id);
      throw err;
    }
  }

  /** Boots the VM (or restores the state its BootConfig carries). */
  async start(id: VmId): Promise<VmInfo> {
    const vm = this.require(id, 'start');
    vm.startedAt = this.now();
    await vm.engine.start();
    // The guest may already have exited while starting.
    if (vm.info.state === 'created') this.setState(vm, 'running');
    return { ...vm.info };
  }

  async pause(id: VmId): Promise<VmInfo> {
    const vm = this.require(id, 'pause');
    await vm.engine.pause();
    this.setState(vm, 'paused');
    return { ...vm.info };
  }

  async resume(id: VmId): Promise<VmInfo> {
    const vm = this.require(id, 'resume');
    await vm.engine.resume();
    this.setState(vm, 'running');
    return { ...vm.info };
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
    await vm.engine.loadState(state);
    return { ...vm.info };
  }

  /** Stops the VM for good and frees its memory. Destroying an unknown id is not an error. */
  async destroy(id: VmId): Promise<void> {
    const vm = this.vms.get(id);
    if (!vm) return;
    this.vms.delete(id);
    if (!vm.engine) return; // still loading; create() notices
    for (const off of vm.unsubscribe) off();
    await vm.engine.destroy();
    this.outbox.flush();
  }

  /** Destroys every VM (before the worker is terminated). */
  async destroyAll(): Promise<void> {
    await Promise.all([...this.vms.keys()].map((id) => this.destroy(id)));
  }

  sendConsole(id: VmId, data: Uint8Array | string): void {
    const vm = this.require(id, 'sendConsole');
    vm.engine.sendConsole(data);
  }

  info(id: VmId): VmInfo {
    return { ...this.require(id).info };
  }

  list(): VmInfo[] {
    return [...this.vms.values()].filter((vm) => vm.engine).map((vm) => ({ ...vm.info }));
  }

  stats(id: VmId): VmStats {
    const vm = this.require(id);
    return {
      ...vm.engine.stats(),
      id,
      state: vm.info.state,
      ...(vm.firstOutputMs !== undefined ? { firstOutputMs: vm.firstOutputMs } : {}),
      ...(vm.readyMs !== undefined ? { readyMs: vm.readyMs } : {}),
    };
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

  private require(id: VmId, operation?: keyof typeof ALLOWED): HostedVm {
    const vm = this.vms.get(id);
    if (!vm) throw new Error(`no VM named ${id} in this host`);
    if (!vm.engine) throw new Error(`VM ${id} is still being created`);
    if (operation) {
      const allowed = ALLOWED[operation];
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
