// The overlay disk on Node files: the base image opened read-only, the overlay file read and
// written with synchronous fs calls (the block front end is synchronous), fsync as the flush.

import { createHash } from 'node:crypto';
import {
  closeSync, constants, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, realpathSync, writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { describeFsError as fsReason, fileKind } from '../../snapshot/node-file.js';
import { SECTOR_SIZE } from './disk.js';
import { DiskFileError, processExists, syncFolder } from './file-disk.js';
import { OverlayDisk, type BaseImage, type OverlayStore } from './overlay-disk.js';
import { OverlayFormatError } from './overlay-format.js';

/** The overlay file used when none is named: beside the base. */
export const OVERLAY_SUFFIX = '.tvoverlay';

export class NodeOverlayStore implements OverlayStore {
  private constructor(private readonly fd: number) {}

  /** Opens (or creates, durably: the folder is synced) the overlay file at `path`. */
  static open(path: string): NodeOverlayStore {
    let fd: number;
    let created = false;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DiskFileError(`cannot open the disk overlay ${path}: ${fsReason(err)}`);
      try {
        fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
        created = true;
      } catch (again) {
        throw new DiskFileError(`cannot create the disk overlay ${path}: ${fsReason(again)}`);
      }
    }
    const kind = fileKind(fstatSync(fd));
    if (kind !== 'file') {
      closeSync(fd);
      throw new DiskFileError(`the disk overlay ${path} is ${kind}, not a regular file`);
    }
    if (created) syncFolder(dirname(realpathSync(path)));
    return new NodeOverlayStore(fd);
  }

  size(): number {
    return fstatSync(this.fd).size;
  }

  read(into: Uint8Array, at: number): number {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.fd, into, done, into.length - done, at + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  write(data: Uint8Array, at: number): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, at + done);
  }

  truncate(size: number): void {
    ftruncateSync(this.fd, size);
  }

  flush(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A base image file opened read-only, read on demand; its sha256 is computed once at open. */
export function openBaseFile(path: string): BaseImage & { close(): void; path: string } {
  let real: string;
  let fd: number;
  try {
    real = realpathSync(path);
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new DiskFileError(`cannot read --disk ${path}: ${fsReason(err)}`);
  }
  try {
    const stats = fstatSync(fd);
    const kind = fileKind(stats);
    if (kind !== 'file') throw new DiskFileError(`--disk ${path} is ${kind}, not a regular file`);
    if (stats.size < SECTOR_SIZE) throw new DiskFileError(`--disk ${path} is ${stats.size === 0 ? 'empty' : `${stats.size} bytes`}; a disk holds at least one 512-byte sector`);
    const read = (into: Uint8Array, at: number): void => {
      let done = 0;
      while (done < into.length) {
        const n = readSync(fd, into, done, into.length - done, at + done);
        if (n === 0) { into.fill(0, done); break; } // the file shrank under us
        done += n;
      }
    };
    const hash = createHash('sha256');
    const piece = new Uint8Array(1024 * 1024);
    for (let at = 0; at < stats.size; at += piece.length) {
      const part = piece.subarray(0, Math.min(piece.length, stats.size - at));
      read(part, at);
      hash.update(part);
    }
    return { byteLength: stats.size, sha256: new Uint8Array(hash.digest()), read, close: () => closeSync(fd), path: real };
  } catch (err) {
    closeSync(fd);
    if (err instanceof DiskFileError) throw err;
    throw new DiskFileError(`cannot read --disk ${path}: ${fsReason(err)}`);
  }
}

export type NodeOverlayDisk = OverlayDisk & { closeAll(): void; overlayPath: string };

/**
 * `--disk BASE --disk-overlay FILE`: BASE is never written; the guest's writes persist in FILE.
 * `takeOverFrom`: the pid of a process that holds FILE open but hands it over (a migration's
 * sender, paused with the overlay flushed): its mark in the header does not refuse the open.
 */
export function openNodeOverlayDisk(basePath: string, overlayPath: string, options: { takeOverFrom?: number } = {}): NodeOverlayDisk {
  const base = openBaseFile(basePath);
  let store: NodeOverlayStore;
  try {
    if (existsSync(overlayPath) && realpathSync(overlayPath) === base.path) {
      throw new DiskFileError(`--disk-overlay ${overlayPath} is the --disk file itself`);
    }
    store = NodeOverlayStore.open(overlayPath);
  } catch (err) {
    base.close();
    throw err;
  }
  try {
    const disk = new OverlayDisk(store, base, {
      pid: process.pid,
      checkOwner: (pid) => {
        if (pid !== 0 && pid !== process.pid && pid !== options.takeOverFrom && processExists(pid)) {
          throw new DiskFileError(`the disk overlay ${overlayPath} is in use by tabvisor process ${pid}`);
        }
      },
    });
    return Object.assign(disk, {
      overlayPath,
      closeAll(): void {
        try {
          disk.close();
        } finally {
          base.close();
        }
      },
    });
  } catch (err) {
    base.close();
    try { store.close(); } catch { /* already closed */ }
    if (err instanceof OverlayFormatError) throw new DiskFileError(`--disk-overlay ${overlayPath}: ${err.message}`);
    throw err;
  }
}
