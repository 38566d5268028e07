// A 9p share kept in memory: the page's exchange folder between the user and a guest (files
// dropped on a VM panel land here; files the guest puts here can be downloaded). Bounded in
// total bytes and in entries, so a guest cannot grow the tab's memory without limit. Works the
// same in a worker, in the page and in Node (tests).

import {
  ERRNO, isShareName, O_ACCMODE, O_APPEND, O_EXCL, O_TRUNC, S_IFDIR, S_IFLNK, S_IFREG, ShareError,
  type FileShare, type ShareDirEntry, type ShareKind, type ShareStat, type ShareStatfs,
} from './file-share.js';

interface Node {
  kind: 'file' | 'dir' | 'symlink';
  ino: bigint;
  mode: number;
  data: Uint8Array;
  /** Bytes of `data` in use (data may be larger, to grow without copying each write). */
  size: number;
  children?: Map<string, Node>;
  target?: string;
  nlink: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface MemoryFileShareLimits {
  /** Total bytes of file contents. */
  maxBytes: number;
  /** Files, folders and links together. */
  maxEntries: number;
}

const DEFAULT_LIMITS: MemoryFileShareLimits = { maxBytes: 256 << 20, maxEntries: 16384 };
const MAX_HANDLES = 1024;

export class MemoryFileShare implements FileShare {
  private readonly rootNode: Node;
  private nextIno = 1n;
  private bytes = 0;
  private entries = 0;
  private readonly handles = new Map<number, { node: Node; flags: number }>();
  private nextHandle = 1;
  private readonly limits: MemoryFileShareLimits;

  constructor(readonly readOnly = false, limits: Partial<MemoryFileShareLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.rootNode = this.node('dir', 0o755);
  }

  /** Bytes of file contents held. */
  get usedBytes(): number {
    return this.bytes;
  }

  private node(kind: Node['kind'], mode: number): Node {
    const now = Date.now();
    const n: Node = { kind, ino: this.nextIno++, mode, data: new Uint8Array(0), size: 0, nlink: 1, atimeMs: now, mtimeMs: now, ctimeMs: now };
    if (kind === 'dir') n.children = new Map();
    return n;
  }

  private lookup(path: readonly string[]): Node {
    let n = this.rootNode;
    for (const name of path) {
      if (n.kind !== 'dir') throw new ShareError(n.kind === 'symlink' ? ERRNO.ELOOP : ERRNO.ENOTDIR);
      const next = n.children!.get(name);
      if (next === undefined) throw new ShareError(ERRNO.ENOENT);
      n = next;
    }
    return n;
  }

  private dir(path: readonly string[]): Node {
    const n = this.lookup(path);
    if (n.kind !== 'dir') throw new ShareError(ERRNO.ENOTDIR);
    return n;
  }

  private writable(): void {
    if (this.readOnly) throw new ShareError(ERRNO.EROFS);
  }

  private add(parent: Node, name: string, child: Node): void {
    if (parent.children!.has(name)) throw new ShareError(ERRNO.EEXIST);
    if (this.entries >= this.limits.maxEntries) throw new ShareError(ERRNO.ENOSPC);
    this.entries++;
    parent.children!.set(name, child);
    parent.mtimeMs = Date.now();
  }

  private resize(n: Node, size: number): void {
    const delta = size - n.size;
    if (delta > 0 && this.bytes + delta > this.limits.maxBytes) throw new ShareError(ERRNO.ENOSPC);
    if (size > n.data.length) {
      const grown = new Uint8Array(Math.min(Math.max(size, n.data.length * 2, 4096), Math.max(size, this.limits.maxBytes)));
      grown.set(n.data.subarray(0, n.size));
      n.data = grown;
    } else if (size < n.size) {
      n.data.fill(0, size, n.size);
    }
    n.size = size;
    this.bytes += delta;
  }

  stat(path: readonly string[]): ShareStat {
    const n = this.lookup(path);
    const type = n.kind === 'dir' ? S_IFDIR : n.kind === 'symlink' ? S_IFLNK : S_IFREG;
    const size = n.kind === 'symlink' ? new TextEncoder().encode(n.target!).length : n.kind === 'dir' ? 4096 : n.size;
    return {
      kind: n.kind, mode: type | n.mode, uid: 0, gid: 0, nlink: n.nlink, size, blocks: Math.ceil(size / 512),
      ino: n.ino, atimeMs: n.atimeMs, mtimeMs: n.mtimeMs, ctimeMs: n.ctimeMs,
    };
  }

