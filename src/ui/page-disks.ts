// The page's side of persistent disks: which VMs get one (HypervisorOptions.diskFor), the Web
// Lock that makes one tab the owner of a lab's disks, persistent storage and quota figures. The
// disks themselves are OPFS files written by the VM workers (src/worker/worker-disks.ts).
import type { ImageEntry } from '../engines/engine.js';
import type { DiskPolicy } from '../hypervisor/hypervisor.js';
import { savedDiskBytes } from './saved-disks.js';
import { HEADER_BYTES } from '../devices/backends/overlay-format.js';

/** A disk base image as images/manifest.json lists it ("disks"). */
export interface DiskBaseEntry {
  name: string;
  file: string;
  bytes: number;
  sha256: Record<string, string>;
}

export type DiskOwnership =
  | { kind: 'checking' }
  /** This tab holds the lab's disks. */
  | { kind: 'owned' }
  /** Another tab holds them: VMs here run without disks (nothing is written). */
  | { kind: 'other-tab' }
  /** No disks: the browser has no OPFS or Web Locks here, or the manifest lists no disk. */
  | { kind: 'unavailable'; why: string };

export interface StorageFigures {
  usedBytes?: number;
  quotaBytes?: number;
  persisted?: boolean;
}

export class PageDisks {
  ownership: DiskOwnership = { kind: 'checking' };
  private base: DiskBaseEntry | undefined;
  private release: (() => void) | undefined;

  constructor(
    /** The lab whose disks this tab uses: names the lock and prefixes every disk. */
    readonly lab: string,
    private readonly onChange: () => void = () => {},
  ) {}

  /** Gets the manifest's disk, the lab's lock and persistent storage; VMs made after this get disks. */
  async prepare(loadManifest: () => Promise<unknown>): Promise<void> {
    try {
      const storage = navigator.storage as StorageManager | undefined;
      if (!storage?.getDirectory) return this.set({ kind: 'unavailable', why: 'this browser has no origin private file system' });
      if (!navigator.locks) return this.set({ kind: 'unavailable', why: 'this browser has no Web Locks' });
      const manifest = (await loadManifest()) as { disks?: DiskBaseEntry[] };
      this.base = manifest.disks?.find((d) => d.name === 'home');
      if (!this.base) return this.set({ kind: 'unavailable', why: 'images/manifest.json lists no disk' });
      const owned = await new Promise<boolean>((resolve) => {
        void navigator.locks.request(`tabvisor-disks:${this.lab}`, { ifAvailable: true }, (lock) => {
          if (!lock) {
            resolve(false);
            return undefined;
          }
          resolve(true);
          // Held until this tab goes away (or close()).
          return new Promise<void>((done) => { this.release = done; });
        });
      });
      this.set(owned ? { kind: 'owned' } : { kind: 'other-tab' });
      // Ask once; the browser decides (Chromium grants it to sites the user engages with).
      if (owned && storage.persist && !(await storage.persisted?.())) await storage.persist().catch(() => false);
    } catch (err) {
      this.set({ kind: 'unavailable', why: err instanceof Error ? err.message : String(err) });
    }
  }

  /** For the Hypervisor: a disk for each VM while this tab owns the lab's disks. */
  readonly diskFor: DiskPolicy = (vm: { name: string; image: ImageEntry }) => {
    const base = this.base;
    if (this.ownership.kind !== 'owned' || !base) return undefined;
    const sha256 = base.sha256[base.file];
    if (!sha256) return undefined;
    return { key: diskKey(this.lab, vm.name), base: { file: base.file, sha256, bytes: base.bytes } };
  };

  /**
   * True when lab VM `vmName`'s disk holds files: its overlay in OPFS has more than its header
   * (an emptied overlay is cut back to the header; a missing one is empty).
   */
  readonly diskHoldsFiles = async (vmName: string): Promise<boolean> => {
    if (this.ownership.kind !== 'owned') return false;
    return (await savedDiskBytes(diskKey(this.lab, vmName))) > HEADER_BYTES;
  };

  /** Used and available bytes of the origin's storage, and whether it is persistent. */
  async figures(): Promise<StorageFigures> {
    const storage = navigator.storage as StorageManager | undefined;
    if (!storage) return {};
    const [estimate, persisted] = await Promise.all([
      storage.estimate?.().catch(() => undefined),
      storage.persisted?.().catch(() => undefined),
    ]);
    return {
      ...(estimate?.usage !== undefined ? { usedBytes: estimate.usage } : {}),
      ...(estimate?.quota !== undefined ? { quotaBytes: estimate.quota } : {}),
      ...(persisted !== undefined ? { persisted } : {}),
    };
  }

  close(): void {
    this.release?.();
    this.release = undefined;
  }

  private set(ownership: DiskOwnership): void {
    this.ownership = ownership;
    this.onChange();
  }
}

/** The overlay's name for a lab VM: letters, digits, '.', '_' and '-' only (worker-disks.ts). */
export function diskKey(lab: string, vmName: string): string {
  return `${lab}.${vmName}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
}
