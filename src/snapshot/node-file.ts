// Files on a Node file system, read and written safely (docs/CLI.md, "File safety").
// Reading: only regular files, never more than a stated limit (a FIFO or /dev/zero cannot hang or
// flood us). Writing: never a half-written file under the target name: bytes go to a temporary
// file in the target's folder, are fsynced, then renamed over the target. Symlinks are followed to
// their target, the target's mode and owner are kept, and targets that renaming would damage
// (devices, FIFOs, sockets, folders, read-only files, files with several hard links) are refused.

import { open, rename, unlink, lstat, readdir, readlink, realpath, stat, constants, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  readSnapshot, SnapshotFormatError, SNAPSHOT_DEFAULT_MAX_PAYLOAD_BYTES, type Snapshot, type SnapshotLimits,
} from './format.js';

/** A snapshot file that cannot be opened or read (missing, a folder, no permission, too big). */
export class SnapshotFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFileError';
  }
}

/** An input file that is not a readable regular file within its size limit. One line. */
export class InputFileError extends Error {
  constructor(message: string, readonly tooBig = false) {
    super(message);
    this.name = 'InputFileError';
  }
}

/** An output path tabvisor will not (or cannot) replace. One line. */
export class OutputFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputFileError';
  }
}

/**
 * Largest snapshot file read: 2 GiB - 1, the most Node reads in one go. The payload is deflated,
 * so even the largest machine (2048 MiB of RAM) saves far below it.
 */
export const MAX_SNAPSHOT_BYTES = 2 ** 31 - 1;

/**
 * Reads a whole regular file of at most `maxBytes` (or of the limit that `maxBytes` gives for the
 * file's first 64 bytes, so a limit can depend on the file type without reading it all). Opens
 * without blocking (a FIFO would wait for a writer) and refuses anything that is not a regular
 * file. Throws InputFileError.
 */
