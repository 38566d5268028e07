// The overlay disk in the page: the overlay file lives in the origin private file system (OPFS)
// and is read and written by the VM's worker through a sync access handle, whose flush() makes
// written bytes durable (a guest flush waits for it). The base image comes from the app's assets.
//
// Handles are opened 'readwrite-unsafe': while a VM moves to a new engine instance (restore,
// migration) the old instance, paused, still holds its handle. Exclusion between tabs is the
// page's job (a Web Lock per lab, src/ui/disk-lock.ts), not the file system's.

import { OverlayDisk, memoryBase, openOverlayDisk, type OverlayStore } from './overlay-disk.js';
import { fromHex } from './overlay-format.js';

/** The part of FileSystemSyncAccessHandle used here (DOM typings lag behind the options). */
interface SyncHandle {
  getSize(): number;
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

/** The OPFS folder that holds every overlay. */
export const OPFS_DISK_FOLDER = 'tabvisor-disks';

export class OpfsOverlayStore implements OverlayStore {
  private constructor(private readonly handle: SyncHandle) {}

  /** Opens (creating when missing) OPFS_DISK_FOLDER/`name`; only inside a dedicated worker. */
  static async open(name: string): Promise<OpfsOverlayStore> {
    const root = await navigator.storage.getDirectory();
    const folder = await root.getDirectoryHandle(OPFS_DISK_FOLDER, { create: true });
    const file = await folder.getFileHandle(name, { create: true });
    const open = (file as unknown as { createSyncAccessHandle(o?: { mode: string }): Promise<SyncHandle> }).createSyncAccessHandle;
    return new OpfsOverlayStore(await open.call(file, { mode: 'readwrite-unsafe' }));
  }

  size(): number {
    return this.handle.getSize();
  }

  read(into: Uint8Array, at: number): number {
    let done = 0;
    while (done < into.length) {
      const n = this.handle.read(into.subarray(done), { at: at + done });
      if (n <= 0) break;
      done += n;
    }
    return done;
  }

  write(data: Uint8Array, at: number): void {
    let done = 0;
    while (done < data.length) {
      const n = this.handle.write(data.subarray(done), { at: at + done });
      if (n <= 0) throw new Error('the browser storage took no more bytes (quota?)');
      done += n;
    }
  }

  truncate(size: number): void {
    this.handle.truncate(size);
  }

  flush(): void {
    this.handle.flush();
  }

  close(): void {
    this.handle.close();
  }
}

/** A page VM's disk: `base` bytes (checked against `sha256` by the caller) under the overlay `name`. */
export async function openOpfsOverlayDisk(name: string, base: Uint8Array, sha256: string, options: { reset?: boolean; serial: string }): Promise<OverlayDisk> {
  return openOverlayDisk(await OpfsOverlayStore.open(name), memoryBase(base, fromHex(sha256)), options);
}
