// The global memory budget: every VM's guest RAM is reserved when it is created and released when
// it is deleted, so a VM that would not fit is refused up front instead of failing mid-boot.
// Balloons give memory back: what a VM's guest really holds in its balloon (never more than the
// host asked for) is credited, so a new VM may start on memory idle VMs gave back (overcommit).
// A credit other VMs rely on cannot be taken back (a balloon cannot shrink, a VM cannot boot
// afresh with an empty balloon) while the VMs' reservations would then exceed the budget.

import { HypervisorError } from './errors.js';

export interface MemoryUsage {
  totalBytes: number;
  reservedBytes: number;
  freeBytes: number;
  /** Reserved bytes per VM id. */
  byVm: Record<string, number>;
  /** Bytes the VMs' balloons hold, counted as free (overcommit). */
  balloonedBytes: number;
}

export class MemoryBudget {
  private readonly reservations = new Map<string, number>();
  private reserved = 0;
  private readonly credits = new Map<string, number>();
  private credited = 0;

  constructor(private total: number) {
    if (!Number.isSafeInteger(total) || total <= 0) {
      throw new HypervisorError('bad-argument', `memory budget must be a positive number of bytes, got ${total}`);
    }
  }

  get totalBytes(): number {
    return this.total;
  }

  /** Changes the budget; refused when it would be below what the VMs have reserved now. */
  setTotal(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      throw new HypervisorError('bad-argument', `memory budget must be a positive number of bytes, got ${bytes}`);
    }
    if (bytes < this.reserved - this.credited) {
      throw new HypervisorError(
        'no-memory',
        `the memory budget cannot be ${formatBytes(bytes)}: the VMs have ${formatBytes(this.reserved - this.credited)} reserved ` +
          `(stop and delete some first)`,
      );
    }
    this.total = bytes;
  }

  get freeBytes(): number {
    return this.totalBytes - this.reserved + this.credited;
  }

  /** What `vmId`'s balloon holds, as counted. */
  creditFor(vmId: string): number {
    return this.credits.get(vmId) ?? 0;
  }

  /** Whether `vmId`'s credit may become `bytes` without the reservations exceeding the budget. */
  allowsCredit(vmId: string, bytes: number): boolean {
    const after = this.credited - this.creditFor(vmId) + this.clampCredit(vmId, bytes);
    return this.reserved - after <= this.total || bytes >= this.creditFor(vmId);
  }

  /** Sets what `vmId`'s balloon holds (clamped to its reservation). */
  setCredit(vmId: string, bytes: number): void {
    if (!this.reservations.has(vmId)) return;
    const value = this.clampCredit(vmId, bytes);
    this.credited += value - this.creditFor(vmId);
    if (value > 0) this.credits.set(vmId, value);
    else this.credits.delete(vmId);
  }

  private clampCredit(vmId: string, bytes: number): number {
    const max = this.reservations.get(vmId) ?? 0;
    return Number.isFinite(bytes) ? Math.max(0, Math.min(max, Math.floor(bytes))) : 0;
  }

  get reservedBytes(): number {
    return this.reserved;
  }

  fits(bytes: number): boolean {
    return bytes <= this.freeBytes;
  }

  /** Reserves `bytes` for `vmId` or throws HypervisorError('no-memory') saying what is free. */
  reserve(vmId: string, vmName: string, bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      throw new HypervisorError('bad-argument', `VM '${vmName}' must ask for a positive amount of memory, got ${bytes}`);
    }
    if (this.reservations.has(vmId)) {
      throw new HypervisorError('bad-argument', `VM '${vmName}' already has memory reserved`);
    }
    if (!this.fits(bytes)) {
      const ballooned = this.credited > 0 ? ` (counting ${formatBytes(this.credited)} the VMs' balloons gave back)` : '';
      throw new HypervisorError(
        'no-memory',
        `cannot create VM '${vmName}': it asks for ${formatBytes(bytes)} but only ${formatBytes(this.freeBytes)} ` +
          `of the ${formatBytes(this.totalBytes)} budget is free${ballooned}`,
      );
    }
    this.reservations.set(vmId, bytes);
    this.reserved += bytes;
  }

  /** Releases what `vmId` reserved; releasing twice is harmless. */
  release(vmId: string): void {
    const bytes = this.reservations.get(vmId);
    if (bytes === undefined) return;
    this.setCredit(vmId, 0);
    this.reservations.delete(vmId);
    this.reserved -= bytes;
  }

  reservedFor(vmId: string): number {
    return this.reservations.get(vmId) ?? 0;
  }

  usage(): MemoryUsage {
    return {
      totalBytes: this.totalBytes,
      reservedBytes: this.reserved,
      freeBytes: this.freeBytes,
      byVm: Object.fromEntries(this.reservations),
      balloonedBytes: this.credited,
    };
  }
}

const MiB = 1024 * 1024;

/** "128 MiB", "1.5 GiB", "512 KiB": the units people size VMs in. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MiB) return `${trim(bytes / (1024 * MiB))} GiB`;
  if (bytes >= MiB) return `${trim(bytes / MiB)} MiB`;
  if (bytes >= 1024) return `${trim(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

function trim(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
