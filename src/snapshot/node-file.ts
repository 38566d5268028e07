// Snapshot files on a Node file system. A write never leaves a half-written file under the
// target name: bytes go to a temporary file in the same folder, are fsynced, then renamed over.

import { open, rename, unlink, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  readSnapshot, SnapshotFormatError, SNAPSHOT_DEFAULT_MAX_PAYLOAD_BYTES, type Snapshot, type SnapshotLimits,
} from './format.js';

/** A snapshot file that cannot be opened or read (missing, a folder, no permission). */
export class SnapshotFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFileError';
  }
}

/**
 * Writes `data` to `path` atomically. `data` may be an async iterable of chunks, so a producer
 * that fails halfway leaves the previous file at `path` untouched (and no temporary file behind).
 */
export async function writeFileAtomic(path: string, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  let renamed = false;
  try {
    if (data instanceof Uint8Array) {
      await handle.writeFile(data);
    } else {
      for await (const chunk of data) await handle.writeFile(chunk);
    }
    await handle.sync();
    await handle.close();
    await rename(temp, path);
    renamed = true;
    await syncDirectory(dir);
  } finally {
    if (!renamed) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    }
  }
}

/** Makes the rename itself durable; some file systems refuse to open a folder, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

/**
 * Reads and verifies a snapshot file; throws SnapshotFileError or SnapshotFormatError with one clear
 * line. A file larger than any payload `limits` allow (deflate never grows data by more than a
 * fraction of a percent) is refused from its size, before it is read.
 */
export async function readSnapshotFile(path: string, limits: SnapshotLimits = {}): Promise<Snapshot> {
  let bytes: Uint8Array;
  try {
    const maxPayload = limits.maxPayloadBytes ?? SNAPSHOT_DEFAULT_MAX_PAYLOAD_BYTES;
    const size = (await stat(path)).size;
    if (size > maxPayload * 1.01 + (1 << 20)) {
      throw new SnapshotFormatError(`${path}: snapshot is too large (${Math.round(size / 2 ** 20)} MiB file)`);
    }
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof SnapshotFormatError) throw err;
    throw new SnapshotFileError(`cannot read snapshot '${path}': ${describeFsError(err)}`);
  }
  try {
    return await readSnapshot(bytes, limits);
  } catch (err) {
    if (err instanceof SnapshotFormatError) throw new SnapshotFormatError(`${path}: ${err.message}`);
    throw err;
  }
}

export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EISDIR': return 'is a folder, not a file';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'ENOTDIR': return 'a part of the path is not a folder';
    case 'ENOSPC': return 'no space left on the device';
    default: return code ?? (err instanceof Error ? err.message : String(err));
  }
}