  readdir(path: readonly string[]): ShareDirEntry[] {
    return [...this.dir(path).children!].map(([name, n]) => ({ name, kind: n.kind as ShareKind, ino: n.ino }));
  }

  open(path: readonly string[], flags: number): number {
    const n = this.lookup(path);
    if (n.kind === 'symlink') throw new ShareError(ERRNO.ELOOP);
    if ((flags & O_ACCMODE) !== 0 || (flags & O_TRUNC) !== 0) {
      this.writable();
      if (n.kind === 'dir') throw new ShareError(ERRNO.EISDIR);
    }
    if (n.kind === 'file' && (flags & O_TRUNC) !== 0) this.resize(n, 0);
    return this.keep(n, flags);
  }

  private keep(node: Node, flags: number): number {
    if (this.handles.size >= MAX_HANDLES) throw new ShareError(ERRNO.EMFILE);
    const h = this.nextHandle++;
    this.handles.set(h, { node, flags });
    return h;
  }

  private handle(h: number): { node: Node; flags: number } {
    const e = this.handles.get(h);
    if (e === undefined) throw new ShareError(ERRNO.EBADF);
    return e;
  }

  create(dir: readonly string[], name: string, flags: number, mode: number): number {
    this.writable();
    const parent = this.dir(dir);
    const existing = parent.children!.get(name);
    if (existing !== undefined) {
      if (flags & O_EXCL) throw new ShareError(ERRNO.EEXIST);
      return this.open([...dir, name], flags);
    }
    const n = this.node('file', mode & 0o777);
    this.add(parent, name, n);
    return this.keep(n, flags);
  }

  read(handle: number, offset: number, length: number): Uint8Array {
    const { node } = this.handle(handle);
    if (node.kind !== 'file') throw new ShareError(ERRNO.EISDIR);
    node.atimeMs = Date.now();
    if (offset >= node.size) return new Uint8Array(0);
    return node.data.slice(offset, Math.min(node.size, offset + length));
  }

  write(handle: number, offset: number, data: Uint8Array): number {
    this.writable();
    const { node, flags } = this.handle(handle);
    if (node.kind !== 'file') throw new ShareError(ERRNO.EISDIR);
    if ((flags & O_ACCMODE) === 0) throw new ShareError(ERRNO.EBADF);
    const at = (flags & O_APPEND) !== 0 ? node.size : offset;
    if (at + data.length > node.size) this.resize(node, at + data.length);
    node.data.set(data, at);
    node.mtimeMs = Date.now();
    return data.length;
  }

  fsync(handle: number): void {
    this.handle(handle);
  }

  close(handle: number): void {
    this.handles.delete(handle);
  }

  mkdir(dir: readonly string[], name: string, mode: number): void {
    this.writable();
    this.add(this.dir(dir), name, this.node('dir', mode & 0o777));
  }

  symlink(dir: readonly string[], name: string, target: string): void {
    this.writable();
    const n = this.node('symlink', 0o777);
    n.target = target;
    this.add(this.dir(dir), name, n);
  }

  readlink(path: readonly string[]): string {
    const n = this.lookup(path);
    if (n.kind !== 'symlink') throw new ShareError(ERRNO.EINVAL);
    return n.target!;
  }

  link(dir: readonly string[], name: string, existing: readonly string[]): void {
    this.writable();
    const n = this.lookup(existing);
    if (n.kind === 'dir') throw new ShareError(ERRNO.EPERM);
    this.add(this.dir(dir), name, n);
    n.nlink++;
  }

  unlink(dir: readonly string[], name: string, isDir: boolean): void {
    this.writable();
    const parent = this.dir(dir);
    const n = parent.children!.get(name);
    if (n === undefined) throw new ShareError(ERRNO.ENOENT);
    if (isDir && n.kind !== 'dir') throw new ShareError(ERRNO.ENOTDIR);
    if (!isDir && n.kind === 'dir') throw new ShareError(ERRNO.EISDIR);
    if (n.kind === 'dir' && n.children!.size > 0) throw new ShareError(ERRNO.ENOTEMPTY);
    parent.children!.delete(name);
    this.entries--;
    n.nlink--;
    if (n.nlink === 0 && n.kind === 'file') this.resize(n, 0);
  }

