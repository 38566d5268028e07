// `tabvisor run --share DIR [--share-ro]` (a host folder at /mnt/host over virtio-9p) and
// `--net-listen` / `--net-connect` (two processes on one wire), with the riscv64 image.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDistBuilt } from './build-dist.js';
import { runTabvisor } from './run-tabvisor.js';

let dir: string;
let share: string;

beforeAll(() => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tv-share-'));
  share = join(dir, 'share');
  mkdirSync(share);
  mkdirSync(join(dir, 'outside'));
  writeFileSync(join(dir, 'outside', 'secret'), 'host secret\n');
  writeFileSync(join(share, 'hello.txt'), 'hello from the host\n');
  symlinkSync(join(dir, 'outside'), join(share, 'way-out'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tabvisor run --share', () => {
  it('mounts the folder at /mnt/host: the guest reads and writes it, and cannot leave it', async () => {
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--image', 'riscv64-busybox', '--share', share, '--timeout', '240'],
      input: 'cat /mnt/host/hello.txt\necho from-guest > /mnt/host/out.txt\ncat /mnt/host/way-out/secret || echo NO-WAY-OUT\nsync\npoweroff -f\n',
      guardMs: 300_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello from the host');
    expect(r.stdout).toContain('NO-WAY-OUT');
    expect(r.stdout).not.toContain('host secret');
    expect(readFileSync(join(share, 'out.txt'), 'utf8')).toBe('from-guest\n');
  });

  it('--share-ro lets the guest read but not write', async () => {
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--image', 'riscv64-busybox', '--share', share, '--share-ro', '--timeout', '240'],
      input: 'cat /mnt/host/hello.txt\necho x > /mnt/host/ro.txt || echo WRITE-REFUSED\npoweroff -f\n',
      guardMs: 300_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello from the host');
    expect(r.stdout).toContain('WRITE-REFUSED');
    expect(existsSync(join(share, 'ro.txt'))).toBe(false);
  });

  it('refuses a share that is not a folder with one line', async () => {
    const r = await runTabvisor({ cwd: dir, args: ['run', '--image', 'riscv64-busybox', '--share', join(share, 'hello.txt')], input: '' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tabvisor: --share: .*is not a folder/)]);
  });
});

describe('tabvisor run --engine v86 --share (x86: v86\'s virtio-9p, tag host9p)', () => {
  it('mounts the folder at /mnt/host read-write: the guest reads, writes, and cannot leave it', async () => {
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--engine', 'v86', '--image', 'x86-busybox', '--share', share, '--timeout', '240'],
      input: 'grep " /mnt/host 9p " /proc/mounts\ncat /mnt/host/hello.txt\nmkdir -p /mnt/host/x86dir\n' +
        'echo from-x86 > /mnt/host/x86dir/out.txt\ndd if=/dev/zero bs=1024 count=700 2>/dev/null | tr "\\0" "z" > /mnt/host/x86dir/big\n' +
        'stat -c %s /mnt/host/x86dir/big\ncat /mnt/host/way-out/secret || echo NO-WAY-OUT\nsync\npoweroff -f\n',
      guardMs: 300_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/host9p \/mnt\/host 9p rw/);
    expect(r.stdout).toContain('hello from the host');
    expect(r.stdout).toContain('716800');
    expect(r.stdout).toContain('NO-WAY-OUT');
    expect(r.stdout).not.toContain('host secret');
    expect(readFileSync(join(share, 'x86dir', 'out.txt'), 'utf8')).toBe('from-x86\n');
    expect(readFileSync(join(share, 'x86dir', 'big'), 'latin1')).toBe('z'.repeat(716800));
  });

  it('--share-ro lets the x86 guest read but not write', async () => {
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--engine', 'v86', '--image', 'x86-busybox', '--share', share, '--share-ro', '--timeout', '240'],
      input: 'cat /mnt/host/hello.txt\necho x > /mnt/host/ro.txt || echo WRITE-REFUSED\npoweroff -f\n',
      guardMs: 300_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello from the host');
    expect(r.stdout).toContain('WRITE-REFUSED');
    expect(existsSync(join(share, 'ro.txt'))).toBe(false);
  });

  it('a snapshot keeps the mounted share: after --restore --share the guest still reads and writes it', async () => {
    const snap = join(dir, 'x86-share.tvsnap');
    const saved = await runTabvisor({
      cwd: dir,
      args: ['run', '--image', 'x86-busybox', '--share', share, '--snapshot-out', snap, '--timeout', '240'],
      input: 'cd /mnt/host\nls\npoweroff -f\n',
      guardMs: 300_000,
    });
    expect(saved.code, saved.stderr).toBe(0);
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--restore', snap, '--share', share, '--timeout', '240'],
      input: 'cat /mnt/host/hello.txt\necho after-restore > /mnt/host/restored.txt\nsync\npoweroff -f\n',
      guardMs: 300_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello from the host');
    expect(readFileSync(join(share, 'restored.txt'), 'utf8')).toBe('after-restore\n');
    const without = await runTabvisor({ cwd: dir, args: ['run', '--restore', snap, '--timeout', '60'], input: '' });
    expect(without.code).toBe(2);
    expect(without.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tabvisor: .*shared folder \(9p\): give one/)]);
  });
});

describe('tabvisor run --net-listen / --net-connect', () => {
  it('puts two guests in two processes on one wire: ping answers', async () => {
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const manifest = JSON.parse(readFileSync(join(__dirname, '../../images/manifest.json'), 'utf8')) as { images: { name: string; cmdline: string }[] };
    const cmdline = manifest.images.find((i) => i.name === 'riscv64-busybox')!.cmdline;
    const { spawn } = await import('node:child_process');
    const { BIN } = await import('./run-tabvisor.js');
    const listener = spawn(process.execPath, [BIN, 'run', '--image', 'riscv64-busybox', '--net-listen', String(port),
      '--append', `${cmdline} tabvisor.ip=10.0.3.1/24`, '--timeout', '300'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    // The image's init configures eth0 from tabvisor.ip; these lines only make sure (harmless when done).
    listener.stdin.write('ip addr add 10.0.3.1/24 dev eth0 2>/dev/null; ip link set eth0 up; echo listener-up\n');
    let listenerOut = '';
    listener.stdout.on('data', (d: Buffer) => { listenerOut += d.toString(); });
    const listenerDone = new Promise<number | null>((r) => listener.on('close', (code) => r(code)));
    try {
      // The listener is up (and listening) once its guest answered.
      for (let i = 0; i < 2400 && !listenerOut.includes('listener-up\r\n'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(listenerOut).toContain('listener-up');
      const r = await runTabvisor({
        cwd: dir,
        args: ['run', '--image', 'riscv64-busybox', '--net-connect', String(port), '--append', `${cmdline} tabvisor.ip=10.0.3.2/24`, '--timeout', '240'],
        // ping prints a line a second: after the end of input the run waits while the guest talks.
        input: 'ip addr add 10.0.3.2/24 dev eth0 2>/dev/null; ip link set eth0 up; ping -c 4 -W 10 10.0.3.1\npoweroff -f\n',
        guardMs: 300_000,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/[1-4] packets received/);
      expect(listenerOut).toContain('listener-up');
    } finally {
      listener.kill('SIGTERM');
      expect(await listenerDone).toBe(143);
    }
  });

  it('refuses --net-connect to a port nobody listens on, with one line', async () => {
    const r = await runTabvisor({ cwd: dir, args: ['run', '--image', 'riscv64-busybox', '--net-connect', '1'], input: '' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tabvisor: --net-connect: cannot connect to 127\.0\.0\.1:1/)]);
  });
});
