// images/disk-base/home.ext4, the base of every lab VM's persistent disk: listed in the
// manifest's "disks" with its size and sha256, a clean ext4 file system with its README.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';

const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'images/manifest.json'), 'utf8')) as {
  disks?: { name: string; file: string; bytes: number; filesystem: string; sha256: Record<string, string> }[];
};

describe('the disk base image', () => {
  const home = manifest.disks?.find((d) => d.name === 'home');

  it('is in the manifest with its size and sha256', () => {
    expect(home).toBeDefined();
    const bytes = readFileSync(join(PROJECT_ROOT, home!.file));
    expect(bytes.length).toBe(home!.bytes);
    expect(Object.keys(home!.sha256)).toEqual([home!.file]);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(home!.sha256[home!.file]);
  });

  it.runIf(existsSync('/usr/sbin/e2fsck'))('is a clean ext4 file system with a journal and the README', () => {
    const path = join(PROJECT_ROOT, home!.file);
    const fsck = spawnSync('/usr/sbin/e2fsck', ['-fn', path], { encoding: 'utf8' });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    const features = spawnSync('/usr/sbin/dumpe2fs', ['-h', path], { encoding: 'utf8' }).stdout;
    expect(features).toMatch(/Filesystem features:.*has_journal.*extent/);
    const readme = spawnSync('/usr/sbin/debugfs', ['-R', 'cat /README', path], { encoding: 'utf8' }).stdout;
    expect(readme).toMatch(/^This is your persistent disk/);
  });
});
