// `--migrate-to` with a persistent disk (`--disk BASE --disk-overlay FILE`) to a `--migrate-listen`
// process on the same machine: the receiver opens the same base and overlay files once the sender
// is paused with the overlay flushed. A file the guest wrote on the disk before the move is there
// after it, and a file written after the move persists in the overlay (read back on the host with
// e2fsck and debugfs). Back ends a migration does not carry (--share) are refused with one line
// before anything moves, and the guest keeps running.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { OverlayDisk } from '../../src/devices/backends/overlay-disk.js';
import { NodeOverlayStore, openBaseFile } from '../../src/devices/backends/overlay-node-store.js';
import { ensureDistBuilt } from './build-dist.js';
import { freePort, startTabvisor, until, type Proc } from './run-tabvisor.js';

const start = (args: string[]): Proc => startTabvisor(dir, args);

const BASE = join(PROJECT_ROOT, 'images', 'disk-base', 'home.ext4');
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

let dir: string;
beforeAll(() => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tv-migrate-disk-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));


/** A file of the disk the overlay describes, read on the host (journal replayed by e2fsck first). */
function fileOnDisk(overlay: string, name: string): string {
  const base = openBaseFile(BASE);
  const disk = new OverlayDisk(NodeOverlayStore.open(overlay), base, { readOnly: true });
  const image = join(dir, 'whole.img');
  writeFileSync(image, disk.read(0, disk.byteLength));
  base.close();
  const fsck = spawnSync('/usr/sbin/e2fsck', ['-fy', image], { encoding: 'utf8' });
  expect(fsck.status, fsck.stdout + fsck.stderr).toBeLessThanOrEqual(1);
  return spawnSync('/usr/sbin/debugfs', ['-R', `cat /${name}`, image], { encoding: 'utf8' }).stdout;
}

describe('tabvisor run --migrate-to with a disk', () => {
  it('hands the disk overlay over: a file from before the move is there, and one written after persists in the overlay', async () => {
    const baseSum = sha(BASE);
    const overlay = join(dir, 'home.tvoverlay');
    const port = await freePort();
    const target = start(['run', '--migrate-listen', String(port), '--timeout', '400']);
    try {
      await until(() => target.err().includes('waiting for a migration'), 60_000, 'the listener');
      const source = start(['run', '--image', 'riscv64-busybox', '--disk', BASE, '--disk-overlay', overlay, '--migrate-to', String(port), '--timeout', '300']);
      source.child.stdin.end('mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && echo before-the-move > /mnt/before && sync && echo written-$((6*7))\n');
      expect(await source.done, source.err()).toBe(0);
      expect(source.out()).toContain('written-42');
      expect(source.err()).toMatch(/tabvisor: moved the VM to 127\.0\.0\.1:\d+/);
      await until(() => target.err().includes('received a 128 MiB rv64 machine'), 60_000, 'the received machine');
      expect(target.err()).toContain(`its disk goes on in ${overlay}`);
      target.child.stdin.end('cat /mnt/before; echo after-the-move > /mnt/after && sync && echo synced-$((7*7))\npoweroff -f\n');
      expect(await target.done, target.err()).toBe(0);
      expect(target.out()).toContain('before-the-move');
      expect(target.out()).toContain('synced-49');
      expect(fileOnDisk(overlay, 'after')).toBe('after-the-move\n');
      expect(fileOnDisk(overlay, 'before')).toBe('before-the-move\n');
      expect(sha(BASE)).toBe(baseSum);
    } finally {
      target.child.kill('SIGKILL');
    }
  }, 400_000);

  it('refuses to move a VM run with --share, with one line before anything moves; the guest keeps running', async () => {
    const share = join(dir, 'shared');
    mkdirSync(share, { recursive: true });
    const port = await freePort();
    const source = start(['run', '--image', 'riscv64-busybox', '--share', share, '--migrate-to', String(port), '--timeout', '300']);
    try {
      source.child.stdin.write('echo up-$((1+1))\n');
      await until(() => source.out().includes('up-2'), 200_000, 'the source guest');
      source.child.kill('SIGUSR2');
      await until(() => source.err().includes('cannot migrate'), 60_000, 'the refusal');
      expect(source.err().trim().split('\n')).toEqual([
        `tabvisor: cannot migrate to 127.0.0.1:${port}: a VM run with --share cannot be moved (its back end stays in this process); the VM keeps running here`,
      ]);
      source.child.stdin.end('echo still-$((2+1))\npoweroff -f\n');
      expect(await source.done, source.err()).toBe(0);
      expect(source.out()).toContain('still-3');
    } finally {
      source.child.kill('SIGKILL');
    }
  }, 400_000);
});
