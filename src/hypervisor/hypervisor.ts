// The hypervisor: the one place that decides which VMs exist, where they run, how much memory
// they hold and what state they are in. The same class runs in the page and in Node; it drives
// VM hosts (workers) through VmHostPort and never touches an engine itself.
//
// This file keeps the registry and the public API. How an action is carried out (call queue,
// lifecycle checks, host calls, engine instances) is in vm-actions.ts; snapshot files in
// snapshot-files.ts; migration in migration.ts; consoles in console-fanout.ts. Weights and caps
// are decided here and enforced by the hosts (every host time-slices).

import type { ImageEntry, JitFigures } from '../engines/engine.js';
import type { ReclaimPolicyOptions } from './reclaim-policy.js';
import { GuestMemory } from './guest-memory.js';
import type { DiskRequest, ReclaimReport, VmEvent } from '../worker/protocol.js';
import { scheduleProblem } from '../worker/schedule-limits.js';
import { ConsoleFanout, type ConsoleAttachment } from './console-fanout.js';
import { HypervisorError } from './errors.js';
import type { ExchangeFile } from '../worker/file-exchange.js';
import { downloadFromGuest, uploadFiles, type Download, type GuestFilesTarget, type UploadReport } from './guest-files.js';
import { platformWebSocket, type WebSocketFactory } from '../devices/backends/wisp-client.js';
import { VirtualNetworks, type NetworkInfo, type NetworkOptions } from './networks.js';
import { TypedEmitter } from './events.js';
import { defaultPoolSize, HostPool, type HostConnection, type HostFactory, type HostSlot } from './host-port.js';
import { newIdentity, type VmIdentity } from './identity.js';
import { applyIdentityInGuest, GUEST_CONTRACT_MARKER, hostnameOf } from './identity-in-guest.js';
import { ManagedVm, messageOf, type VmSummary } from './managed-vm.js';
import { formatBytes, MemoryBudget, type MemoryUsage } from './memory-budget.js';
import { migrateVm, type MigrationReport } from './migration.js';
import { precopyOptionsProblem, type PrecopyOptions } from '../snapshot/precopy.js';
import { checkCompatible, decodeSnapshotFile, encodeSnapshotFile, fileIdentity, MiB, ownBuffer, peekSnapshotFile, snapshotMetadata } from './snapshot-files.js';
import type { SnapshotFileState } from './vm-actions.js';
import { snapshotFileId } from '../snapshot/incremental.js';
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
  /** How a network's internet gateway reaches its WISP relay (the platform's WebSocket by default; Node 20 has none: pass `ws`). */
  webSocket?: WebSocketFactory;
  /** Number of hosts; one per core (navigator.hardwareConcurrency) by default, at least 1. */
  poolSize?: number;
  /** Monotonic milliseconds, for CPU shares; performance.now by default. */
  now?: () => number;
  /**
   * Gives a VM a persistent disk (the page: an OPFS overlay per lab VM): which overlay and base,
   * or undefined for none. Asked each time the VM gets a new engine instance.
   */
  diskFor?: DiskPolicy;
  /**
   * Gives rv64 VMs' freed memory back on its own (reclaimMemory) once a guest has reported enough
   * free (ReclaimPolicy; looked at every `everyMs`, 5 s by default). `false` turns it off.
   */
  reclaimFreed?: (ReclaimPolicyOptions & { everyMs?: number }) | false;
}

