// A host folder as a 9p share (Node only: `tabvisor run --share DIR`). Confinement: the root is
// resolved once; every folder on the way to a path is checked with lstat to be a real folder (a
// symlink there is refused, so nothing is ever reached through one); the last name is opened with
// O_NOFOLLOW or handled by calls that do not follow links. Only regular files and folders are
// opened (a FIFO or device node in the share cannot block or reach the host's devices). Symlinks
// the guest makes are stored as they are and only ever read back as text (the guest resolves them
// in its own namespace).

import {
  closeSync, constants, fchmodSync, fsyncSync, ftruncateSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, renameSync, rmdirSync, statfsSync,
  statSync, symlinkSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { join } from 'node:path';
import {
  ERRNO, O_ACCMODE, O_APPEND, O_EXCL, O_RDWR, O_TRUNC, O_WRONLY, ShareError,
  type FileShare, type ShareDirEntry, type ShareKind, type ShareStat, type ShareStatfs,
} from './file-share.js';

/** Open files per share at most (the 9p server also bounds fids). */
const MAX_HANDLES = 1024;
/** Entries one readdir returns at most (a folder with more is cut, not loaded whole). */
const MAX_DIR_ENTRIES = 65536;

export class NodeFileShare implements FileShare {
  readonly root: string;
  private readonly handles = new Map<number, number>();
  private nextHandle = 1;

  constructor(root: string, readonly readOnly = false) {
    let real: string;
    try {
      real = realpathSync(root);
    } catch {
      throw new Error(`share folder '${root}' does not exist`);
    }
    if (!statSync(real).isDirectory()) throw new Error(`share '${root}' is not a folder`);
    this.root = real;
  }

  /** The host path of `path`; every folder before the last name must be a real folder. */
  private full(path: readonly string[]): string {
    let p = this.root;
    for (let i = 0; i < path.length; i++) {
      p = join(p, path[i]);
      if (i < path.length - 1) {
        const st = lstatOrThrow(p);
        if (!st.isDirectory()) throw new ShareError(st.isSymbolicLink() ? ERRNO.ELOOP : ERRNO.ENOTDIR);
      }
    }
    return p;
  }

  private writable(): void {
    if (this.readOnly) throw new ShareError(ERRNO.EROFS);
  }

  private fd(handle: number): number {
    const fd = this.handles.get(handle);
    if (fd === undefined) throw new ShareError(ERRNO.EBADF);
    return fd;
  }

  private keep(fd: number): number {
    if (this.handles.size >= MAX_HANDLES) {
      closeSync(fd);
      throw new ShareError(ERRNO.EMFILE);
    }
    const h = this.nextHandle++;
    this.handles.set(h, fd);
    return h;
  }

  stat(path: readonly string[]): ShareStat {
    return toStat(lstatOrThrow(this.full(path)));
  }

  readdir(path: readonly string[]): ShareDirEntry[] {
    const dir = this.full(path);
    const out: ShareDirEntry[] = [];
    for (const name of call(() => readdirSync(dir))) {
      if (out.length >= MAX_DIR_ENTRIES) break;
      try {
        const st = lstatSync(join(dir, name), { bigint: true });
        out.push({ name, kind: kindOf(st.mode), ino: st.ino });
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  open(path: readonly string[], flags: number): number {
    const p = this.full(path);
    const st = lstatOrThrow(p);
    if (!st.isFile() && !st.isDirectory()) throw new ShareError(st.isSymbolicLink() ? ERRNO.ELOOP : ERRNO.EACCES);
    const wants = flags & O_ACCMODE;
    if (wants !== 0 || (flags & O_TRUNC) !== 0) {
      this.writable();
      if (st.isDirectory()) throw new ShareError(ERRNO.EISDIR);
    }
    return this.keep(call(() => openSync(p, hostFlags(flags) | constants.O_NOFOLLOW | constants.O_NONBLOCK)));
  }

  create(dir: readonly string[], name: string, flags: number, mode: number): number {
    this.writable();
    const p = this.full([...dir, name]);
    const f = hostFlags(flags) | constants.O_CREAT | constants.O_NOFOLLOW | ((flags & O_EXCL) ? constants.O_EXCL : 0);
    return this.keep(call(() => openSync(p, f, mode & 0o777)));
  }

  read(handle: number, offset: number, length: number): Uint8Array {
    const fd = this.fd(handle);
    const buf = new Uint8Array(length);
    const n = call(() => readSync(fd, buf, 0, length, offset));
    return buf.subarray(0, n);
  }

  write(handle: number, offset: number, data: Uint8Array): number {
    this.writable();
    const fd = this.fd(handle);
    return call(() => writeSync(fd, data, 0, data.length, offset));
  }

  fsync(handle: number): void {
    const fd = this.fd(handle);
    call(() => fsyncSync(fd));
  }

  close(handle: number): void {
    const fd = this.handles.get(handle);
    if (fd === undefined) return;
    this.handles.delete(handle);
    try {
      closeSync(fd);
    } catch {
      // already gone
    }
  }

  mkdir(dir: readonly string[], name: string, mode: number): void {
    this.writable();
    const p = this.full([...dir, name]);
    call(() => mkdirSync(p, mode & 0o777));
  }

  symlink(dir: readonly string[], name: string, target: string): void {
    this.writable();
    const p = this.full([...dir, name]);
    call(() => symlinkSync(target, p));
  }

  readlink(path: readonly string[]): string {
    const p = this.full(path);
    return call(() => readlinkSync(p, 'utf8'));
  }

  link(dir: readonly string[], name: string, existing: readonly string[]): void {
    this.writable();
    const from = this.full(existing);
    const st = lstatOrThrow(from);
    if (st.isDirectory()) throw new ShareError(ERRNO.EPERM);
    const to = this.full([...dir, name]);
    call(() => linkSync(from, to));
  }

  unlink(dir: readonly string[], name: string, isDir: boolean): void {
    this.writable();
    const p = this.full([...dir, name]);
    const st = lstatOrThrow(p);
    if (isDir) {
      if (!st.isDirectory()) throw new ShareError(ERRNO.ENOTDIR);
      call(() => rmdirSync(p));
    } else {
      if (st.isDirectory()) throw new ShareError(ERRNO.EISDIR);
      call(() => unlinkSync(p));
    }
  }

  rename(fromDir: readonly string[], fromName: string, toDir: readonly string[], toName: string): void {
    this.writable();
    const from = this.full([...fromDir, fromName]);
    const to = this.full([...toDir, toName]);
    call(() => renameSync(from, to));
  }

  setattr(path: readonly string[], change: { mode?: number; size?: number; atimeMs?: number; mtimeMs?: number }): void {
    this.writable();
    const p = this.full(path);
    const st = lstatOrThrow(p);
    if (change.mode !== undefined || change.size !== undefined) {
      if (st.isSymbolicLink()) {
        if (change.size !== undefined) throw new ShareError(ERRNO.EINVAL);
      } else {
        if (!st.isFile() && !st.isDirectory()) throw new ShareError(ERRNO.EACCES);
        if (change.size !== undefined && !st.isFile()) throw new ShareError(ERRNO.EISDIR);
        const fd = call(() => openSync(p, (change.size !== undefined ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_NOFOLLOW | constants.O_NONBLOCK));
        try {
          if (change.mode !== undefined) call(() => fchmodSync(fd, change.mode! & 0o7777 & ~0o6000));
          if (change.size !== undefined) call(() => ftruncateSync(fd, change.size));
        } finally {
          closeSync(fd);
        }
      }
    }
    if (change.atimeMs !== undefined || change.mtimeMs !== undefined) {
      const a = (change.atimeMs ?? st.atimeMs) / 1000;
      const m = (change.mtimeMs ?? st.mtimeMs) / 1000;
      call(() => lutimesSync(p, a, m));
    }
  }

  statfs(): ShareStatfs {
    const s = call(() => statfsSync(this.root));
    return { bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree };
  }

  /** Closes every open file (the VM stops). */
  closeAll(): void {
    for (const h of [...this.handles.keys()]) this.close(h);
  }
}

function hostFlags(flags: number): number {
  const acc = flags & O_ACCMODE;
  let f = acc === O_WRONLY ? constants.O_WRONLY : acc === O_RDWR ? constants.O_RDWR : constants.O_RDONLY;
  if (flags & O_TRUNC) f |= constants.O_TRUNC;
  if (flags & O_APPEND) f |= constants.O_APPEND;
  return f;
}

function kindOf(mode: number | bigint): ShareKind {
  const t = Number(mode) & constants.S_IFMT;
  if (t === constants.S_IFREG) return 'file';
  if (t === constants.S_IFDIR) return 'dir';
  if (t === constants.S_IFLNK) return 'symlink';
  return 'other';
}

function toStat(st: Stats): ShareStat {
  return {
    kind: kindOf(st.mode), mode: st.mode, uid: st.uid, gid: st.gid, nlink: st.nlink, size: st.size,
    blocks: st.blocks, ino: BigInt(st.ino), atimeMs: st.atimeMs, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs,
  };
}

function lstatOrThrow(p: string): Stats {
  return call(() => lstatSync(p));
}

/** Runs a host call, turning its error into the errno the guest should see. */
function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ShareError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const errno = (ERRNO as Record<string, number>)[code] ?? (code === 'ENOTSUP' ? ERRNO.EOPNOTSUPP : ERRNO.EIO);
    throw new ShareError(errno, (err as Error).message);
  }
}

