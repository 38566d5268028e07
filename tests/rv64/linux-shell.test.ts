// OpenSBI + Linux + BusyBox (images/riscv64-busybox) on our own core, through the Engine API as the
// CLI and the hypervisor use it: one guest boots (with a virtio disk made here with mke2fs and a
// NIC wired to a host end that answers ARP), and the cases type commands at its shell in order.
// Skipped until the image and the core are built.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../../src/engines/create.js';
import { NodeAssetLoader } from '../../src/engines/assets-node.js';
import { Rv64Engine } from '../../src/engines/rv64/engine.js';
import { createNetPair } from '../../src/devices/backends/net.js';
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

const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const HOST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc);

/** An ARP reply from HOST_MAC to a request for 10.0.2.2, else undefined. */
function arpReply(frame: Uint8Array): Uint8Array | undefined {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 42 || v.getUint16(12) !== 0x0806 || v.getUint16(20) !== 1) return undefined;
  if (frame[38] !== 10 || frame[39] !== 0 || frame[40] !== 2 || frame[41] !== 2) return undefined;
  const reply = new Uint8Array(60);
  reply.set(frame.subarray(6, 12), 0);
  reply.set(HOST_MAC, 6);
  reply.set([0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02], 12);
  reply.set(HOST_MAC, 22);
  reply.set([10, 0, 2, 2], 28);
  reply.set(frame.subarray(22, 32), 32);
  return reply;
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
  let engine: Rv64Engine;
  let guest: GuestSession;
  const hostSeen: Uint8Array[] = [];
  let hostEnd: ReturnType<typeof createNetPair>[1];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tabvisor-rv64-'));
    disk = makeExt2(dir);
    diskCopy = disk.slice();
    const [guestEnd, host] = createNetPair();
    hostEnd = host;
    hostEnd.connect((frame) => {
      hostSeen.push(frame);
      const reply = arpReply(frame);
      if (reply) hostEnd.send(reply);
    });
    engine = new Rv64Engine({
      engine: 'rv64',
      memoryMiB: image!.memoryMiB,
      firmware: image!.firmware,
      kernel: image!.kernel,
      initrd: image!.initrd,
      cmdline: 'console=ttyS0',
      disk,
    }, new NodeAssetLoader(), { net: guestEnd, mac: GUEST_MAC });
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
    const exported = await engine.exportDisk();
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

  it('hvc0 takes input from the host (sendVirtioConsole)', async () => {
    // The line must arrive while `read` has hvc0 open (a tty drops its input on last close), and the
    // host cannot see that moment: it types the line again every 300 ms until the guest answers.
    const answer = guest.sh(`busybox timeout 30 sh -c 'read -r x < /dev/hvc0; echo "got:$x"'`);
    let done = false;
    void answer.finally(() => (done = true));
    while (!done) {
      engine.sendVirtioConsole('typed-on-hvc0\n');
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(await answer).toContain('got:typed-on-hvc0');
  });

  it('eth0 (virtio-net) reaches the host end: the guest resolves 10.0.2.2 by ARP', async () => {
    await guest.sh('ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0');
    expect(await guest.sh('cat /sys/class/net/eth0/address')).toContain('52:54:00:12:34:56');
    const out = await guest.sh('busybox arping -c 1 -w 5 -I eth0 10.0.2.2');
    expect(out.toLowerCase()).toContain('reply from 10.0.2.2 [52:54:00:aa:bb:cc]');
    expect(hostSeen.some((f) => f[12] === 0x08 && f[13] === 0x06 && Buffer.compare(f.subarray(6, 12), GUEST_MAC) === 0)).toBe(true);
  });

  it('a frame from the host wakes the engine (onWake), for hosts that drive slices themselves', async () => {
    let wakes = 0;
    const off = engine.onWake(() => wakes++);
    const frame = new Uint8Array(60);
    frame.set(GUEST_MAC, 0);
    frame.set(HOST_MAC, 6);
    frame.set([0x88, 0xb5], 12); // local experimental EtherType: the guest ignores it
    hostEnd.send(frame);
    off();
    expect(wakes).toBeGreaterThan(0);
  });

  it('loads a saved state in place: the guest goes back to the moment of the save', async () => {
    await guest.sh('echo before-save > /tmp/in-place');
    await engine.pause();
    const state = await engine.saveState();
    await engine.resume();
    await guest.sh('echo after-save > /tmp/in-place');
    expect(await guest.sh('cat /tmp/in-place')).toContain('after-save');
    await engine.pause();
    await engine.loadState(state);
    await engine.resume();
    expect(await guest.sh('cat /tmp/in-place')).toContain('before-save');
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

  it('printing the words of a kernel panic does not end the VM (only a dying kernel does)', async () => {
    await guest.sh('echo "Kernel panic - not syncing: only words"; echo "sbi_trap_error: only words"');
    expect((await guest.sh('i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; echo $i')).trim()).toBe('3000');
    expect(guest.exit).toBeUndefined();
    expect(engine.running).toBe(true);
  });

  it('poweroff -f ends the VM with ExitReason poweroff', async () => {
    engine.sendConsole('poweroff -f\n');
    expect(await guest.exited).toEqual({ kind: 'poweroff', code: 0 });
    expect(engine.running).toBe(false);
    expect(engine.stats().instructions).toBeGreaterThan(10_000_000);
  });
});
