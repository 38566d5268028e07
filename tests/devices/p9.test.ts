// The 9p server over a real host folder: what a guest's v9fs does (attach, walk, create, write,
// read, readdir, rename, unlink), and what a hostile guest tries (climbing out with '..', names
// with '/', symlinks to outside, FIFOs, fid floods, garbage messages). Also through the
// virtio-mmio transport, and the fid table through save/load.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ERRNO } from '../../src/devices/backends/file-share.js';
import { NodeFileShare } from '../../src/devices/backends/node-file-share.js';
import { MemoryFileShare } from '../../src/devices/backends/memory-file-share.js';
import { tarFromShare } from '../../src/devices/backends/share-tar.js';
import { EXCHANGE_MAX_BYTES, EXCHANGE_MAX_ENTRIES, newExchangeShare, putExchangeFiles, takeFromExchange } from '../../src/worker/file-exchange.js';
import { P9Server, T } from '../../src/devices/p9/server.js';
import { P9Reader, P9Writer } from '../../src/devices/p9/wire.js';
import { ArrayGuestMemory } from '../../src/devices/guest-memory.js';
import { VirtioMmioTransport, REG } from '../../src/devices/virtio/mmio-transport.js';
import { VirtioP9, VIRTIO_9P_MOUNT_TAG } from '../../src/devices/virtio/p9.js';
import { VIRTIO_F_VERSION_1 } from '../../src/devices/virtio/device.js';
import { TestIrq, TestVirtioDriver } from './helpers/virtio-driver.js';

const O_RDONLY = 0, O_RDWR = 2, O_CREAT = 0o100, O_TRUNC = 0o1000;
const ROOM = 1 << 20;

/** A tiny 9P client: builds T-messages, checks the reply type, returns a reader over the body. */
class Client {
  private tag = 1;
  constructor(readonly server: P9Server) {}

  call(type: number, build: (w: P9Writer) => void): P9Reader {
    const r = this.raw(type, build);
    const rtype = r.u8();
    r.u16();
    if (rtype === T.lerror + 1) throw Object.assign(new Error(`errno ${r.u32()}`), { errno: -1 });
    expect(rtype).toBe(type + 1);
    return r;
  }

  /** Expects an Rlerror; returns its errno. */
  errno(type: number, build: (w: P9Writer) => void): number {
    const r = this.raw(type, build);
    expect(r.u8()).toBe(T.lerror + 1);
    r.u16();
    return r.u32();
  }

  private raw(type: number, build: (w: P9Writer) => void): P9Reader {
    const w = new P9Writer(type, this.tag++);
    build(w);
    const reply = this.server.handle(w.finish(), ROOM);
    const r = new P9Reader(reply);
    expect(r.u32()).toBe(reply.length);
    return r;
  }

  start(): void {
    const r = this.call(T.version, (w) => w.u32(65536).str('9P2000.L'));
    expect(r.u32()).toBe(65536);
    expect(r.str()).toBe('9P2000.L');
    this.call(T.attach, (w) => w.u32(0).u32(0xffffffff).str('root').str('').u32(0));
  }

  walk(fid: number, newfid: number, ...names: string[]): number {
    const r = this.call(T.walk, (w) => {
      w.u32(fid).u32(newfid).u16(names.length);
      for (const n of names) w.str(n);
    });
    return r.u16();
  }

  create(dirFid: number, name: string, flags = O_RDWR | O_CREAT): void {
    this.call(T.lcreate, (w) => w.u32(dirFid).str(name).u32(flags).u32(0o644).u32(0));
  }

  write(fid: number, offset: number, data: Uint8Array): number {
    return this.call(T.write, (w) => w.u32(fid).u64(offset).u32(data.length).raw(data)).u32();
  }

  read(fid: number, offset: number, count: number): Uint8Array {
    const r = this.call(T.read, (w) => w.u32(fid).u64(offset).u32(count));
    return r.bytesOf(r.u32()).slice();
  }

  open(fid: number, flags: number): void {
    this.call(T.lopen, (w) => w.u32(fid).u32(flags));
  }

  clunk(fid: number): void {
    this.call(T.clunk, (w) => w.u32(fid));
  }

