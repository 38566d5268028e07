// When the hypervisor gives a VM's freed memory back on its own (docs/HYPERVISOR.md, "Balloon"):
// once the guest has reported enough free memory since its machine's last move into new memory,
// and not more often than a minimum gap. Pure bookkeeping: the hypervisor asks, then acts.

export interface ReclaimPolicyOptions {
  /** Reported-free bytes since the last reclaim that make another worth it; 64 MiB by default. */
  minFreedBytes?: number;
  /** Shortest time between two reclaims of one VM; 30 s by default. */
  minGapMs?: number;
}

export class ReclaimPolicy {
  private readonly minFreed: number;
  private readonly minGap: number;
  /** Per VM: the machine's reported-free counter at the last reclaim, and when that was. */
  private readonly seen = new Map<string, { base: number; at: number }>();

  constructor(options: ReclaimPolicyOptions = {}) {
    this.minFreed = options.minFreedBytes ?? 64 * 1024 * 1024;
    this.minGap = options.minGapMs ?? 30_000;
  }

  /**
   * `reported`: the VM's machine's cumulative reported-free bytes now. A counter that went back
   * (a new machine: restore, migration, reclaim) counts from zero again.
   */
  wants(vmId: string, reported: number, now: number): boolean {
    let s = this.seen.get(vmId);
    if (!s) {
      s = { base: 0, at: -Infinity };
      this.seen.set(vmId, s);
    }
    if (reported < s.base) s.base = 0;
    return reported - s.base >= this.minFreed && now - s.at >= this.minGap;
  }

  /**
   * A reclaim of the VM ended at `now`; `reported` is its machine's counter after it: 0 for the new
   * machine of a reclaim that worked, the old count for one that was refused (so it is not tried
   * again before the guest frees that much more).
   */
  done(vmId: string, now: number, reported = 0): void {
    this.seen.set(vmId, { base: reported, at: now });
  }

  forget(vmId: string): void {
    this.seen.delete(vmId);
  }
}
