// Moving a VM to another host. With hosts that can (VmHost: RV64 engines with dirty-page
// tracking), iterative pre-copy: the source host sends RAM round after round to the target host
// over a MessagePort of their own (no page goes through this thread) while the guest runs, then
// a short final pause. Otherwise stop-and-copy: the guest is paused while its state is saved,
// carried over and loaded by a new engine instance on the target host. Either way, if the target
// fails or refuses, the old instance (still holding the machine) continues.

import { HypervisorError } from './errors.js';
import type { HostPool, HostSlot } from './host-port.js';
import { messageOf, type ManagedVm, type VmSummary } from './managed-vm.js';
import type { VmActions } from './vm-actions.js';
import type { PrecopyOptions, PrecopyRound, PrecopyThrottle } from '../snapshot/precopy.js';

export interface MigrationReport {
  vm: VmSummary;
  fromHost: number;
  toHost: number;
  /** How long the guest was paused: save, transfer, load. */
  pauseMs: number;
  /** Size of the machine state carried over (pre-copy: every page and state sent, all rounds). */
  stateBytes: number;
  mode: 'pre-copy' | 'stop-and-copy';
  /** Pre-copy: pages sent per round while the guest ran (round 1: every non-zero page). */
  rounds?: PrecopyRound[];
  /** Pre-copy: pages sent in the final pause. */
  finalPages?: number;
  /** Pre-copy: why the rounds ended (a guest writing faster than the rounds shrink hits the limit). */
  converged?: 'few-dirty-pages' | 'round-limit';
  /**
   * Pre-copy: set when the guest wrote faster than the rounds shrink and was throttled (its
   * share of time halved `steps` times, down to `percent` %), then given its full share back.
   */
  throttle?: PrecopyThrottle;
  /** From the start of the migration to the target running. */
  totalMs?: number;
}

/** Moves a running or paused VM (called inside its `migrate` action). */
export async function migrateVm(
  actions: VmActions,
  pool: HostPool,
  vm: ManagedVm,
  toHost: number | undefined,
  now: () => number,
  precopy: PrecopyOptions = {},
): Promise<MigrationReport> {
  const from = vm.slot!;
  const target = migrationTarget(pool, vm, from, toHost);
  // Pre-copy needs the engine's dirty-page tracking: the RV64 engine has it, v86 does not.
  if (vm.image.engine === 'rv64' && from.connection?.port.migrateOut) {
    const connection = await pool.connect(target);
    if (connection.port.acceptMigration) return precopyMigrate(actions, vm, from, target, now, precopy);
  }
  const wasRunning = vm.state === 'running';
  const t0 = now();
  if (wasRunning) await actions.hostCall(vm, 'migrate', (port, id) => port.pause(id));
  const state = await actions.hostCall(vm, 'migrate', (port, id) => port.saveState(id));
  let old;
  try {
    old = await actions.replaceInstance(vm, state, target, 'migrate', !wasRunning);
  } catch (error) {
    // The old instance, which still holds the machine, paused, is the VM's again.
    if (!from.connection) {
      // The old worker died too while we tried: nothing holds the machine any more.
      actions.forgetInstance(vm);
      actions.signal(vm, 'crash', `its host (worker ${from.index + 1}) died during a migration`);
      throw new HypervisorError('host-failure', `cannot migrate VM '${vm.name}': ${messageOf(error)}; its old worker died meanwhile`);
    }
    if (wasRunning) await actions.hostCall(vm, 'migrate', (port, id) => port.resume(id));
    throw new HypervisorError('host-failure', `cannot migrate VM '${vm.name}': ${messageOf(error)}; it stays on worker ${from.index + 1}`);
  }
  const pauseMs = now() - t0;
  // The same machine: its console, readiness and pending input carry over.
  Object.assign(vm, { ready: old.ready, bootOffset: old.bootOffset, pendingInput: old.pendingInput });
  return { vm: vm.summary(), fromHost: from.index, toHost: target.index, pauseMs, stateBytes: state.length, mode: 'stop-and-copy' };
}

/** Pre-copy between two hosts over a MessagePort they share; the VM keeps running until the final pause. */
async function precopyMigrate(
  actions: VmActions, vm: ManagedVm, from: HostSlot, target: HostSlot, now: () => number, precopy: PrecopyOptions,
): Promise<MigrationReport> {
  const wasRunning = vm.state === 'running';
  const oldInstance = vm.instance!;
  const instance = `${vm.id}~${++vm.generation}`;
  // Routed to this VM from the start: the target's console output is the guest's.
  target.vms.add(instance);
  actions.instances.set(instance, vm);
  const forget = async (): Promise<void> => {
    target.vms.delete(instance);
    actions.instances.delete(instance);
    await Promise.resolve(target.connection?.port.destroy(instance)).catch(() => undefined);
  };
  const t0 = now();
  const channel = new MessageChannel();
  let report;
  try {
    await target.connection!.port.acceptMigration!({
      id: instance,
      name: vm.name,
      engine: vm.image.engine,
      maxMemoryMiB: vm.memoryMiB,
      ...(vm.image.readyMarker ? { readyMarker: vm.image.readyMarker } : {}),
      ...(vm.network !== undefined ? { nic: { mac: vm.identity.mac } } : {}),
      // Every VM has an exchange folder (vm-actions.ts): the moved machine's 9p device needs one.
      exchange: true,
    }, channel.port2);
    report = await actions.hostCall(vm, 'migrate', (port, id) => port.migrateOut!(id, channel.port1, { memoryMiB: vm.memoryMiB, name: vm.name }, precopy), 'throw');
  } catch (error) {
    await forget();
    if (vm.instance !== oldInstance || !from.connection) throw error;
    throw new HypervisorError('host-failure', `cannot migrate VM '${vm.name}': ${engineWords(error)}; it stays on worker ${from.index + 1}`);
  }
  // The source host has let its instance go; the target's is the VM's now.
  from.vms.delete(oldInstance);
  actions.instances.delete(oldInstance);
  vm.instance = instance;
  vm.slot = target;
  if (vm.weight !== 1 || vm.capPercent !== undefined) {
    await actions.hostCall(vm, 'migrate', (port, id) => port.setSchedule(id, { weight: vm.weight, capPercent: vm.capPercent }), 'throw').catch(() => undefined);
  }
  if (!wasRunning) await actions.hostCall(vm, 'migrate', (port, id) => port.pause(id));
  return {
    vm: vm.summary(), fromHost: from.index, toHost: target.index, pauseMs: report.pauseMs, stateBytes: report.sentBytes,
    mode: 'pre-copy', rounds: report.rounds, finalPages: report.finalPages, ...(report.converged ? { converged: report.converged } : {}),
    ...(report.throttle ? { throttle: report.throttle } : {}),
    totalMs: now() - t0,
  };
}

/** The refusal or failure in the target's or source's own words, without comlink's wrapping. */
function engineWords(error: unknown): string {
  const m = messageOf(error);
  const at = m.indexOf(' failed: ');
  return at >= 0 ? m.slice(at + ' failed: '.length) : m;
}

function migrationTarget(pool: HostPool, vm: ManagedVm, from: HostSlot, toHost: number | undefined): HostSlot {
  const slots = pool.slots;
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
