// --disk BASE --disk-overlay FILE on both engines: a real guest mounts the ext4 base image
// (images/disk-base/home.ext4), writes a file, syncs, and the process is SIGKILLed; the next run
// sees the file, the base is never written, and the disk the overlay describes passes the host's
// e2fsck after journal replay. Bad overlay files are refused with one line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayDisk } from '../../src/devices/backends/overlay-disk.js';
import { NodeOverlayStore, openBaseFile } from '../../src/devices/backends/overlay-node-store.js';
import { ensureDistBuilt } from './build-dist.js';
import { BASE, materialize, overlayGuests, sha } from './overlay-guests.js';
import { runTabvisor, stderrLines } from './run-tabvisor.js';

let dir: string;

const guests = overlayGuests;


describe('--disk-overlay', () => {
  beforeAll(() => {
    ensureDistBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tabvisor-overlay-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const g of guests) {
    it.runIf(g.run)(`${g.name}: a synced file survives SIGKILL, the base stays as it was, e2fsck passes`, async () => {
      const baseSum = sha(BASE);
      const overlay = join(dir, `${g.name}.tvoverlay`);
      const killed = await runTabvisor({
        cwd: dir,
        args: ['run', '--image', g.image, '--disk', BASE, '--disk-overlay', overlay],
        input: `mount -t ext4 ${g.device} /mnt && echo kept-by-${g.name} > /mnt/note && sync && echo synced-$((6*7))\n`,
        signalWhen: { stdout: /synced-42/, signal: 'SIGKILL' },
        guardMs: 300_000,
      });
      expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
      expect(sha(BASE)).toBe(baseSum);

      const fsckCopy = join(dir, `${g.name}.img`);
      materialize(overlay, fsckCopy);
      const fsck = spawnSync('/usr/sbin/e2fsck', ['-fy', fsckCopy], { encoding: 'utf8' });
      expect(fsck.status, fsck.stdout + fsck.stderr).toBeLessThanOrEqual(1); // 1: the journal was replayed
      const cat = spawnSync('/usr/sbin/debugfs', ['-R', 'cat /note', fsckCopy], { encoding: 'utf8' });
      expect(cat.stdout).toBe(`kept-by-${g.name}\n`);

      const second = await runTabvisor({
        cwd: dir,
        args: ['run', '--image', g.image, '--disk', BASE, '--disk-overlay', overlay],
        input: `mount -t ext4 ${g.device} /mnt && cat /mnt/note | tr k K\npoweroff -f\n`,
        guardMs: 300_000,
      });
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain(`Kept-by-${g.name}`);
      expect(sha(BASE)).toBe(baseSum);
    }, 600_000);
  }

  it('refuses an overlay that is not one, or is for another base, with one line and exit 2', async () => {
    const notOverlay = join(dir, 'notes.txt');
    writeFileSync(notOverlay, 'just some notes\n');
    const r = await runTabvisor({ cwd: dir, args: ['run', '--image', 'x86-busybox', '--disk', BASE, '--disk-overlay', notOverlay] });
    expect(r.code).toBe(2);
    expect(stderrLines(r)).toEqual([`tabvisor: --disk-overlay ${notOverlay}: not a Tabvisor disk overlay`]);
    expect(readFileSync(notOverlay, 'utf8')).toBe('just some notes\n'); // not touched

    const otherBase = join(dir, 'other.ext4');
    copyFileSync(BASE, otherBase);
    writeFileSync(otherBase, 'x', { flag: 'r+' });
    const overlay = join(dir, 'for-home.tvoverlay');
    const base = openBaseFile(BASE);
    new OverlayDisk(NodeOverlayStore.open(overlay), base).close();
    base.close();
    const other = await runTabvisor({ cwd: dir, args: ['run', '--image', 'x86-busybox', '--disk', otherBase, '--disk-overlay', overlay] });
    expect(other.code).toBe(2);
    expect(stderrLines(other)).toHaveLength(1);
    expect(other.stderr).toMatch(/^tabvisor: --disk-overlay .*: overlay belongs to another base image/);

    const broken = readFileSync(overlay);
    broken[40] ^= 0xff;
    writeFileSync(overlay, broken);
    const bad = await runTabvisor({ cwd: dir, args: ['run', '--image', 'x86-busybox', '--disk', BASE, '--disk-overlay', overlay] });
    expect(bad.code).toBe(2);
    expect(stderrLines(bad)).toEqual([`tabvisor: --disk-overlay ${overlay}: overlay header is corrupted (checksum mismatch)`]);
  });
});
