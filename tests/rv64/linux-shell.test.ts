// OpenSBI + Linux + BusyBox (images/riscv64-busybox) on our own core, through the Engine API as the
// CLI and the hypervisor use it: one guest boots (with a virtio disk made here with mke2fs), and
// the cases type commands at its shell in order. Skipped until the image and the core are built.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../src/engines/create.js';
import { NodeAssetLoader } from '../../src/engines/assets-node.js';
import type { Engine } from '../../src/engines/engine.js';
import type { Rv64Engine } from '../../src/engines/rv64/engine.js';
import { coreBuilt, findRv64Image, GuestSession } from './helpers.js';

const image = findRv64Image();
const haveMke2fs = spawnSync('mke2fs', ['-V']).status === 0;
const canRun = coreBuilt() && image !== undefined && haveMke2fs;

/** A 4 MiB ext2 file system holding /hello.txt, made with mke2fs -d. */
function makeExt2(dir: string): Uint8Array {
  const content = join(dir, 'content');
  mkdirSync(content);
  writeFileSync(join(content, 'hello.txt'), 'written-by-the-host\n');
  const img = join(dir, 'disk.img');
  const r = spawnSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', '1024', '-d', content, img, '4M'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mke2fs: ${r.stderr}`);
  return new Uint8Array(readFileSync(img));
}

function debugfsCat(imageBytes: Uint8Array, dir: string, path: string): string {
  const f = join(dir, 'exported.img');
  writeFileSync(f, imageBytes);
  const r = spawnSync('debugfs', ['-R', `cat ${path}`, f], { encoding: 'utf8' });
  return r.stdout;
}

describe.runIf(canRun)('riscv64-busybox on the rv64 engine', () => {
  let dir: string;
  let disk: Uint8Array;
  let diskCopy: Uint8Array;
  let engine: Engine;
  let guest: GuestSession;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tabvisor-rv64-'));
    disk = makeExt2(dir);
    diskCopy = disk.slice();
    engine = await createEngine({
      engine: 'rv64',
      memoryMiB: image!.memoryMiB,
      firmware: image!.firmware,
      kernel: image!.kernel,
      initrd: image!.initrd,
      cmdline: 'console=ttyS0',
      disk,
    }, new NodeAssetLoader());
    guest = new GuestSession(engine);
    await engine.start();
    await guest.waitFor(`${image!.readyMarker}`);
    await guest.waitFor('/ # ');
  });

  afterAll(async () => {
    await engine?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the OpenSBI banner and the kernel log on the serial console', () => {
    expect(guest.out).toContain('OpenSBI v');
    expect(guest.out).toMatch(/Platform Name\s+: riscv-virtio,tabvisor/);
    expect(guest.out).toContain('Linux version 6.1');
    expect(guest.out).toContain('Run /init as init process');
  });

  it('runs commands: uname -m says riscv64', async () => {
    expect((await guest.sh('uname -m')).trim()).toBe('riscv64');
  });

  it('/proc/cpuinfo shows the ISA and MMU the device tree advertises', async () => {
    const cpuinfo = await guest.sh('cat /proc/cpuinfo');
    expect(cpuinfo).toMatch(/isa\s*:\s*rv64imafdc/);
    expect(cpuinfo).toMatch(/mmu\s*:\s*sv48/);
  });

  it('reads the host-made ext2 disk on /dev/vda and writes to it (copy on write)', async () => {
    expect(await guest.sh('mount -t ext2 /dev/vda /mnt && cat /mnt/hello.txt')).toContain('written-by-the-host');
    await guest.sh('echo written-by-the-guest > /mnt/guest.txt && umount /mnt && echo unmounted');
    // The guest's write is in the disk the engine exports (what --disk-write-back saves) ...
    const exported = await (engine as Rv64Engine).exportDisk();
    expect(debugfsCat(exported, dir, '/guest.txt')).toContain('written-by-the-guest');
    expect(debugfsCat(exported, dir, '/hello.txt')).toContain('written-by-the-host');
    // ... while the base image handed to the engine is untouched.
    expect(Buffer.compare(disk, diskCopy)).toBe(0);
  });

  it('/dev/hwrng (virtio-rng) gives random bytes', async () => {
    // `busybox head`: the image's /usr/bin applet links point at a missing /usr/bin/busybox (images 35f45b9).
    const out = await guest.sh('busybox head -c 16 /dev/hwrng | busybox od -An -tx1; busybox head -c 16 /dev/hwrng | busybox od -An -tx1');
    const lines = out.split('\n').map((l) => l.trim()).filter((l) => /^([0-9a-f]{2} ?){16}$/.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).not.toBe(lines[1]);
    expect(await guest.sh('cat /sys/class/misc/hw_random/rng_current')).toContain('virtio_rng');
  });

  it('hvc0 (virtio-console) exists and its output joins the console stream', async () => {
    const from = guest.out.length;
    await guest.sh('ls /dev/hvc0 && echo "via-""hvc0" > /dev/hvc0');
    await guest.waitFor('via-hvc0', from, 30_000);
  });

  it('saves its state while paused, and a new engine restored from it continues the same session', async () => {
    await guest.sh('echo kept-across-restore > /tmp/state-check');
    await engine.pause();
    const state = await engine.saveState();
    // Only non-zero pages are saved: far less than the 128 MiB of RAM.
    expect(state.length).toBeLessThan(64 << 20);
    await engine.resume();
    expect((await guest.sh('echo still-running')).trim()).toBe('still-running');

    const restored = await createEngine({ engine: 'rv64', memoryMiB: image!.memoryMiB, state }, new NodeAssetLoader());
    const second = new GuestSession(restored);
    try {
      await restored.start();
      expect(await second.sh('cat /tmp/state-check')).toContain('kept-across-restore');
      expect(await second.sh('mount -t ext2 /dev/vda /mnt && cat /mnt/guest.txt; umount /mnt')).toContain('written-by-the-guest');
    } finally {
      await restored.destroy();
    }
  });

  it('poweroff -f ends the VM with ExitReason poweroff', async () => {
    engine.sendConsole('poweroff -f\n');
    expect(await guest.exited).toEqual({ kind: 'poweroff', code: 0 });
    expect(engine.running).toBe(false);
    expect(engine.stats().instructions).toBeGreaterThan(10_000_000);
  });
});
