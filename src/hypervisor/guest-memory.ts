// The hypervisor's side of guest memory (docs/HYPERVISOR.md, "Balloon"): balloon targets and the
// budget credit they give (overcommit), and giving freed memory back to the host, on request and
// on its own (ReclaimPolicy). The Hypervisor keeps the public calls and their lifecycle checks.

import { HypervisorError } from './errors.js';
import type { ManagedVm } from './managed-vm.js';
import { messageOf } from './managed-vm.js';
import { formatBytes, type MemoryBudget } from './memory-budget.js';
import { ReclaimPolicy, type ReclaimPolicyOptions } from './reclaim-policy.js';
import { MiB } from './snapshot-files.js';
import type { VmActions } from './vm-actions.js';
import type { ReclaimReport } from '../worker/protocol.js';

export interface GuestMemoryDeps {
  memory: MemoryBudget;
  actions: VmActions;
  vms(): ManagedVm[];
  /** The hypervisor's reclaimMemory (through the VM's action queue). */
  reclaim(vm: ManagedVm): Promise<unknown>;
  now(): number;
}

export class GuestMemory {
  private readonly policy: ReclaimPolicy | undefined;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private looking = false;
  private stopped = false;

  constructor(
    private readonly deps: GuestMemoryDeps,
    reclaimFreed: (ReclaimPolicyOptions & { everyMs?: number }) | false | undefined,
  ) {
    if (reclaimFreed === false) return;
    this.policy = new ReclaimPolicy(reclaimFreed ?? {});
    this.timer = setInterval(() => void this.reclaimFreed(), reclaimFreed?.everyMs ?? 5000);
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  forget(vmId: string): void {
    this.policy?.forget(vmId);
  }

  async setBalloon(vm: ManagedVm, mib: number): Promise<void> {
    if (!Number.isInteger(mib) || mib < 0 || mib >= vm.memoryMiB) {
      throw new HypervisorError('bad-argument', `VM '${vm.name}': a balloon of ${mib} MiB is not between 0 and ${vm.memoryMiB - 1} MiB`);
    }
    if (vm.state !== 'running' && vm.state !== 'paused') {
      throw new HypervisorError('invalid-state', `cannot set the balloon of VM '${vm.name}': it is ${vm.state} (allowed when running or paused)`);
    }
    const port = vm.slot?.connection?.port;
    if (!port || !vm.instance) throw new HypervisorError('invalid-state', `VM '${vm.name}' has no running machine`);
    // A smaller balloon takes back memory the budget may have lent to other VMs.
    const credit = Math.min(this.deps.memory.creditFor(vm.id), mib * MiB);
    this.mustKeepCredit(vm, credit, `shrink the balloon of`);
    this.deps.memory.setCredit(vm.id, credit);
    try {
      await port.setBalloon(vm.instance, mib * MiB);
    } catch (error) {
      throw new HypervisorError('bad-argument', `VM '${vm.name}': ${messageOf(error)}`);
    }
  }

  /** The body of the `reclaim` action: the VM's host moves its machine into new memory. */
  async reclaim(vm: ManagedVm): Promise<ReclaimReport> {
    if (vm.image.engine !== 'rv64') {
      throw new HypervisorError('bad-argument', `cannot give back the memory of VM '${vm.name}': only rv64 VMs can (v86 keeps one fixed memory buffer)`);
    }
    if (!vm.slot?.connection?.port.reclaimMemory) {
      throw new HypervisorError('bad-argument', `cannot give back the memory of VM '${vm.name}': its host cannot`);
    }
    const report = await this.deps.actions.hostCall(vm, 'reclaim', (port, id) => port.reclaimMemory!(id), 'throw');
    vm.lastPauseMs = report.pauseMs;
    this.deps.actions.finish(vm, 'reclaim');
    return report;
  }

  /** Counts what each live VM's balloon holds (never more than asked for) as free budget. */
  async refreshCredits(): Promise<void> {
    await Promise.all(
      this.deps.vms().map(async (vm) => {
        const port = vm.slot?.connection?.port;
        if (!port || !vm.instance || (vm.state !== 'running' && vm.state !== 'paused')) return;
        try {
          const s = await port.stats(vm.instance);
          this.deps.memory.setCredit(vm.id, Math.min(s.balloonBytes ?? 0, s.balloonTargetBytes ?? 0));
        } catch {
          // A host that cannot answer now keeps the VM's last count.
        }
      }),
    );
  }

  /** Refuses (no-memory) an action that would take back balloon memory lent to other VMs. */
  mustKeepCredit(vm: ManagedVm, credit: number, what: string): void {
    const memory = this.deps.memory;
    if (memory.allowsCredit(vm.id, credit)) return;
    const lent = memory.creditFor(vm.id) - credit;
    throw new HypervisorError(
      'no-memory',
      `cannot ${what} VM '${vm.name}': ${formatBytes(lent)} of what its balloon gave back is in use by other VMs ` +
        `(delete a VM or inflate another balloon first)`,
    );
  }

  /** Reserves a new VM's memory, counting balloons when it does not fit without them. */
  async reserveFor(vm: ManagedVm): Promise<void> {
    const bytes = vm.memoryMiB * MiB;
    if (!this.deps.memory.fits(bytes)) await this.refreshCredits();
    this.deps.memory.reserve(vm.id, vm.name, bytes);
  }

  /** The automatic part of reclaiming (ReclaimPolicy): running rv64 VMs whose guests freed enough. */
  private async reclaimFreed(): Promise<void> {
    const policy = this.policy;
    if (!policy || this.looking || this.stopped) return;
    this.looking = true;
    try {
      for (const vm of this.deps.vms()) {
        if (this.stopped) return;
        if (vm.image.engine !== 'rv64' || vm.state !== 'running' || !vm.slot?.connection?.port.reclaimMemory) continue;
        // The host's own figures: hv.stats() would move the window of the caller's MIPS and CPU share.
        const s = await this.deps.actions.hostCall(vm, 'stats', (port, id) => port.stats(id), 'throw').catch(() => undefined);
        if (!s || !policy.wants(vm.id, s.freedReportedBytes ?? 0, this.deps.now(), s.runMs)) continue;
        const worked = await this.deps.reclaim(vm).then(() => true, () => false);
        policy.done(vm.id, this.deps.now(), worked ? 0 : s.freedReportedBytes ?? 0);
      }
    } finally {
      this.looking = false;
    }
  }
}
