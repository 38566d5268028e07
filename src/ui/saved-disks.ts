// The disks this browser keeps (OPFS tabvisor-disks/<lab>.<vm>.tvoverlay): listed with their
// size and whether a tab uses them, and deleted on the user's word. Disks of labs no longer
// opened (another lab, an old course) would otherwise take space until the site's data is cleared.
//
// A disk is in use while a tab holds its lab's Web Lock (`tabvisor-disks:<lab>`, page-disks.ts).
// A key does not say where the lab's name ends (lab names may hold '.'), so deleting takes, with
// `ifAvailable`, the lock of every lab name the key could start with, and removes the file only
// while it holds them all: no tab can open that disk meanwhile.
import { OPFS_DISK_FOLDER } from '../devices/backends/overlay-opfs-store.js';

const SUFFIX = '.tvoverlay';
const LOCK_PREFIX = 'tabvisor-disks:';

export interface SavedDisk {
  /** `<lab>.<vm>` as page-disks.ts's diskKey made it. */
  key: string;
  /** Bytes of the overlay file (undefined when the browser would not say). */
  bytes?: number;
  /** 'here': this tab's lab (reset it instead); 'other-tab': another tab has its lab open. */
  use: 'here' | 'other-tab' | 'free';
}

/** The lab names `key` may start with: every prefix that ends before a '.'. */
export function labCandidates(key: string): string[] {
  const out: string[] = [];
  for (let i = key.indexOf('.'); i > 0; i = key.indexOf('.', i + 1)) out.push(key.slice(0, i));
  return out;
}

async function folder(): Promise<FileSystemDirectoryHandle | undefined> {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(OPFS_DISK_FOLDER).catch(() => undefined);
}

/** Bytes of the saved disk `key`'s overlay file (0 when there is none). */
export async function savedDiskBytes(key: string): Promise<number> {
  const file = await (await folder())?.getFileHandle(key + SUFFIX).catch(() => undefined);
  return (await file?.getFile().then((f) => f.size, () => 0)) ?? 0;
}

/** Every saved disk, by key; `hereLab` is the lab whose disks this tab owns (if it owns any). */
export async function listSavedDisks(hereLab: string | undefined): Promise<SavedDisk[]> {
  const dir = await folder();
  if (!dir) return [];
  const held = new Set(((await navigator.locks.query()).held ?? []).map((l) => l.name ?? ''));
  const out: SavedDisk[] = [];
  for await (const [name, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
    if (handle.kind !== 'file' || !name.endsWith(SUFFIX)) continue;
    const key = name.slice(0, -SUFFIX.length);
    const labs = labCandidates(key);
    const use = hereLab !== undefined && labs.includes(hereLab) ? 'here' : labs.some((lab) => held.has(LOCK_PREFIX + lab)) ? 'other-tab' : 'free';
    const bytes = await (handle as FileSystemFileHandle).getFile().then((f) => f.size, () => undefined);
    out.push({ key, use, ...(bytes !== undefined ? { bytes } : {}) });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * Deletes the saved disk `key` unless a tab (this one included) has its lab open: 'deleted',
 * 'in-use', or 'gone' when there was no such disk.
 */
export async function deleteSavedDisk(key: string): Promise<'deleted' | 'in-use' | 'gone'> {
  const dir = await folder();
  if (!dir) return 'gone';
  const withLocks = async (labs: string[]): Promise<'deleted' | 'in-use' | 'gone'> => {
    if (labs.length === 0) {
      try {
        await dir.removeEntry(key + SUFFIX);
        return 'deleted';
      } catch (err) {
        if (err instanceof DOMException && err.name === 'NotFoundError') return 'gone';
        throw err;
      }
    }
    return navigator.locks.request(LOCK_PREFIX + labs[0], { ifAvailable: true }, (lock) => (lock ? withLocks(labs.slice(1)) : 'in-use'));
  };
  return withLocks(labCandidates(key));
}
