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
