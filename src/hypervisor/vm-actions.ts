// How the hypervisor carries out what is asked of a VM and what its host reports: the per-VM call
// queue checked against the lifecycle table, the one place a VM's state changes (through its
// VmStateMachine), calls to the VM's host, and engine instances (made, replaced, discarded).
//
// Every user call goes through `perform()`: it serializes calls per VM, checks the call against
// the lifecycle table (state-machine.ts) before doing anything, and records the outcome with
// `finish()`. What hosts report on their own (boot done, guest power-off, engine crash, worker
// death) arrives as signals through `signal()`.

import type { ExitReason } from '../engines/engine.js';
import type { CreateVmRequest } from '../worker/protocol.js';
import type { DiskPolicy } from './hypervisor.js';
import { HypervisorError } from './errors.js';
import type { HostConnection, HostPool, HostSlot, VmHostPort } from './host-port.js';
import { messageOf, type ManagedVm, type VmSummary } from './managed-vm.js';
import { restoreConfig } from './snapshot-files.js';
import type { VmAction, VmSignal } from './state-machine.js';
import { transfer } from 'comlink';

/** A snapshot file the VM's host decodes (Hypervisor.importSnapshot with decodeInHost). */
export interface SnapshotFileState {
  file: Uint8Array;
}
import { hostnameOf } from './identity-in-guest.js';

/** The old engine instance of a VM while a new one is tried (restore, migration). */
interface PreviousInstance {
  instance: string | undefined;
  slot: HostSlot | undefined;
  ready: boolean;
  bootOffset: number;
  pendingInput: Array<Uint8Array | string>;
}

export class VmActions {
  /** Engine instance id -> VM, for routing host events. Only current instances are here. */
  readonly instances = new Map<string, ManagedVm>();

  constructor(
    private readonly pool: HostPool,
    /** False once the VM is deleted (or was never registered). */
    private readonly registered: (vm: ManagedVm) => boolean,
    /** Which persistent disk a VM gets (HypervisorOptions.diskFor). */
    private readonly diskFor?: DiskPolicy,
  ) {}

  /** Runs `body` for one action, after the VM's previous actions, once the table allows it. */
  perform(vm: ManagedVm, action: VmAction, body: (vm: ManagedVm) => Promise<void>): Promise<VmSummary> {
    const run = async (): Promise<VmSummary> => {
      if (!this.registered(vm)) throw new HypervisorError('unknown-vm', `no VM named '${vm.name}' (it was deleted)`);
      vm.machine.check(action);
      await body(vm);
      return vm.summary();
    };
    const result = vm.queue.then(run, run);
    vm.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs `step` in turn with the VM's actions, without a lifecycle check (a reboot's new boot). */
  enqueue(vm: ManagedVm, step: () => Promise<void>): void {
    vm.queue = vm.queue.then(step, step);
  }

  /** Records a finished action; if a signal changed the state meanwhile, says so instead. */
  finish(vm: ManagedVm, action: VmAction): void {
    if (vm.machine.allows(action)) {
      vm.machine.apply(action);
      return;
    }
    throw new HypervisorError('invalid-state', `${action} of VM '${vm.name}' did not complete: it is ${vm.state} now`);
  }

  /** A host-reported event or failure. Ignored when it does not apply (the table says so). */
  signal(vm: ManagedVm, signal: VmSignal, detail?: string): void {
    if (!this.registered(vm)) return;
    if (signal === 'crash' && vm.machine.allows('crash')) vm.crashReason = detail;
    vm.machine.apply(signal, detail);
  }

