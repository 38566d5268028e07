// Moving a VM to another host: stop-and-copy. The guest is paused while its state is saved,
// carried over and loaded by a new engine instance on the target host; if the target fails, the
// old instance (still holding the machine) continues.

import { HypervisorError } from './errors.js';
import type { HostPool, HostSlot } from './host-port.js';
import { messageOf, type ManagedVm, type VmSummary } from './managed-vm.js';
import type { VmActions } from './vm-actions.js';

export interface MigrationReport {
  vm: VmSummary;
  fromHost: number;
  toHost: number;
  /** How long the guest was paused: save, transfer, load. */
  pauseMs: number;
  /** Size of the machine state carried over. */
  stateBytes: number;
}

/** Moves a running or paused VM (called inside its `migrate` action). */
export async function migrateVm(
  actions: VmActions,
  pool: HostPool,
  vm: ManagedVm,
  toHost: number | undefined,
  now: () => number,
): Promise<MigrationReport> {
  const from = vm.slot!;
  const target = migrationTarget(pool, vm, from, toHost);
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
  return { vm: vm.summary(), fromHost: from.index, toHost: target.index, pauseMs, stateBytes: state.length };
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
