// A 9P2000.L server over a FileShare: takes one request message, returns one reply. It keeps the
// fid table (a fid names a path in the share, and an open file once opened) and checks every
// name the guest sends: no '/', no NUL, no '.' or '..' as a name to create, '..' in a walk never
// climbs above the share's root. Counts are bounded (fids, names per walk, bytes per read/write
// by msize). Anything the guest gets wrong is an Rlerror with a Linux errno, never an exception
// out of handle(). Message layouts: Linux's include/net/9p/9p.h and the 9P2000.L protocol notes.

import {
  ERRNO, O_CREAT, O_EXCL, O_TRUNC, ShareError, type FileShare, type ShareKind, type ShareStat,
} from '../backends/file-share.js';
import { HEADER_BYTES, P9Reader, P9WireError, P9Writer, QID_BYTES, wireStringBytes, type Qid } from './wire.js';

export const T = {
  lerror: 6, statfs: 8, lopen: 12, lcreate: 14, symlink: 16, mknod: 18, rename: 20, readlink: 22,
  getattr: 24, setattr: 26, xattrwalk: 30, xattrcreate: 32, readdir: 40, fsync: 50, lock: 52,
  getlock: 54, link: 70, mkdir: 72, renameat: 74, unlinkat: 76, version: 100, auth: 102, attach: 104,
  flush: 108, walk: 110, read: 116, write: 118, clunk: 120, remove: 122,
} as const;

export const P9_VERSION = '9P2000.L';
/** Largest message we agree to (Linux asks for 512 KiB with virtio in 6.1). */
export const MAX_MSIZE = 512 * 1024;
const MIN_MSIZE = 4096;
const MAX_FIDS = 4096;
/** Twalk carries at most 16 names (MAXWELEM). */
const MAX_WALK = 16;
const MAX_NAME_BYTES = 255;
const MAX_DEPTH = 256;
const NOFID = 0xffffffff;

const QTDIR = 0x80;
const QTSYMLINK = 0x02;
const QTFILE = 0;

const AT_REMOVEDIR = 0x200;

// Tsetattr valid bits.
const SETATTR_MODE = 0x1;
const SETATTR_SIZE = 0x8;
const SETATTR_ATIME = 0x10;
const SETATTR_MTIME = 0x20;
const SETATTR_ATIME_SET = 0x80;
const SETATTR_MTIME_SET = 0x100;

// Rgetattr: the fields we fill (P9_GETATTR_BASIC).
const GETATTR_BASIC = 0x7ff;

interface Fid {
  path: string[];
  handle?: number;
  /** Tlopen/Tlcreate flags, to reopen the file after a restore. */
  flags?: number;
  /** Directory listing taken at the first Treaddir (offset 0), served by index. */
  listing?: { name: string; qid: Qid; type: number }[];
  opened: boolean;
}

export interface P9ServerState {
  msize: number;
  fids: { id: number; path: string[]; opened: boolean; flags: number | null }[];
}

export interface P9Stats {
  requests: number;
  errors: number;
}

export class P9Server {
  readonly stats: P9Stats = { requests: 0, errors: 0 };
  private msize = MIN_MSIZE;
  private readonly fids = new Map<number, Fid>();

  constructor(private readonly share: FileShare) {}

  /** Bytes of payload a Rread may carry, or a Twrite may bring. */
  get ioUnit(): number {
    return this.msize - HEADER_BYTES - 4;
  }

  /** Handles one request; `replyRoom` is how many bytes the guest gave for the reply. */
  handle(request: Uint8Array, replyRoom: number): Uint8Array {
    this.stats.requests++;
    if (request.length < HEADER_BYTES) return this.error(0, ERRNO.EPROTO);
    const r = new P9Reader(request);
    const size = r.u32();
    const type = r.u8();
    const tag = r.u16();
    if (size > request.length || size < HEADER_BYTES) return this.error(tag, ERRNO.EPROTO);
    const body = new P9Reader(request.subarray(HEADER_BYTES, size));
    let reply: Uint8Array;
    try {
      reply = this.dispatch(type, tag, body, replyRoom);
    } catch (err) {
      if (err instanceof ShareError) return this.error(tag, err.errno);
      if (err instanceof P9WireError) return this.error(tag, ERRNO.EINVAL);
      throw err;
    }
    if (reply.length > replyRoom) return this.error(tag, ERRNO.ERANGE);
    return reply;
  }