  rename(fromDir: readonly string[], fromName: string, toDir: readonly string[], toName: string): void {
    this.writable();
    const from = this.dir(fromDir);
    const to = this.dir(toDir);
    const n = from.children!.get(fromName);
    if (n === undefined) throw new ShareError(ERRNO.ENOENT);
    if (n.kind === 'dir' && (this.isInside(to, n) || to === n)) throw new ShareError(ERRNO.EINVAL);
    const old = to.children!.get(toName);
    if (old !== undefined && old !== n) {
      if (old.kind === 'dir' && (n.kind !== 'dir' || old.children!.size > 0)) throw new ShareError(old.kind === 'dir' && n.kind === 'dir' ? ERRNO.ENOTEMPTY : ERRNO.EISDIR);
      if (old.kind !== 'dir' && n.kind === 'dir') throw new ShareError(ERRNO.ENOTDIR);
      this.unlink(toDir, toName, old.kind === 'dir');
    }
    from.children!.delete(fromName);
    to.children!.set(toName, n);
  }

  /** True when `dir` lies somewhere below `ancestor` (a folder cannot move into itself). */
  private isInside(dir: Node, ancestor: Node): boolean {
    const stack = [ancestor];
    while (stack.length > 0) {
      const d = stack.pop()!;
      for (const c of d.children!.values()) {
        if (c === dir) return true;
        if (c.kind === 'dir') stack.push(c);
      }
    }
    return false;
  }

  setattr(path: readonly string[], change: { mode?: number; size?: number; atimeMs?: number; mtimeMs?: number }): void {
    this.writable();
    const n = this.lookup(path);
    if (change.mode !== undefined && n.kind !== 'symlink') n.mode = change.mode & 0o777;
    if (change.size !== undefined) {
      if (n.kind !== 'file') throw new ShareError(n.kind === 'dir' ? ERRNO.EISDIR : ERRNO.EINVAL);
      this.resize(n, change.size);
    }
    if (change.atimeMs !== undefined) n.atimeMs = change.atimeMs;
    if (change.mtimeMs !== undefined) n.mtimeMs = change.mtimeMs;
    n.ctimeMs = Date.now();
  }

  statfs(): ShareStatfs {
    const bsize = 4096;
    const blocks = Math.ceil(this.limits.maxBytes / bsize);
    const free = Math.max(0, blocks - Math.ceil(this.bytes / bsize));
    return { bsize, blocks, bfree: free, bavail: free, files: this.limits.maxEntries, ffree: this.limits.maxEntries - this.entries };
  }

  // --- the host side's own access (the page's upload and download) ---------------------------

  /**
   * Writes a whole file from the host (creating folders on the way). Bounded like the guest's
   * writes; every name must be one path element (isShareName), else EINVAL: a host-side name
   * such as `..` or `a/b` never becomes an entry.
   */
  putFile(path: readonly string[], data: Uint8Array, mode = 0o644): void {
    if (path.length === 0 || !path.every(isShareName)) throw new ShareError(ERRNO.EINVAL);
    if (this.readOnly) throw new ShareError(ERRNO.EROFS);
    let dir = this.rootNode;
    for (const name of path.slice(0, -1)) {
      let next = dir.children!.get(name);
      if (next === undefined) {
        next = this.node('dir', 0o755);
        this.add(dir, name, next);
      }
      if (next.kind !== 'dir') throw new ShareError(ERRNO.ENOTDIR);
      dir = next;
    }
    const name = path[path.length - 1];
    let n = dir.children!.get(name);
    if (n === undefined) {
      n = this.node('file', mode);
      this.add(dir, name, n);
    }
    if (n.kind !== 'file') throw new ShareError(ERRNO.EISDIR);
    this.resize(n, 0);
    this.resize(n, data.length);
    n.data.set(data);
    n.mtimeMs = Date.now();
  }

  /** The contents of a file, for the host. */
  getFile(path: readonly string[]): Uint8Array {
    const n = this.lookup(path);
    if (n.kind !== 'file') throw new ShareError(ERRNO.EISDIR);
    return n.data.slice(0, n.size);
  }

  /** Removes `path` and everything below it, from the host (the page cleaning up a transfer). */
  removeTree(path: readonly string[]): void {
    if (path.length === 0) throw new ShareError(ERRNO.EBUSY);
    const parent = this.dir(path.slice(0, -1));
    const name = path[path.length - 1];
    const n = parent.children!.get(name);
    if (n === undefined) return;
    const drop = (node: Node) => {
      if (node.kind === 'dir') for (const c of node.children!.values()) drop(c);
      this.entries--;
      node.nlink--;
      if (node.kind === 'file' && node.nlink === 0) this.resize(node, 0);
    };
    drop(n);
    parent.children!.delete(name);
    parent.mtimeMs = Date.now();
  }
}