export type DiskPolicy = (vm: { name: string; image: ImageEntry }) => Pick<DiskRequest, 'key' | 'base'> | undefined;

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
  /**
   * Let the VM's host (its worker) inflate and verify the file, not this thread: only its
   * metadata is read here. The file's buffer is handed over (transferred): the caller must not
   * use it afterwards. A damaged file then fails as the VM is made (still `bad-snapshot`).
   */
  decodeInHost?: boolean;
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
  /** Free memory the guest reported through its balloon (free page reporting) and the host dropped. */
  freedReportedBytes?: number;
  /** The JIT's code cache and work for this VM (rv64 with the JIT on). */
  jit?: JitFigures;
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
  private readonly networks: VirtualNetworks;
  private readonly netOutbox = new Map<ManagedVm, Uint8Array[]>();
  private readonly diskFor: DiskPolicy | undefined;
  private readonly diskless = new Set<string>();
  /** Names whose next VM starts with an empty disk (emptyDisksOf). */
  private readonly disksToEmpty = new Set<string>();
  private readonly guestMemory: GuestMemory;

  constructor(options: HypervisorOptions) {
    for (const image of options.images) this.images.set(image.name, image);
    this.memory = new MemoryBudget(options.memoryBudgetBytes);
    this.networks = new VirtualNetworks(options.webSocket ?? platformWebSocket());
    this.now = options.now ?? (() => performance.now());
    this.pool = new HostPool(
      options.hosts,
      options.poolSize ?? defaultPoolSize(),
      (slot, connection) => this.listenTo(slot, connection),
      (slot, reason) => this.actions.hostDied(slot, reason),
    );
    // A VM named in withoutDisks() gets none, whatever the policy says.
    const diskFor = options.diskFor;
    this.diskFor = diskFor ? (vm) => (this.diskless.has(vm.name) ? undefined : diskFor(vm)) : undefined;
    this.actions = new VmActions(this.pool, (vm) => this.vms.get(vm.id) === vm, this.diskFor);
    this.consoles = new ConsoleFanout(this.actions, this.events);
    this.guestMemory = new GuestMemory(
      {
        memory: this.memory,
        actions: this.actions,
        vms: () => [...this.vms.values()],
        reclaim: (vm) => this.reclaimMemory(vm.id),
        now: this.now,
      },
      options.reclaimFreed,
    );
  }

  /**
   * Starts every host of the pool now rather than when its first VM is placed: a page about to
   * load a lab overlaps the workers' start-up with fetching the lab's snapshots.
   */
  async startHosts(): Promise<void> {
    await Promise.all(this.pool.slots.map((slot) => this.pool.connect(slot)));
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
  setBalloon(ref: string, mib: number): Promise<void> {
    return this.guestMemory.setBalloon(this.find(ref), mib);
  }

  /**
   * Gives the memory the guest freed (free page reporting, an inflated balloon) back to the host:
   * the machine moves into new memory holding only its non-zero pages (RV64 VMs; docs/HYPERVISOR.md
   * "Balloon"). The guest pauses only for the pages it wrote during the copy.
   */
  async reclaimMemory(ref: string): Promise<ReclaimReport> {
    let report!: ReclaimReport;
    await this.perform(ref, 'reclaim', async (vm) => {
      report = await this.guestMemory.reclaim(vm);
    });
    return report;
  }

  /**
   * Counts what each live VM's balloon holds (never more than asked for) as free budget. Called
   * when a new VM does not fit otherwise: idle VMs' balloons make room (overcommit).
   */
  refreshBalloonCredits(): Promise<void> {
    return this.guestMemory.refreshCredits();
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
    this.guestMemory.mustKeepCredit(this.find(ref), 0, 'start');
    return this.perform(ref, 'start', async (vm) => {
      vm.machine.apply('start');
      this.memory.setCredit(vm.id, 0);
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

  /** VMs of these names get no persistent disk (a lab with `"disks": false`). */
  withoutDisks(names: Iterable<string>): void {
    for (const name of names) this.diskless.add(name);
  }

  /**
   * The next VM made under each of these names starts with its persistent disk back at the base
   * image (a whole lab's reset: its VMs are deleted, then made again under the same names).
   */
  emptyDisksOf(names: Iterable<string>): void {
    for (const name of names) this.disksToEmpty.add(name);
  }

  /** True when a VM named `name` made from `image` gets a persistent disk (HypervisorOptions.diskFor). */
  givesDisk(name: string, image: ImageEntry): boolean {
    return this.diskBaseOf(name, image) !== undefined;
  }

  /** True when the next VM named `name` starts with its disk emptied (emptyDisksOf). */
  diskWillBeEmptied(name: string): boolean {
    return this.disksToEmpty.has(name);
  }

  /** The base image of the persistent disk a VM named `name` made from `image` gets, if any. */
  diskBaseOf(name: string, image: ImageEntry): DiskRequest['base'] | undefined {
    return this.diskFor?.({ name, image })?.base;
  }

  /** Boots the VM again from its image; its persistent disk, if any, goes back to the base image. */
  async reset(ref: string): Promise<VmSummary> {
    this.guestMemory.mustKeepCredit(this.find(ref), 0, 'reset');
    return this.perform(ref, 'reset', async (vm) => {
      await this.actions.discardInstance(vm);
      this.memory.setCredit(vm.id, 0);
      vm.diskReset = true;
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
      this.guestMemory.forget(vm.id);
    });
  }

  // --- state --------------------------------------------------------------------------------

  /** Saves the whole machine as a snapshot file (a running VM pauses for the time of the save). */
  async snapshot(ref: string, options: { incremental?: boolean } = {}): Promise<Uint8Array> {
    let file!: Uint8Array;
    await this.perform(ref, 'snapshot', async (vm) => {
      if (options.incremental && !vm.slot?.connection?.port.snapshotFile) {
        throw new HypervisorError('bad-argument', `cannot take an incremental snapshot of VM '${vm.name}': its host cannot`);
      }
      if (vm.slot?.connection?.port.snapshotFile) {
        // Saved live and encoded in the VM's worker; only the finished file comes here.
        const out = await this.actions.hostCall(vm, 'snapshot', (port, id) => port.snapshotFile!(id, snapshotMetadata(vm), options), 'throw')
          .catch((error: unknown) => {
            if (options.incremental && /has no base/.test(messageOf(error))) {
              throw new HypervisorError('bad-argument', `cannot take an incremental snapshot of VM '${vm.name}': it has no base yet (take a whole snapshot or restore one first)`);
            }
            throw error;
          });
        vm.lastPauseMs = out.report.pauseMs;
        file = out.file;
      } else {
        file = await encodeSnapshotFile(vm, await this.actions.captureState(vm, 'snapshot'));
      }
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
    const context = `cannot restore VM '${target.name}'`;
    const { snap, meta, state } = await decodeSnapshotFile(file, context, { vmBytes: target.memoryMiB * MiB });
    const identity = fileIdentity(file, snap.metadata, context);
    // The restored machine's balloon is not known until it runs: count it as empty.
    this.guestMemory.mustKeepCredit(target, 0, 'restore');
    return this.perform(ref, 'restore', async (vm) => {
      checkCompatible(vm, snap.metadata);
      await this.actions.restoreMachine(vm, state, meta.ready, identity);
      this.memory.setCredit(vm.id, 0);
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
    copy.network = source.network; // on the same network, with its own MAC (and no fixed address)
    // Reserve before pausing the source: a clone that cannot fit must not disturb anything.
    await this.guestMemory.reserveFor(copy);
    let from!: { state?: Uint8Array; kept?: { token: string; slot: HostSlot } };
    let ready = false;
    try {
      await this.perform(ref, 'clone', async (vm) => {
        const port = vm.slot?.connection?.port;
        if (port?.saveStateLive && vm.slot) {
          // Taken live and kept in the source's worker; the clone is made there: no RAM comes here.
          const slot = vm.slot;
          const out = await this.actions.hostCall(vm, 'clone', (p, id) => p.saveStateLive!(id, { keep: true }));
          vm.lastPauseMs = out.report.pauseMs;
          from = { kept: { token: out.kept!, slot } };
        } else {
          from = { state: await this.actions.captureState(vm, 'clone') };
        }
        ready = vm.ready;
        this.actions.finish(vm, 'clone');
      });
    } catch (error) {
      this.memory.release(copy.id);
      throw error;
    }
    await this.admit(copy, { ...from, ready, reserved: true, copy: true });
    await this.applyIdentity(copy);
    return copy.summary();
  }

  /**
   * A new running VM from a snapshot file (exported here, by another tab or by the CLI). Its
   * memory is what the file's metadata declares, charged to the budget before any host is
   * asked; a machine state that does not fit that size is refused (`bad-snapshot`).
   */
  async importSnapshot(file: Uint8Array, options: ImportSnapshotOptions = {}): Promise<VmSummary> {
    const context = 'cannot import the snapshot';
    await this.guestMemory.refreshCredits();
    const usage = this.memory.usage();
    const limit = { freeBudgetBytes: usage.freeBytes, budgetBytes: usage.totalBytes };
    const decoded = options.decodeInHost ? await peekSnapshotFile(file, context, limit) : await decodeSnapshotFile(file, context, limit);
    const metadata = 'snap' in decoded ? decoded.snap.metadata : decoded.metadata;
    const meta = decoded.meta;
    const state = 'state' in decoded ? decoded.state : { file: ownBuffer(file) };
    const imageName = metadata.image;
    if (fileIdentity(file, metadata, context).baseId !== undefined) {
      throw new HypervisorError('bad-snapshot', `${context}: it is incremental (only the pages changed since a base); restore it into the VM that holds its base`);
    }
    if (!imageName || !this.images.has(imageName)) {
      throw new HypervisorError(
        'bad-snapshot',
        `${context}: it was taken from image '${imageName ?? '(none)'}', which is not in the manifest`,
      );
    }
    const identity = options.identity === 'new' || !meta.identity ? newIdentity() : meta.identity;
    const vm = this.newVm(imageName, {
      name: options.name ?? (meta.name && !this.has(meta.name) ? meta.name : undefined),
      memoryMiB: metadata.memoryMiB,
      weight: options.weight ?? meta.weight,
      capPercent: options.capPercent ?? meta.capPercent,
    }, identity);
    checkCompatible(vm, metadata);
    // An imported machine (a template, resumed work, a file) never overwrites a disk that holds
    // writes of its own: its disk is copied only onto a pristine one (engine.ts, diskOnRestore).
    vm.diskOnRestore = 'refuse';
    if (options.network !== undefined) {
      if (!this.networks.has(options.network)) throw new HypervisorError('bad-argument', `no network named '${options.network}'`);
      vm.network = options.network;
      vm.ip = options.ip;
    }
    // The file is the new VM's base: restoring it again (a lab reset) rewrites only what changed.
    const copy = identity !== meta.identity;
    await this.admit(vm, { state, ready: meta.ready, baseId: snapshotFileId(file), copy });
    if (copy) await this.applyIdentity(vm);
    return vm.summary();
  }

  /**
   * Moves a running or paused VM to another host (the least loaded other one, or `toHost`):
   * rv64 with iterative pre-copy (`precopy` tunes it: chunk size, rounds, auto-throttle; see
   * src/snapshot/precopy.ts), v86 stop-and-copy (paused while its state is saved, carried over
   * and loaded). The report says how long the guest stood still. If the new host fails or
   * refuses, the VM continues where it was.
   */
  async migrate(ref: string, options: { toHost?: number; precopy?: PrecopyOptions } = {}): Promise<MigrationReport> {
    const problem = options.precopy === undefined ? undefined : precopyOptionsProblem(options.precopy);
    if (problem) throw new HypervisorError('bad-argument', `cannot migrate VM '${ref}': ${problem}`);
    let report!: MigrationReport;
    await this.perform(ref, 'migrate', async (vm) => {
      report = await migrateVm(this.actions, this.pool, vm, options.toHost, this.now, options.precopy);
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
  /** Copies files into a running VM's guest, to /root/upload (guest-files.ts). */
  async uploadFiles(ref: string, files: ExchangeFile[]): Promise<UploadReport> {
    return uploadFiles(this.guestFiles(ref, 'upload to'), files);
  }

  /** A file of a running VM's guest, or a folder as NAME.tar (guest-files.ts). */
  async downloadFromGuest(ref: string, path: string): Promise<Download> {
    return downloadFromGuest(this.guestFiles(ref, 'download from'), path);
  }

  private guestFiles(ref: string, what: string): GuestFilesTarget {
    const vm = this.find(ref);
    const port = vm.slot?.connection?.port;
    const instance = vm.instance;
    if (vm.state !== 'running' || !port || !instance) {
      throw new HypervisorError('invalid-state', `cannot ${what} VM '${vm.name}': it is ${vm.state} (needs running)`);
    }
    // The copy is a script at the guest's shell: before the ready marker there is none.
    if (!vm.ready) throw new HypervisorError('invalid-state', `cannot ${what} VM '${vm.name}' yet: its shell is not ready`);
    return {
      name: vm.name,
      console: this,
      putFiles: async (dir, files) => port.putExchangeFiles(instance, dir, files),
      take: async (path) => port.takeFromExchange(instance, path),
      remove: async (path) => port.removeFromExchange(instance, path),
    };
  }

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

  /**
   * Runs `job` with a VM's console to itself: it types through the `send` it is given, and what
   * users type meanwhile reaches the guest after it (scripts typed on the console: runInGuest).
   */
  consoleJob<T>(ref: string, job: (send: (data: Uint8Array | string) => Promise<void>) => Promise<T>): Promise<T> {
    return this.consoles.exclusive(this.find(ref), job);
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
      ...(s.freedReportedBytes !== undefined ? { freedReportedBytes: s.freedReportedBytes } : {}),
      ...(s.jit ? { jit: s.jit } : {}),
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
    this.guestMemory.stop();
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
    const vm = new ManagedVm(id, name, image, memoryMiB, options.weight ?? 1, options.capPercent, identity);
    if (this.disksToEmpty.delete(name)) vm.diskReset = true;
    return vm;
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
  private async admit(
    vm: ManagedVm,
    from: { state?: Uint8Array | SnapshotFileState; kept?: { token: string; slot: HostSlot }; baseId?: string; ready?: boolean; reserved?: boolean; copy?: boolean },
  ): Promise<void> {
    // The name is taken before anything is awaited: VMs created together get distinct names.
    if (this.has(vm.name) || this.admitting.has(vm.name)) {
      this.memory.release(vm.id);
      throw new HypervisorError('duplicate-name', `a VM named '${vm.name}' already exists`);
    }
    this.admitting.add(vm.name);
    try {
      if (!from.reserved) await this.guestMemory.reserveFor(vm);
      await this.admitNamed(vm, from);
    } finally {
      this.admitting.delete(vm.name);
    }
  }

  private async admitNamed(
    vm: ManagedVm,
    from: { state?: Uint8Array | SnapshotFileState; kept?: { token: string; slot: HostSlot }; baseId?: string; ready?: boolean; copy?: boolean },
  ): Promise<void> {
    const saved = from.state !== undefined || from.kept !== undefined;
    if (vm.network !== undefined) {
      this.networks.attach(vm.network, vm.id, vm.identity.mac, (frame) => this.frameToGuest(vm, frame), vm.ip);
      // A copy's guest sends with its source's MAC until applyIdentity has run.
      if (from.copy) this.networks.hold(vm.id);
    }
    try {
      if (from.kept) await this.actions.makeInstance(vm, undefined, from.kept.slot, from.kept.token);
      else await this.actions.makeInstance(vm, from.state, undefined, undefined, from.baseId);
      if (saved) await this.actions.hostCall(vm, 'restore', (port, id) => port.start(id), 'throw');
    } catch (error) {
      await this.actions.discardInstance(vm);
      this.memory.release(vm.id);
      this.networks.detach(vm.id);
      if (error instanceof HypervisorError && error.code === 'no-memory') throw error;
      const code = saved ? 'bad-snapshot' : 'engine-unavailable';
      throw new HypervisorError(code, `cannot create VM '${vm.name}' (image ${vm.image.name}): ${messageOf(error)}`);
    }
    this.vms.set(vm.id, vm);
    vm.machine = new VmStateMachine(vm.id, vm.name, (t) => this.events.emit('transition', t));
    if (saved) {
      vm.ready = from.ready ?? false;
      vm.machine.apply('restore');
    }
  }

  /**
   * A copy (clone, or a snapshot imported with a new identity) is a new machine: its running guest
   * takes the VM's host name, MAC and entropy seed and a new lease (identity-in-guest.ts), typed
   * on its console once its shell is up. A guest without the Tabvisor contract is left as it is.
   */
  private async applyIdentity(vm: ManagedVm): Promise<void> {
    const releaseNic = () => this.networks.release(vm.id);
    if (vm.image.readyMarker !== GUEST_CONTRACT_MARKER) {
      releaseNic();
      return;
    }
    const apply = async () => {
      try {
        const dhcp = vm.network !== undefined && this.networks.list().some((n) => n.name === vm.network && n.dhcp);
        const r = await applyIdentityInGuest(this, vm.id, vm.identity, hostnameOf(vm.name), { dhcp, releaseNic });
        if (r.exitCode !== 0) throw new Error(`exit status ${r.exitCode}: ${r.output}`);
      } catch (error) {
        releaseNic();
        if (this.vms.get(vm.id) !== vm) return;
        this.events.emit('progress', { vmId: vm.id, vmName: vm.name, message: `the guest did not take its new identity: ${messageOf(error)}` });
      }
    };
    // A shell that is up is told now (the caller gets a VM that is already itself); else once it is.
    if (vm.ready) await apply();
    else void this.waitUntilReady(vm.id, 180_000).then(apply, releaseNic);
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