  /** Forgets every fid and closes their files (device reset, or the VM stops). */
  reset(): void {
    for (const fid of this.fids.values()) if (fid.handle !== undefined) this.share.close(fid.handle);
    this.fids.clear();
    this.msize = MIN_MSIZE;
  }

  /** The fid table as plain data: paths and open flags (host files are reopened on load). */
  saveState(): P9ServerState {
    return {
      msize: this.msize,
      fids: [...this.fids].map(([id, f]) => ({ id, path: f.path.slice(), opened: f.opened, flags: f.flags ?? null })),
    };
  }

  /** Takes a saved fid table; a file that cannot be reopened keeps its fid but reads and writes give EBADF. */
  loadState(s: P9ServerState): void {
    if (!Number.isInteger(s.msize) || s.msize < MIN_MSIZE || s.msize > MAX_MSIZE) throw new Error('9p state: bad msize');
    if (!Array.isArray(s.fids) || s.fids.length > MAX_FIDS) throw new Error('9p state: bad fid table');
    const fids = new Map<number, Fid>();
    for (const e of s.fids) {
      if (typeof e !== 'object' || e === null || typeof e.opened !== 'boolean') throw new Error('9p state: bad fid');
      if (e.flags !== null && e.flags !== undefined && (typeof e.flags !== 'number' || !Number.isInteger(e.flags) || e.flags < 0 || e.flags > 0xffff_ffff)) throw new Error('9p state: bad fid flags');
      if (!Number.isInteger(e.id) || e.id < 0 || e.id >= NOFID || fids.has(e.id)) throw new Error('9p state: bad fid');
      if (!Array.isArray(e.path) || e.path.length > MAX_DEPTH) throw new Error('9p state: bad path');
      for (const name of e.path) {
        if (typeof name !== 'string') throw new Error('9p state: bad path');
        checkName(name);
      }
      fids.set(e.id, { path: e.path.slice(), opened: e.opened === true, flags: typeof e.flags === 'number' ? e.flags : undefined });
    }
    this.reset();
    this.msize = s.msize;
    for (const [id, f] of fids) {
      if (f.opened && f.flags !== undefined) {
        try {
          f.handle = this.share.open(f.path, f.flags & ~(O_CREAT | O_TRUNC | O_EXCL));
        } catch {
          // gone on the host meanwhile: the guest gets EBADF on its next use
        }
      }
      this.fids.set(id, f);
    }
  }

  private error(tag: number, errno: number): Uint8Array {
    this.stats.errors++;
    return new P9Writer(T.lerror + 1, tag).u32(errno).finish();
  }