export async function readRegularFile(path: string, maxBytes: number | ((head: Uint8Array) => number)): Promise<Uint8Array> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new InputFileError(describeFsError(err));
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new InputFileError(`is ${fileKind(s)}, not a regular file`);
    let limit: number;
    if (typeof maxBytes === 'number') {
      limit = maxBytes;
    } else {
      const head = new Uint8Array(Math.min(64, s.size));
      await handle.read(head, 0, head.length, 0);
      limit = maxBytes(head);
    }
    if (s.size > limit) throw new InputFileError(`is ${formatBytes(s.size)}, more than the limit of ${formatBytes(limit)}`, true);
    const out = new Uint8Array(s.size);
    let done = 0;
    while (done < out.length) {
      const { bytesRead } = await handle.read(out, done, out.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === out.length ? out : out.subarray(0, done);
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    throw new InputFileError(describeFsError(err));
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Where a write to `path` really lands: symlinks followed (a dangling one names the file to create). */
async function resolveTarget(path: string): Promise<{ target: string; existing: Stats | undefined }> {
  let target = resolvePath(path);
  for (let hops = 0; ; hops++) {
    let s: Stats;
    try {
      s = await lstat(target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { target: await realFolder(target), existing: undefined };
      throw err;
    }
    if (!s.isSymbolicLink()) return { target: await realFolder(target), existing: s };
    if (hops >= 40) throw Object.assign(new Error('too many symbolic links'), { code: 'ELOOP' });
    target = resolvePath(dirname(target), await readlink(target));
  }
}

/** `file` with its folder's real path (so the temporary file is made beside the real target). */
async function realFolder(file: string): Promise<string> {
  return join(await realpath(dirname(file)), basename(file));
}

/** Why renaming a new file over `s` would hurt, or undefined when it is safe. */
function replaceProblem(s: Stats): string | undefined {
  if (!s.isFile()) return `is ${fileKind(s)}, not a regular file`;
  if ((s.mode & 0o222) === 0) return `is read-only (mode ${(s.mode & 0o7777).toString(8).padStart(4, '0')})`;
  if (s.nlink > 1) return `has ${s.nlink} hard links, which replacing it would split; remove the other links or choose another name`;
  return undefined;
}

/**
 * Checks, before any work, that `writeFileAtomic(path)` can succeed: the target is absent or a
 * replaceable regular file, and its folder exists and takes a new file. Returns the real path the
 * write will replace. Throws OutputFileError whose message follows `cannot write <label> <path>: `.
 */
export async function checkOutputFile(path: string, label: string): Promise<string> {
  const fail = (why: string): never => {
    throw new OutputFileError(`cannot write ${label} ${path}: ${why}`);
  };
  let resolved;
  try {
    resolved = await resolveTarget(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return fail(describeFsError(err));
    return fail(`folder ${dirname(resolvePath(path))}: ${describeFsError(err)}`);
  }
  const problem = resolved.existing && replaceProblem(resolved.existing);
  if (problem) fail(resolved.target === resolvePath(path) ? problem : `its target ${resolved.target} ${problem}`);
  const dir = dirname(resolved.target);
  try {
    if (!(await stat(dir)).isDirectory()) fail(`${dir} is not a folder`);
    // A probe file: the only sure test that the folder takes new files (root ignores mode bits).
    const probe = tempName(resolved.target);
    await (await open(probe, 'wx', 0o600)).close();
    await unlink(probe);
  } catch (err) {
    if (err instanceof OutputFileError) throw err;
    fail(`folder ${dir}: ${describeFsError(err)}`);
  }
  return resolved.target;
}

/**
 * Writes `data` to `path` atomically. `data` may be an async iterable of chunks, so a producer
 * that fails halfway leaves the previous file at `path` untouched (and no temporary file behind).
 * Throws OutputFileError for a target it must not replace (see replaceProblem).
 */
export async function writeFileAtomic(path: string, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
  const { target, existing } = await resolveTarget(path);
  const problem = existing && replaceProblem(existing);
  if (problem) throw new OutputFileError(`${path} ${problem}`);
  const dir = dirname(target);
  await removeStaleTemps(target);
  const temp = tempName(target);
  const handle = await open(temp, 'wx', existing ? existing.mode & 0o7777 : 0o666);
  let renamed = false;
  try {
    if (existing) {
      await handle.chmod(existing.mode & 0o7777); // open() applied the umask
      await handle.chown(existing.uid, existing.gid).catch(() => undefined); // only root may give files away
    }
    if (data instanceof Uint8Array) {
      await handle.writeFile(data);
    } else {
      for await (const chunk of data) await handle.writeFile(chunk);
    }
    await handle.sync();
    await handle.close();
    await rename(temp, target);
    renamed = true;
    await syncDirectory(dir);
  } finally {
    if (!renamed) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    }
  }
}

function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Deletes temporary files for `target` left by writers that were killed (their pid is gone). */
async function removeStaleTemps(target: string): Promise<void> {
  const prefix = `.${basename(target)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (m && !processIsAlive(Number(m[1]))) await unlink(join(dirname(target), name)).catch(() => undefined);
  }
}

/** Whether a process with this pid exists (it may belong to another user). */
export function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
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
    // A compressed snapshot is never much larger than its payload: refuse a bigger file unread.
    const maxPayload = limits.maxPayloadBytes ?? SNAPSHOT_DEFAULT_MAX_PAYLOAD_BYTES;
    const maxFile = Math.min(MAX_SNAPSHOT_BYTES, Math.floor(maxPayload * 1.01) + (1 << 20));
    const st = await stat(path).catch(() => undefined);
    if (st?.isFile() && st.size > maxFile) {
      throw new SnapshotFormatError(`${path}: snapshot is too large (${Math.round(st.size / 2 ** 20)} MiB file)`);
    }
    bytes = await readRegularFile(path, maxFile);
  } catch (err) {
    if (err instanceof SnapshotFormatError) throw err;
    throw new SnapshotFileError(`cannot read snapshot '${path}': ${err instanceof Error ? err.message : String(err)}`);
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
    case 'EROFS': return 'read-only file system';
    case 'ELOOP': return 'too many symbolic links';
    case 'EFBIG': return 'file too large (a file size limit of the host)';
    case 'EDQUOT': return 'disk quota exceeded';
    default: return code ?? (err instanceof Error ? err.message : String(err));
  }
}

/** 'file', or what else a path is, in words for a message ("is a FIFO (named pipe)"). */
export function fileKind(s: Stats): string {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} bytes`;
}