  /**
   * Calls the VM's host. When a lifecycle call fails (`onFailure` 'crash'), the engine is in an
   * unknown state: the VM is marked crashed (its instance discarded) and the caller gets a
   * HypervisorError. A failed console write or stats query ('throw') only reports the error:
   * it usually means the guest just exited, and the exit event that follows says how.
   * Other VMs are untouched either way.
   */
  async hostCall<T>(
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

  /** Creates an engine instance on the least loaded host, and boots it. */
  async boot(vm: ManagedVm): Promise<void> {
    try {
      if (!vm.instance) await this.makeInstance(vm, undefined);
    } catch (error) {
      this.signal(vm, 'crash', `could not make its engine: ${messageOf(error)}`);
      throw new HypervisorError('host-failure', `cannot boot VM '${vm.name}': ${messageOf(error)}`);
    }
    await this.hostCall(vm, 'start', (port, id) => port.start(id));
    this.signal(vm, 'booted');
  }

  /**
   * Makes a new engine instance for the VM on `slot` (from its image, or from `state`) and hands
   * its host the VM's weight and cap. The instance becomes the VM's current one.
   */
  async makeInstance(vm: ManagedVm, state: Uint8Array | SnapshotFileState | undefined, slot = this.pool.leastLoaded(), keptState?: string, baseId?: string): Promise<void> {
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
    // A saved state carries its own memory contents: the host needs no image files for it.
    // keptState: a state the host kept (a clone in the source's worker); it fills config.state there.
    // A SnapshotFileState is a whole file the host decodes itself (the page's thread neither
    // inflates nor hashes it).
    const request: CreateVmRequest = state instanceof Uint8Array || keptState !== undefined
      ? {
          id: instance,
          name: vm.name,
          config: restoreConfig(vm.image, vm.memoryMiB, state instanceof Uint8Array ? state : new Uint8Array(0)),
          readyMarker: vm.image.readyMarker,
          ...(keptState !== undefined ? { keptState } : {}),
          ...(baseId !== undefined ? { baseId } : {}),
        }
      : state
        ? {
            id: instance,
            name: vm.name,
            config: { engine: vm.image.engine, memoryMiB: vm.memoryMiB, cmdline: vm.image.cmdline },
            readyMarker: vm.image.readyMarker,
            stateFile: state.file,
            stateImage: vm.image.name,
            ...(baseId !== undefined ? { baseId } : {}),
          }
        : { id: instance, name: vm.name, image: { ...vm.image, memoryMiB: vm.memoryMiB } };
    // Every VM has an exchange folder (files in and out, guest-files.ts); templates are made so too.
    request.exchange = true;
    const disk = this.diskFor?.({ name: vm.name, image: vm.image });
    if (disk) {
      request.disk = { ...disk, onRestore: vm.diskOnRestore, ...(vm.diskReset ? { reset: true } : {}) };
      vm.diskReset = false;
    }
    if (vm.network !== undefined) {
      // A card with the VM's own MAC; a booting guest configures it by DHCP (docs/IMAGES.md).
      request.nic = { mac: vm.identity.mac };
      // tabvisor.mac: v86's card picks its own MAC; the guest sets the VM's (its DHCP lease follows it).
      if (!state) request.extraCmdline = `tabvisor.ip=dhcp tabvisor.hostname=${hostnameOf(vm.name)} tabvisor.mac=${vm.identity.mac} tabvisor.seed=${vm.identity.entropySeed}`;
    }
    // The images' init mounts the disk on /root (docs/IMAGES.md): virtio-blk on rv64, IDE on v86.
    if (disk && !state) request.extraCmdline = `${request.extraCmdline ?? ''} tabvisor.disk=${vm.image.engine === 'v86' ? '/dev/sda' : '/dev/vda'}`.trim();
    try {
      // A whole file goes to the host's thread without a copy (the caller gave it up).
      await connection.port.create(state && !(state instanceof Uint8Array) ? transfer(request, [state.file.buffer]) : request);
      if (vm.weight !== 1 || vm.capPercent !== undefined) {
        await connection.port.setSchedule(instance, { weight: vm.weight, capPercent: vm.capPercent });
      }
    } catch (error) {
      this.forgetInstance(vm);
      await Promise.resolve(connection.port.destroy(instance)).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Runs `state` in a new engine instance on `slot` (started, then paused again if `paused`),
   * and only then lets the old instance go. If anything fails, the old instance (if any) is the
   * VM's again, untouched, and the error is thrown.
   */
  async replaceInstance(vm: ManagedVm, state: Uint8Array, slot: HostSlot, what: string, paused = false): Promise<PreviousInstance> {
    const old: PreviousInstance = { instance: vm.instance, slot: vm.slot, ready: vm.ready, bootOffset: vm.bootOffset, pendingInput: vm.pendingInput };
    try {
      await this.makeInstance(vm, state, slot);
      await this.hostCall(vm, what, (port, id) => port.start(id), 'throw');
      if (paused) await this.hostCall(vm, what, (port, id) => port.pause(id), 'throw');
    } catch (error) {
      if (vm.instance !== old.instance) await this.discardInstance(vm);
      vm.instance = old.instance;
      vm.slot = old.slot;
      if (old.instance && old.slot) {
        old.slot.vms.add(old.instance);
        this.instances.set(old.instance, vm);
      }
      Object.assign(vm, { ready: old.ready, bootOffset: old.bootOffset, pendingInput: old.pendingInput });
      throw error;
    }
    // The old instance is no longer the VM's: drop it from routing, then free it.
    if (old.instance && old.slot) {
      old.slot.vms.delete(old.instance);
      this.instances.delete(old.instance);
      await Promise.resolve(old.slot.connection?.port.destroy(old.instance)).catch(() => undefined);
    }
    return old;
  }

  /** Destroys the current engine instance, if any; a dead host is not an error here. */
  async discardInstance(vm: ManagedVm): Promise<void> {
    const instance = vm.instance;
    const connection = vm.slot?.connection;
    this.forgetInstance(vm);
    if (instance && connection) await Promise.resolve(connection.port.destroy(instance)).catch(() => undefined);
  }

  forgetInstance(vm: ManagedVm): void {
    if (vm.instance) {
      vm.slot?.vms.delete(vm.instance);
      this.instances.delete(vm.instance);
    }
    vm.instance = undefined;
    vm.slot = undefined;
    vm.throttled = false;
  }

  /** The machine state of a running or paused VM; a running VM is paused around the save. */
  async captureState(vm: ManagedVm, what: string): Promise<Uint8Array> {
    if (vm.slot?.connection?.port.saveStateLive) {
      // Taken in the host while the guest runs; it pauses only for the last dirty pages.
      const { state, report } = await this.hostCall(vm, what, (port, id) => port.saveStateLive!(id));
      vm.lastPauseMs = report.pauseMs;
      return state!;
    }
    const wasRunning = vm.state === 'running';
    if (wasRunning) await this.hostCall(vm, what, (port, id) => port.pause(id));
    const state = await this.hostCall(vm, what, (port, id) => port.saveState(id));
    if (wasRunning) await this.hostCall(vm, what, (port, id) => port.resume(id));
    return state;
  }

  /**
   * Puts `state` into the VM and runs it: in place when its machine is live (pause, load,
   * resume), else in a new instance. A state the engine refuses leaves the VM as it was (engines
   * load all or nothing): running stays running, paused stays paused, a stopped or crashed VM
   * keeps no machine, a created one keeps its unbooted one. That refusal is `bad-snapshot`.
   */
  async restoreMachine(vm: ManagedVm, state: Uint8Array, ready: boolean, file: { id?: string; baseId?: string } = {}): Promise<void> {
    const live = vm.instance && (vm.state === 'running' || vm.state === 'paused') && vm.slot?.connection?.port.restoreLive;
    if (file.baseId !== undefined && !live) {
      throw new HypervisorError('bad-snapshot', `cannot restore VM '${vm.name}': an incremental snapshot restores only into the running VM that holds its base`);
    }
    if (live) {
      // Built and checked in the host while the old machine runs; the guest pauses for the swap
      // (for the VM's own base: only the pages written since are rewritten).
      const instance = vm.instance;
      try {
        const { pauseMs } = await this.hostCall(vm, 'restore', (port, id) => port.restoreLive!(id, state, file), 'throw');
        vm.lastPauseMs = pauseMs;
      } catch (error) {
        if (vm.instance !== instance || !vm.slot?.connection) throw error; // the host died meanwhile
        throw new HypervisorError(
          'bad-snapshot',
          `cannot restore VM '${vm.name}': its engine refused the saved machine (${engineMessage(error)}); the VM is left as it was`,
        );
      }
    } else if (vm.instance && (vm.state === 'running' || vm.state === 'paused')) {
      const wasRunning = vm.state === 'running';
      if (wasRunning) await this.hostCall(vm, 'restore', (port, id) => port.pause(id));
      const instance = vm.instance;
      try {
        await this.hostCall(vm, 'restore', (port, id) => port.loadState(id, state), 'throw');
      } catch (error) {
        if (vm.instance !== instance || !vm.slot?.connection) throw error; // the host died meanwhile
        if (wasRunning) await this.hostCall(vm, 'restore', (port, id) => port.resume(id));
        throw new HypervisorError(
          'bad-snapshot',
          `cannot restore VM '${vm.name}': its engine refused the saved machine (${engineMessage(error)}); the VM is left as it was`,
        );
      }
      await this.hostCall(vm, 'restore', (port, id) => port.resume(id));
    } else {
      const slot = this.pool.leastLoaded();
      try {
        await this.replaceInstance(vm, state, slot, 'restore');
      } catch (error) {
        if (!slot.connection) {
          throw new HypervisorError('host-failure', `cannot restore VM '${vm.name}': ${messageOf(error)}; the VM is left as it was`);
        }
        throw new HypervisorError(
          'bad-snapshot',
          `cannot restore VM '${vm.name}': its engine refused the saved machine (${engineMessage(error)}); the VM is left as it was`,
        );
      }
    }
    vm.ready = ready;
    vm.crashReason = undefined;
    vm.pendingInput = []; // typed for the machine that was replaced
  }

  /** An engine instance stopped on its own (guest power-off, reboot, crash). */
  async onExit(vm: ManagedVm, reason: ExitReason): Promise<void> {
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
        this.enqueue(vm, async () => {
          if (vm.state === 'booting' && !vm.instance) await this.boot(vm).catch(() => undefined);
        });
        break;
      }
    }
  }

  /** A host died: every VM whose current instance ran there crashes; the slot is emptied. */
  hostDied(slot: HostSlot, reason: string): void {
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

/** The engine's own words from a failed host call (without the hostCall prefix). */
function engineMessage(error: unknown): string {
  const message = messageOf(error);
  const at = message.indexOf(' failed: ');
  return at >= 0 ? message.slice(at + ' failed: '.length) : message;
}