  readdir(fid: number): string[] {
    const names: string[] = [];
    let offset = 0;
    for (;;) {
      const r = this.call(T.readdir, (w) => w.u32(fid).u64(offset).u32(200));
      const count = r.u32();
      if (count === 0) return names;
      const body = new P9Reader(r.bytesOf(count));
      let used = 0;
      while (used < count) {
        body.bytesOf(13);
        offset = Number(body.u64());
        body.u8();
        const name = body.str();
        names.push(name);
        used += 13 + 8 + 1 + 2 + new TextEncoder().encode(name).length;
      }
    }
  }

  /** The qid path of `fid` (from Rgetattr). */
  ino(fid: number): bigint {
    const r = this.call(T.getattr, (w) => w.u32(fid).u64(0x7ff));
    r.u64();
    r.u8();
    r.u32();
    return r.u64();
  }
}

const text = (s: string) => new TextEncoder().encode(s);

describe('9p server over a host folder', () => {
  let top: string;
  let root: string;
  let outside: string;

  beforeEach(() => {
    top = mkdtempSync(join(tmpdir(), 'tv-p9-'));
    root = join(top, 'share');
    outside = join(top, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'host secret');
    writeFileSync(join(root, 'hello.txt'), 'hello from the host');
  });
  afterEach(() => rmSync(top, { recursive: true, force: true }));

  function client(readOnly = false): Client {
    const c = new Client(new P9Server(new NodeFileShare(root, readOnly)));
    c.start();
    return c;
  }

  it('reads a host file, creates, writes and renames files, lists and removes them', () => {
    const c = client();
    expect(c.walk(0, 1, 'hello.txt')).toBe(1);
    c.open(1, O_RDONLY);
    expect(new TextDecoder().decode(c.read(1, 0, 4096))).toBe('hello from the host');
    c.clunk(1);

    c.call(T.mkdir, (w) => w.u32(0).str('dir').u32(0o755).u32(0));
    expect(c.walk(0, 2, 'dir')).toBe(1);
    c.create(2, 'new.bin');
    const data = Uint8Array.from({ length: 10000 }, (_, i) => (i * 31) & 0xff);
    expect(c.write(2, 0, data)).toBe(data.length);
    c.call(T.fsync, (w) => w.u32(2).u32(0));
    c.clunk(2);
    expect(readFileSync(join(root, 'dir', 'new.bin'))).toEqual(Buffer.from(data));

    c.walk(0, 3, 'dir');
    c.call(T.renameat, (w) => w.u32(3).str('new.bin').u32(0).str('moved.bin'));
    expect(existsSync(join(root, 'moved.bin'))).toBe(true);
    c.walk(0, 4);
    c.open(4, O_RDONLY);
    expect(c.readdir(4).sort()).toEqual(['.', '..', 'dir', 'hello.txt', 'moved.bin']);
    c.call(T.unlinkat, (w) => w.u32(0).str('moved.bin').u32(0));
    c.call(T.unlinkat, (w) => w.u32(0).str('dir').u32(0x200));
    expect(existsSync(join(root, 'moved.bin'))).toBe(false);
    expect(existsSync(join(root, 'dir'))).toBe(false);
  });

  it('never leaves the share: .., slashes, symlinks to outside, absolute targets', () => {
    const c = client();
    const rootIno = c.ino(0);
    // '..' at the root stays at the root.
    expect(c.walk(0, 1, '..', '..', '..')).toBe(3);
    expect(c.ino(1)).toBe(rootIno);
    // A name with a slash or NUL is refused, as is creating '..'.
    expect(c.errno(T.walk, (w) => w.u32(0).u32(2).u16(1).str('../outside'))).toBe(ERRNO.EINVAL);
    expect(c.errno(T.lcreate, (w) => w.u32(0).str('..').u32(O_RDWR | O_CREAT).u32(0o644).u32(0))).toBe(ERRNO.EINVAL);
    expect(c.errno(T.mkdir, (w) => w.u32(0).str('a/b').u32(0o755).u32(0))).toBe(ERRNO.EINVAL);
    // A host symlink to outside: the guest sees a link, cannot walk through it or open it.
    symlinkSync(outside, join(root, 'escape'));
    symlinkSync(join(outside, 'secret'), join(root, 'secret-link'));
    expect(c.walk(0, 3, 'escape')).toBe(1);
    expect(c.errno(T.walk, (w) => w.u32(3).u32(4).u16(1).str('secret'))).toBe(ERRNO.ENOTDIR);
    // A walk through it stops at the link (a partial Rwalk) and makes no new fid.
    expect(c.walk(0, 4, 'escape', 'secret')).toBe(1);
    expect(c.errno(T.getattr, (w) => w.u32(4).u64(0x7ff))).toBe(ERRNO.EBADF);
    c.walk(0, 5, 'secret-link');
    expect(c.errno(T.lopen, (w) => w.u32(5).u32(O_RDWR))).toBe(ERRNO.ELOOP);
    expect(c.errno(T.lcreate, (w) => w.u32(3).str('planted').u32(O_RDWR | O_CREAT).u32(0o644).u32(0))).not.toBe(0);
    expect(c.errno(T.setattr, (w) => w.u32(5).u32(0x8).u32(0).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0))).toBe(ERRNO.EINVAL);
    // A symlink the guest makes is stored as text and never followed by the host.
    c.call(T.symlink, (w) => w.u32(0).str('pw').str('/etc/passwd').u32(0));
    c.walk(0, 6, 'pw');
    expect(c.call(T.readlink, (w) => w.u32(6)).str()).toBe('/etc/passwd');
    expect(c.errno(T.lopen, (w) => w.u32(6).u32(O_RDONLY))).toBe(ERRNO.ELOOP);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host secret');
    expect(existsSync(join(outside, 'planted'))).toBe(false);
  });

  it('does not block on a FIFO or open device nodes in the share', () => {
    execFileSync('mkfifo', [join(root, 'fifo')]);
    const c = client();
    c.walk(0, 1, 'fifo');
    expect(c.errno(T.lopen, (w) => w.u32(1).u32(O_RDONLY))).toBe(ERRNO.EACCES);
    expect(c.errno(T.mknod, (w) => w.u32(0).str('dev').u32(0o20644).u32(1).u32(3).u32(0))).toBe(ERRNO.EPERM);
  });

  it('a read-only share refuses every change with EROFS and still reads', () => {
    const c = client(true);
    c.walk(0, 1, 'hello.txt');
    expect(c.errno(T.lopen, (w) => w.u32(1).u32(O_RDWR))).toBe(ERRNO.EROFS);
    c.walk(0, 2, 'hello.txt');
    expect(c.errno(T.lopen, (w) => w.u32(2).u32(O_RDONLY | O_TRUNC))).toBe(ERRNO.EROFS);
    c.open(2, O_RDONLY);
    expect(c.read(2, 0, 5)).toEqual(text('hello'));
    expect(c.errno(T.lcreate, (w) => w.u32(0).str('x').u32(O_RDWR | O_CREAT).u32(0o644).u32(0))).toBe(ERRNO.EROFS);
    expect(c.errno(T.mkdir, (w) => w.u32(0).str('d').u32(0o755).u32(0))).toBe(ERRNO.EROFS);
    expect(c.errno(T.unlinkat, (w) => w.u32(0).str('hello.txt').u32(0))).toBe(ERRNO.EROFS);
    expect(readFileSync(join(root, 'hello.txt'), 'utf8')).toBe('hello from the host');
  });

  it('bounds fids, walk lengths and I/O sizes', () => {
    const c = client();
    let refused = 0;
    for (let fid = 1; fid <= 4200; fid++) {
      const r = new P9Writer(T.walk, 7).u32(0).u32(fid).u16(0).finish();
      const reply = c.server.handle(r, ROOM);
      if (reply[4] === T.lerror + 1) refused++;
    }
    expect(refused).toBe(4200 - 4095);
    expect(c.errno(T.walk, (w) => {
      w.u32(0).u32(9000).u16(17);
      for (let i = 0; i < 17; i++) w.str('a');
    })).toBe(ERRNO.EINVAL);
    // A write larger than msize allows is refused, not buffered.
    c.clunk(1);
    c.walk(0, 1);
    c.create(1, 'big');
    expect(c.errno(T.write, (w) => w.u32(1).u64(0).u32(70000).raw(new Uint8Array(70000)))).toBe(ERRNO.EINVAL);
    // A reply never exceeds the room the guest gave.
    const req = new P9Writer(T.read, 3).u32(1).u64(0).u32(60000).finish();
    expect(c.server.handle(req, 100).length).toBeLessThanOrEqual(100);
  });

  it('answers garbage with Rlerror and never throws (seeded random messages)', () => {
    const c = client();
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    const types = Object.values(T);
    for (let i = 0; i < 3000; i++) {
      const len = 7 + (rnd() % 64);
      const msg = Uint8Array.from({ length: len }, rnd);
      new DataView(msg.buffer).setUint32(0, i % 5 === 0 ? rnd() * 1000 : len, true);
      msg[4] = i % 3 === 0 ? rnd() : types[rnd() % types.length];
      if (msg[4] === T.version) continue; // would reset the session; tested above
      const reply = c.server.handle(msg, 4096);
      expect(reply.length).toBeGreaterThanOrEqual(7);
      expect(reply.length).toBeLessThanOrEqual(4096);
    }
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host secret');
    expect(readFileSync(join(root, 'hello.txt'), 'utf8')).toBe('hello from the host');
  });

  it('keeps open fids through saveState/loadState (reopened on the host)', () => {
    const share = new NodeFileShare(root);
    const c = new Client(new P9Server(share));
    c.start();
    c.walk(0, 1, 'hello.txt');
    c.open(1, O_RDONLY);
    const saved = JSON.parse(JSON.stringify(c.server.saveState()));
    const d = new Client(new P9Server(new NodeFileShare(root)));
    d.server.loadState(saved);
    expect(new TextDecoder().decode(d.read(1, 6, 4))).toBe('from');
    expect(() => d.server.loadState({ ...saved, fids: [{ id: 1, path: ['..'], opened: false, flags: null }] })).toThrow();
  });
});

