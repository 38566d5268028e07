// When the hypervisor gives a VM's freed memory back on its own (docs/HYPERVISOR.md, "Balloon"):
// once the guest has reported enough free memory since its machine's last move into new memory,
// not more often than a minimum gap, and not while the guest is busy (for a while). Pure bookkeeping: the hypervisor asks, then acts.

export interface ReclaimPolicyOptions {
  /** Reported-free bytes since the last reclaim that make another worth it; 64 MiB by default. */
  minFreedBytes?: number;
  /** Shortest time between two reclaims of one VM; 30 s by default. */
  minGapMs?: number;
  /**
   * A VM whose engine ran more than this share of the wall time since the previous look is busy:
   * its reclaim waits (a reclaim moves the machine into a new core, which pauses the guest and
   * starts its JIT's compiled code over). 0.5 by default.
   */
  busyShare?: number;
  /** How long a busy VM's reclaim may wait; 120 s by default. */
  maxDeferMs?: number;
}

export class ReclaimPolicy {
  private readonly minFreed: number;
  private readonly minGap: number;
  private readonly busyShare: number;
  private readonly maxDefer: number;
  /** Per VM: the machine's reported-free counter at the last reclaim, and when that was; since when a reclaim it wanted waited for a busy guest. */
  private readonly seen = new Map<string, { base: number; at: number; deferredSince?: number }>();
  /** Per VM: the engine's run time at the previous look, and when that was. */
  private readonly load = new Map<string, { runMs: number; at: number }>();

  constructor(options: ReclaimPolicyOptions = {}) {
    this.minFreed = options.minFreedBytes ?? 64 * 1024 * 1024;
    this.minGap = options.minGapMs ?? 30_000;
    this.busyShare = options.busyShare ?? 0.5;
    this.maxDefer = options.maxDeferMs ?? 120_000;
  }

  /**
   * `reported`: the VM's machine's cumulative reported-free bytes now. A counter that went back
   * (a new machine: restore, migration, reclaim) counts from zero again. `runMs`: the engine's
   * cumulative run time (EngineStats.runMs); with it, a busy guest's reclaim waits up to maxDeferMs.
   */
  wants(vmId: string, reported: number, now: number, runMs?: number): boolean {
    let s = this.seen.get(vmId);
    if (!s) {
      s = { base: 0, at: -Infinity };
      this.seen.set(vmId, s);
    }
    let busy = false;
    if (runMs !== undefined) {
      const prev = this.load.get(vmId);
      this.load.set(vmId, { runMs, at: now });
      // The first look (and one after a counter went back: a new machine) has no share to judge
      // from yet: it counts as busy, so a reclaim needs two looks at a quiet guest.
      busy = !(prev && now > prev.at && runMs >= prev.runMs) || (runMs - prev.runMs) / (now - prev.at) > this.busyShare;
    }
    if (reported < s.base) s.base = 0;
    if (reported - s.base < this.minFreed || now - s.at < this.minGap) return false;
    if (busy) {
      s.deferredSince ??= now;
      if (now - s.deferredSince < this.maxDefer) return false;
    }
    return true;
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
    this.load.delete(vmId);
  }
}