  private dispatch(type: number, tag: number, r: P9Reader, room: number): Uint8Array {
    const reply = () => new P9Writer(type + 1, tag);
    switch (type) {
      case T.version: {
        const msize = r.u32();
        const version = r.str();
        this.reset();
        this.msize = Math.max(MIN_MSIZE, Math.min(msize, MAX_MSIZE));
        return reply().u32(this.msize).str(version === P9_VERSION ? P9_VERSION : 'unknown').finish();
      }
      case T.auth:
        throw new ShareError(ERRNO.EOPNOTSUPP);
      case T.attach: {
        const fid = r.u32();
        r.u32(); // afid: no authentication
        r.str(); // uname
        r.str(); // aname
        this.addFid(fid, { path: [], opened: false });
        return reply().qid(this.qidOf([])).finish();
      }
      case T.flush:
        r.u16(); // requests are answered at once: nothing is ever in flight
        return reply().finish();
      case T.walk: {
        const fid = this.fid(r.u32());
        const newfid = r.u32();
        const n = r.u16();
        if (n > MAX_WALK) throw new ShareError(ERRNO.EINVAL);
        if (newfid !== fid.id && this.fids.has(newfid)) throw new ShareError(ERRNO.EBADF);
        if (fid.f.opened) throw new ShareError(ERRNO.EBADF);
        const names: string[] = [];
        for (let i = 0; i < n; i++) names.push(r.str());
        let path = fid.f.path.slice();
        const qids: Qid[] = [];
        for (const name of names) {
          let next: string[];
          if (name === '..') next = path.slice(0, -1);
          else if (name === '.' || name === '') next = path;
          else next = [...path, checkName(name)];
          if (next.length > MAX_DEPTH) break;
          let st: ShareStat;
          try {
            if (this.share.stat(path).kind !== 'dir') throw new ShareError(ERRNO.ENOTDIR);
            st = this.share.stat(next);
          } catch (err) {
            if (qids.length === 0) throw err;
            break;
          }
          qids.push(qidFromStat(st));
          path = next;
        }
        if (qids.length === n) this.setFid(newfid, { path, opened: false });
        const w = reply().u16(qids.length);
        for (const q of qids) w.qid(q);
        return w.finish();
      }
      case T.lopen: {
        const { f } = this.fid(r.u32());
        const flags = r.u32();
        if (f.opened) throw new ShareError(ERRNO.EBADF);
        const st = this.share.stat(f.path);
        if (st.kind === 'dir') {
          if ((flags & 3) !== 0) throw new ShareError(ERRNO.EISDIR);
        } else {
          f.handle = this.share.open(f.path, flags & ~O_CREAT);
          f.flags = flags;
        }
        f.opened = true;
        return reply().qid(qidFromStat(st)).u32(this.ioUnit).finish();
      }
      case T.lcreate: {
        const { f } = this.fid(r.u32());
        const name = checkName(r.str());
        const flags = r.u32();
        const mode = r.u32();
        r.u32(); // gid
        if (f.opened) throw new ShareError(ERRNO.EBADF);
        const handle = this.share.create(f.path, name, flags, mode);
        const path = [...f.path, name];
        f.path = path;
        f.handle = handle;
        f.flags = flags;
        f.opened = true;
        return reply().qid(this.qidOf(path)).u32(this.ioUnit).finish();
      }
      case T.read: {
        const { f } = this.fid(r.u32());
        const offset = r.u64n();
        const count = Math.min(r.u32(), this.ioUnit, Math.max(0, room - HEADER_BYTES - 4));
        if (f.handle === undefined) throw new ShareError(ERRNO.EBADF);
        const data = this.share.read(f.handle, offset, count);
        return reply().u32(data.length).raw(data).finish();
      }
      case T.write: {
        const { f } = this.fid(r.u32());
        const offset = r.u64n();
        const count = r.u32();
        if (count > this.ioUnit) throw new ShareError(ERRNO.EINVAL);
        const data = r.bytesOf(count);
        if (f.handle === undefined) throw new ShareError(ERRNO.EBADF);
        return reply().u32(this.share.write(f.handle, offset, data)).finish();
      }
      case T.clunk: {
        const id = r.u32();
        this.fid(id);
        this.dropFid(id);
        return reply().finish();
      }
      case T.remove: {
        const id = r.u32();
        const { f } = this.fid(id);
        this.dropFid(id);
        if (f.path.length === 0) throw new ShareError(ERRNO.EBUSY);
        const st = this.share.stat(f.path);
        this.share.unlink(f.path.slice(0, -1), f.path[f.path.length - 1], st.kind === 'dir');
        return reply().finish();
      }
      case T.getattr: {
        const { f } = this.fid(r.u32());
        r.u64(); // request mask: we always answer the basic set
        const st = this.share.stat(f.path);
        const w = reply().u64(GETATTR_BASIC).qid(qidFromStat(st)).u32(st.mode).u32(st.uid).u32(st.gid)
          .u64(st.nlink).u64(0).u64(st.size).u64(4096).u64(st.blocks);
        for (const ms of [st.atimeMs, st.mtimeMs, st.ctimeMs, 0]) w.u64(Math.floor(ms / 1000)).u64(Math.floor((ms % 1000) * 1e6));
        return w.u64(0).u64(0).finish(); // gen, data_version
      }
      case T.setattr: {
        const { f } = this.fid(r.u32());
        const valid = r.u32();
        const mode = r.u32();
        r.u32(); // uid: ownership stays the host's (documented)
        r.u32(); // gid
        const size = r.u64n();
        const atime = r.u64n() * 1000 + r.u64n() / 1e6;
        const mtime = r.u64n() * 1000 + r.u64n() / 1e6;
        const change: { mode?: number; size?: number; atimeMs?: number; mtimeMs?: number } = {};
        if (valid & SETATTR_MODE) change.mode = mode;
        if (valid & SETATTR_SIZE) change.size = size;
        if (valid & SETATTR_ATIME) change.atimeMs = valid & SETATTR_ATIME_SET ? atime : Date.now();
        if (valid & SETATTR_MTIME) change.mtimeMs = valid & SETATTR_MTIME_SET ? mtime : Date.now();
        if (Object.keys(change).length > 0) this.share.setattr(f.path, change);
        return reply().finish();
      }
      case T.readdir: {
        const { f } = this.fid(r.u32());
        const offset = r.u64n();
        const count = Math.min(r.u32(), this.ioUnit, Math.max(0, room - HEADER_BYTES - 4));
        if (!f.opened || f.handle !== undefined) throw new ShareError(ERRNO.ENOTDIR);
        if (offset === 0 || f.listing === undefined) f.listing = this.listing(f.path);
        const w = reply();
        const sizeAt = w.length;
        w.u32(0);
        let used = 0;
        for (let i = offset; i < f.listing.length; i++) {
          const e = f.listing[i];
          const bytes = QID_BYTES + 8 + 1 + wireStringBytes(e.name);
          if (used + bytes > count) break;
          w.qid(e.qid).u64(i + 1).u8(e.type).str(e.name);
          used += bytes;
        }
        const out = w.finish();
        new DataView(out.buffer, out.byteOffset).setUint32(sizeAt, used, true);
        return out;
      }
      case T.fsync: {
        const { f } = this.fid(r.u32());
        if (f.handle !== undefined) this.share.fsync(f.handle);
        return reply().finish();
      }
      case T.statfs: {
        this.fid(r.u32());
        const s = this.share.statfs();
        return reply().u32(0x01021997).u32(s.bsize).u64(s.blocks).u64(s.bfree).u64(s.bavail)
          .u64(s.files).u64(s.ffree).u64(0).u32(MAX_NAME_BYTES).finish();
      }
      case T.mkdir: {
        const { f } = this.fid(r.u32());
        const name = checkName(r.str());
        const mode = r.u32();
        r.u32(); // gid
        this.share.mkdir(f.path, name, mode);
        return reply().qid(this.qidOf([...f.path, name])).finish();
      }
      case T.symlink: {
        const { f } = this.fid(r.u32());
        const name = checkName(r.str());
        const target = r.str();
        r.u32(); // gid
        if (target.length === 0 || target.includes('\0') || target.length > 4095) throw new ShareError(ERRNO.EINVAL);
        this.share.symlink(f.path, name, target);
        return reply().qid(this.qidOf([...f.path, name])).finish();
      }
      case T.readlink: {
        const { f } = this.fid(r.u32());
        return reply().str(this.share.readlink(f.path)).finish();
      }
      case T.link: {
        const dir = this.fid(r.u32()).f;
        const existing = this.fid(r.u32()).f;
        const name = checkName(r.str());
        this.share.link(dir.path, name, existing.path);
        return reply().finish();
      }
      case T.rename: {
        const { f } = this.fid(r.u32());
        const dir = this.fid(r.u32()).f;
        const name = checkName(r.str());
        if (f.path.length === 0) throw new ShareError(ERRNO.EINVAL);
        this.share.rename(f.path.slice(0, -1), f.path[f.path.length - 1], dir.path, name);
        f.path = [...dir.path, name];
        return reply().finish();
      }
      case T.renameat: {
        const from = this.fid(r.u32()).f;
        const fromName = checkName(r.str());
        const to = this.fid(r.u32()).f;
        const toName = checkName(r.str());
        this.share.rename(from.path, fromName, to.path, toName);
        return reply().finish();
      }
      case T.unlinkat: {
        const { f } = this.fid(r.u32());
        const name = checkName(r.str());
        const flags = r.u32();
        this.share.unlink(f.path, name, (flags & AT_REMOVEDIR) !== 0);
        return reply().finish();
      }
      case T.mknod:
        throw new ShareError(ERRNO.EPERM);
      case T.xattrwalk: {
        this.fid(r.u32());
        r.u32();
        r.str();
        throw new ShareError(ERRNO.ENODATA);
      }
      case T.xattrcreate:
        throw new ShareError(ERRNO.EOPNOTSUPP);
      case T.lock: {
        this.fid(r.u32());
        return reply().u8(0).finish(); // P9_LOCK_SUCCESS: locks are local to the guest
      }
      case T.getlock: {
        this.fid(r.u32());
        r.u8();
        const start = r.u64();
        const length = r.u64();
        const proc = r.u32();
        const client = r.str();
        return reply().u8(2 /* F_UNLCK */).u64(start).u64(length).u32(proc).str(client).finish();
      }
      default:
        throw new ShareError(ERRNO.EOPNOTSUPP);
    }
  }