describe('virtio-9p through the virtio-mmio transport', () => {
  it('offers the mount tag and answers a Tversion in the reply buffer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-p9-'));
    try {
      const dev = new VirtioP9(new NodeFileShare(dir), 'hostshare');
      const mem = new ArrayGuestMemory(4 << 20);
      const t = new VirtioMmioTransport(dev, mem, new TestIrq());
      const drv = new TestVirtioDriver(t, mem);
      expect(drv.deviceFeatures() & VIRTIO_9P_MOUNT_TAG).toBe(VIRTIO_9P_MOUNT_TAG);
      drv.init(1, VIRTIO_F_VERSION_1 | VIRTIO_9P_MOUNT_TAG);
      expect(t.read(REG.Config, 2)).toBe(9);
      const tag = [...Array(9)].map((_, i) => t.read(REG.Config + 2 + i, 1) as number);
      expect(String.fromCharCode(...tag)).toBe('hostshare');

      const req = new P9Writer(T.version, 0xffff).u32(8192).str('9P2000.L').finish();
      const out = drv.alloc.alloc(req.length);
      mem.write(out, req);
      const back = drv.alloc.alloc(64);
      drv.post(0, [{ addr: out, len: req.length } as never, { addr: back, len: 64, write: true } as never]);
      drv.notify(0);
      const used = drv.takeUsed(0);
      expect(used.length).toBe(1);
      const r = new P9Reader(mem.read(back, used[0].len));
      r.u32();
      expect(r.u8()).toBe(T.version + 1);
      r.u16();
      expect(r.u32()).toBe(8192);
      expect(r.str()).toBe('9P2000.L');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('9p server over a memory share (the page exchange folder)', () => {
  function client(share: MemoryFileShare): Client {
    const c = new Client(new P9Server(share));
    c.start();
    return c;
  }

  it('files the host puts are seen by the guest and files the guest writes are read by the host', () => {
    const share = new MemoryFileShare();
    share.putFile(['upload', 'notes.txt'], text('from the user'));
    const c = client(share);
    expect(c.walk(0, 1, 'upload', 'notes.txt')).toBe(2);
    c.open(1, O_RDONLY);
    expect(new TextDecoder().decode(c.read(1, 0, 100))).toBe('from the user');
    c.walk(0, 2, 'upload');
    c.create(2, 'result.txt');
    c.write(2, 0, text('guest output'));
    c.call(T.setattr, (w) => w.u32(2).u32(0x8).u32(0).u32(0).u32(0).u64(5).u64(0).u64(0).u64(0).u64(0));
    expect(new TextDecoder().decode(share.getFile(['upload', 'result.txt']))).toBe('guest');
    c.walk(0, 3, 'upload');
    c.open(3, O_RDONLY);
    expect(c.readdir(3).sort()).toEqual(['.', '..', 'notes.txt', 'result.txt']);
    c.call(T.renameat, (w) => w.u32(3).str('result.txt').u32(0).str('top.txt'));
    expect(share.getFile(['top.txt'])).toEqual(text('guest'));
    expect(c.errno(T.renameat, (w) => w.u32(0).str('upload').u32(3).str('inside'))).toBe(ERRNO.EINVAL);
  });

  it('holds the guest to its byte and entry limits (ENOSPC), and frees bytes on unlink', () => {
    const share = new MemoryFileShare(false, { maxBytes: 64 * 1024, maxEntries: 10 });
    const c = client(share);
    c.walk(0, 1);
    c.create(1, 'big');
    expect(c.write(1, 0, new Uint8Array(60000))).toBe(60000);
    expect(c.errno(T.write, (w) => w.u32(1).u64(60000).u32(8000).raw(new Uint8Array(8000)))).toBe(ERRNO.ENOSPC);
    // A sparse write far out is refused too, not allocated.
    expect(c.errno(T.write, (w) => w.u32(1).u64(1e12).u32(1).raw(new Uint8Array(1)))).toBe(ERRNO.ENOSPC);
    c.clunk(1);
    c.call(T.unlinkat, (w) => w.u32(0).str('big').u32(0));
    expect(share.usedBytes).toBe(0);
    let made = 0;
    for (let i = 0; i < 20; i++) {
      const r = new P9Writer(T.mkdir, 9).u32(0).str(`d${i}`).u32(0o755).u32(0).finish();
      if (c.server.handle(r, ROOM)[4] === T.mkdir + 1) made++;
    }
    expect(made).toBe(10);
  });
});

describe('the page exchange folder against a hostile guest or a hostile drop', () => {
  function client(share: MemoryFileShare): Client {
    const c = new Client(new P9Server(share));
    c.start();
    return c;
  }

  it('never leaves its root: .., slashes, NUL, symlinks with outside or absolute targets', () => {
    const share = new MemoryFileShare();
    share.putFile(['upload', 'a.txt'], text('a'));
    const c = client(share);
    const rootIno = c.ino(0);
    expect(c.walk(0, 1, 'upload', '..', '..', '..')).toBe(4);
    expect(c.ino(1)).toBe(rootIno);
    expect(c.errno(T.walk, (w) => w.u32(0).u32(2).u16(1).str('../etc'))).toBe(ERRNO.EINVAL);
    expect(c.errno(T.walk, (w) => w.u32(0).u32(2).u16(1).str('up\0load'))).toBe(ERRNO.EINVAL);
    for (const bad of ['..', '.', 'a/b', '/abs', '']) {
      expect(c.errno(T.lcreate, (w) => w.u32(0).str(bad).u32(O_RDWR | O_CREAT).u32(0o644).u32(0)), bad).toBe(ERRNO.EINVAL);
      expect(c.errno(T.mkdir, (w) => w.u32(0).str(bad).u32(0o755).u32(0)), bad).toBe(ERRNO.EINVAL);
      expect(c.errno(T.renameat, (w) => w.u32(0).str('upload').u32(0).str(bad)), bad).toBe(ERRNO.EINVAL);
    }
    expect(c.errno(T.lcreate, (w) => w.u32(0).str('n'.repeat(256)).u32(O_RDWR | O_CREAT).u32(0o644).u32(0))).toBe(ERRNO.ENAMETOOLONG);
    // Guest symlinks are text: the share never follows them, a walk stops at them.
    c.call(T.symlink, (w) => w.u32(0).str('up').str('/etc').u32(0));
    c.call(T.symlink, (w) => w.u32(0).str('back').str('../../..').u32(0));
    expect(c.walk(0, 3, 'up', 'passwd')).toBe(1);
    c.walk(0, 4, 'back');
    expect(c.errno(T.lopen, (w) => w.u32(4).u32(O_RDONLY))).toBe(ERRNO.ELOOP);
    expect(c.errno(T.lcreate, (w) => w.u32(4).str('x').u32(O_RDWR | O_CREAT).u32(0o644).u32(0))).toBe(ERRNO.ENOTDIR);
    // A folder cannot move below itself.
    c.walk(0, 5, 'upload');
    expect(c.errno(T.rename, (w) => w.u32(5).u32(5).str('inner'))).toBe(ERRNO.EINVAL);
    expect(share.readdir([]).map((e) => e.name).sort()).toEqual(['back', 'up', 'upload']);
  });

  it('refuses host-side (dropped) names that are not one path element, and stays unchanged', () => {
    const share = new MemoryFileShare();
    for (const bad of [['..'], ['.'], ['a/b'], ['ok', '..', 'x'], [''], ['n\0ul'], ['x'.repeat(256)], []]) {
      expect(() => share.putFile(bad, text('x')), JSON.stringify(bad)).toThrow(expect.objectContaining({ errno: ERRNO.EINVAL }));
    }
    expect(share.readdir([])).toEqual([]);
    expect(() => new MemoryFileShare(true).putFile(['a'], text('x'))).toThrow(expect.objectContaining({ errno: ERRNO.EROFS }));
    expect(() => putExchangeFiles(share, ['.tv-up-1'], [{ name: '../../etc/passwd', bytes: text('x') }])).toThrow(/not a usable file name/);
    expect(share.readdir([])).toEqual([]);
  });

  it('bounds a drop and the guest by bytes and entries: all or none, and removeTree frees them', () => {
    const share = newExchangeShare();
    const big = new Uint8Array(EXCHANGE_MAX_BYTES / 2);
    putExchangeFiles(share, ['d1'], [{ name: 'a', bytes: big }]);
    // A second drop that does not fit is refused whole: nothing of it stays.
    expect(() => putExchangeFiles(share, ['d2'], [{ name: 'b', bytes: new Uint8Array(1) }, { name: 'c', bytes: big }])).toThrow(/do not fit/);
    expect(share.readdir([]).map((e) => e.name)).toEqual(['d1']);
    // The guest cannot fill the rest and more either.
    const c = client(share);
    c.walk(0, 1);
    c.create(1, 'fill');
    const chunk = new Uint8Array(60000);
    let errno = 0;
    for (let off = 0; errno === 0 && off < EXCHANGE_MAX_BYTES; off += chunk.length) {
      const reply = c.server.handle(new P9Writer(T.write, 5).u32(1).u64(off).u32(chunk.length).raw(chunk).finish(), ROOM);
      if (reply[4] === T.lerror + 1) errno = new DataView(reply.buffer, reply.byteOffset).getUint32(7, true);
    }
    expect(errno).toBe(ERRNO.ENOSPC);
    expect(share.usedBytes).toBeLessThanOrEqual(EXCHANGE_MAX_BYTES);
    c.clunk(1);
    share.removeTree(['d1']);
    share.removeTree(['fill']);
    expect(share.usedBytes).toBe(0);
    expect(share.statfs().ffree).toBe(EXCHANGE_MAX_ENTRIES);
    // Taking out: a file as it is, a folder as a tar, a link or a missing path refused in one line.
    share.putFile(['out', 'f.txt'], text('F'));
    share.symlink(['out'], 'ln', '/etc/passwd');
    expect(takeFromExchange(share, ['out', 'f.txt'])).toEqual({ kind: 'file', bytes: text('F') });
    expect(takeFromExchange(share, ['out']).kind).toBe('tar');
    expect(() => takeFromExchange(share, ['out', 'ln'])).toThrow(/not a link/);
    expect(() => takeFromExchange(share, ['nope'])).toThrow(/no such file or folder/);
  });
});

describe('a share folder as a tar archive (download a folder)', () => {
  it('is read back by the system tar with the same contents', () => {
    const share = new MemoryFileShare();
    share.putFile(['out', 'a.txt'], text('alpha'));
    share.putFile(['out', 'sub', 'b.bin'], Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff));
    share.putFile(['out', `${'long-name-'.repeat(12)}/c.txt`.split('/')[0], 'c.txt'], text('deep'));
    share.symlink(['out'], 'link', 'a.txt');
    const dir = mkdtempSync(join(tmpdir(), 'tv-tar-'));
    try {
      writeFileSync(join(dir, 'x.tar'), tarFromShare(share, ['out']));
      execFileSync('tar', ['-xf', 'x.tar'], { cwd: dir });
      expect(readFileSync(join(dir, 'out', 'a.txt'), 'utf8')).toBe('alpha');
      expect(readFileSync(join(dir, 'out', 'sub', 'b.bin'))).toEqual(Buffer.from(share.getFile(['out', 'sub', 'b.bin'])));
      expect(readFileSync(join(dir, 'out', 'long-name-'.repeat(12), 'c.txt'), 'utf8')).toBe('deep');
      expect(readFileSync(join(dir, 'out', 'link'), 'utf8')).toBe('alpha');
      expect(() => tarFromShare(share, ['nothing'])).toThrow(/does not exist/);
      expect(() => tarFromShare(share, ['out'], 2048)).toThrow(/exceed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