  private listing(path: string[]): { name: string; qid: Qid; type: number }[] {
    const self = this.share.stat(path);
    if (self.kind !== 'dir') throw new ShareError(ERRNO.ENOTDIR);
    const parent = path.length > 0 ? this.share.stat(path.slice(0, -1)) : self;
    const out = [
      { name: '.', qid: qidFromStat(self), type: direntType('dir') },
      { name: '..', qid: qidFromStat(parent), type: direntType('dir') },
    ];
    for (const e of this.share.readdir(path)) {
      out.push({ name: e.name, qid: { type: qidType(e.kind), version: 0, path: e.ino }, type: direntType(e.kind) });
    }
    return out;
  }

  private qidOf(path: string[]): Qid {
    return qidFromStat(this.share.stat(path));
  }

  private fid(id: number): { id: number; f: Fid } {
    const f = this.fids.get(id);
    if (f === undefined) throw new ShareError(ERRNO.EBADF);
    return { id, f };
  }

  private addFid(id: number, f: Fid): void {
    if (id === NOFID || this.fids.has(id)) throw new ShareError(ERRNO.EBADF);
    this.setFid(id, f);
  }

  private setFid(id: number, f: Fid): void {
    if (id === NOFID) throw new ShareError(ERRNO.EBADF);
    const old = this.fids.get(id);
    if (old === undefined && this.fids.size >= MAX_FIDS) throw new ShareError(ERRNO.EMFILE);
    if (old?.handle !== undefined) this.share.close(old.handle);
    this.fids.set(id, f);
  }

  private dropFid(id: number): void {
    const f = this.fids.get(id);
    if (f?.handle !== undefined) this.share.close(f.handle);
    this.fids.delete(id);
  }
}

/** A name the guest wants to create or look up in a folder: one path element, never a way out. */
function checkName(name: string): string {
  if (name.length === 0 || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new ShareError(ERRNO.EINVAL);
  }
  if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) throw new ShareError(ERRNO.ENAMETOOLONG);
  return name;
}

function qidType(kind: ShareKind): number {
  return kind === 'dir' ? QTDIR : kind === 'symlink' ? QTSYMLINK : QTFILE;
}

function qidFromStat(st: ShareStat): Qid {
  return { type: qidType(st.kind), version: Math.floor(st.mtimeMs) >>> 0, path: st.ino };
}

/** d_type of a directory entry (DT_DIR 4, DT_REG 8, DT_LNK 10, DT_UNKNOWN 0). */
function direntType(kind: ShareKind): number {
  return kind === 'dir' ? 4 : kind === 'file' ? 8 : kind === 'symlink' ? 10 : 0;
}

