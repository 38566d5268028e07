// Linux's own drivers against our devices: the riscv64 image (images/riscv64-busybox) boots on the
// rv64 core with a virtio block, entropy, console and network device in slots 0..3, and a script
// typed on the serial console exercises each of them. Skipped until the image and the core are built.

import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { coreAvailable, createMachine, FW_JUMP } from './helpers/machine.js';
import { VirtioBlock } from '../../src/devices/virtio/block.js';
import { VirtioRng } from '../../src/devices/virtio/rng.js';
import { VirtioConsole } from '../../src/devices/virtio/console.js';
import { VirtioNet } from '../../src/devices/virtio/net.js';
import { MemoryOverlayDisk } from '../../src/devices/backends/disk.js';
import { BufferConsole } from '../../src/devices/backends/console.js';
import { createNetPair } from '../../src/devices/backends/net.js';

const IMAGE = 'images/riscv64-busybox';
const canRun = coreAvailable() && existsSync(FW_JUMP) && existsSync(`${IMAGE}/Image`) && existsSync(`${IMAGE}/initrd.cpio`);

const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const HOST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc);

/** Answers ARP requests for 10.0.2.2 from the guest with HOST_MAC. */
function arpResponder(frame: Uint8Array): Uint8Array | undefined {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 42 || v.getUint16(12) !== 0x0806 || v.getUint16(20) !== 1) return undefined;
  if (frame[38] !== 10 || frame[39] !== 0 || frame[40] !== 2 || frame[41] !== 2) return undefined;
  const reply = new Uint8Array(42);
  reply.set(frame.subarray(6, 12), 0); // to the sender
  reply.set(HOST_MAC, 6);
  reply.set([0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02], 12); // ARP reply, Ethernet/IPv4
  reply.set(HOST_MAC, 22);
  reply.set([10, 0, 2, 2], 28);
  reply.set(frame.subarray(22, 32), 32); // target = the asker's MAC and IP
  return reply;
}

describe.runIf(canRun)('Linux virtio drivers on our devices', () => {
  it('probes block, rng, console and net, and moves data through each', async () => {
    const diskBase = new Uint8Array(4 << 20);
    diskBase.set(new TextEncoder().encode('TABVISOR-DISK-OK'), 0);
    const disk = new MemoryOverlayDisk(diskBase, { serial: 'tabvisor-test' });
    const hvc = new BufferConsole();
    const [guestEnd, hostEnd] = createNetPair();
    const hostSeen: Uint8Array[] = [];
    hostEnd.connect((f) => {
      hostSeen.push(f);
      const reply = arpResponder(f);
      if (reply) hostEnd.send(reply);
    });
    const m = await createMachine({
      payload: new Uint8Array(readFileSync(`${IMAGE}/Image`)),
      initrd: new Uint8Array(readFileSync(`${IMAGE}/initrd.cpio`)),
      bootargs: 'console=ttyS0',
      virtio: [new VirtioBlock(disk), new VirtioRng(), new VirtioConsole(hvc), new VirtioNet(GUEST_MAC, guestEnd)],
    });
    const boot = m.run((o) => o.includes('tabvisor-guest-ready'), 1e9);
    expect(boot).toContain('tabvisor-guest-ready');
    expect(m.devices.transports.map((t) => t?.failureReason ?? null)).toEqual([null, null, null, null]);

    // Applets are called through `busybox` so that the test does not depend on the image's links.
    let step = 0;
    const sh = (cmd: string): string => {
      const marker = `@@done${++step}@@`;
      const before = m.output().length;
      m.console.type(`${cmd}; echo ${marker.slice(0, 2)}''${marker.slice(2)}\n`);
      const out = m.run((o) => o.indexOf(marker, before) >= 0, 5e8);
      const all = out.slice(before);
      return all.slice(0, all.indexOf(marker));
    };

    expect(sh('cat /sys/block/vda/size')).toContain('8192');
    expect(sh('busybox head -c 16 /dev/vda')).toContain('TABVISOR-DISK-OK');
    sh('echo guest-wrote-this > /tmp/w && dd if=/tmp/w of=/dev/vda bs=512 seek=3 conv=sync 2>/dev/null && sync');
    expect(new TextDecoder().decode(disk.read(3 * 512, 16))).toBe('guest-wrote-this');
    expect(diskBase.subarray(3 * 512, 3 * 512 + 16).every((b) => b === 0)).toBe(true); // base untouched

    // A file system on it: mke2fs, mount, write, unmount, mount again, read back.
    sh('busybox mke2fs -q /dev/vda');
    sh('mount -t ext2 /dev/vda /mnt && echo kept-on-ext2 > /mnt/f && umount /mnt');
    expect(sh('mount -t ext2 /dev/vda /mnt && cat /mnt/f && umount /mnt')).toContain('kept-on-ext2');
    expect(disk.overlayBytes).toBeGreaterThan(0);
    expect(new TextDecoder().decode(diskBase.subarray(0, 16))).toBe('TABVISOR-DISK-OK');

    expect(sh('cat /sys/class/misc/hw_random/rng_current')).toContain('virtio_rng');
    // Unbinding resets the device (status 0, then Linux acknowledges it again: status bits only
    // accumulate, so ACKNOWLEDGE alone proves the reset); binding negotiates again from scratch.
    sh('echo virtio1 > /sys/bus/virtio/drivers/virtio_rng/unbind');
    expect(m.devices.transports[1]!.read(0x70, 4)).toBe(1);
    sh('echo virtio1 > /sys/bus/virtio/drivers/virtio_rng/bind');
    expect(m.devices.transports[1]!.read(0x70, 4)).toBe(15);
    expect(sh('busybox head -c 32 /dev/hwrng | busybox wc -c')).toMatch(/\b32\b/);
    expect(sh('busybox head -c 64 /dev/hwrng | busybox wc -c')).toMatch(/\b64\b/);

    sh('echo hello-hvc > /dev/hvc0');
    expect(hvc.takeText()).toContain('hello-hvc');

    expect(sh('cat /sys/class/net/eth0/address')).toContain('52:54:00:12:34:56');
    const arp = sh('ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && busybox arping -c 1 -w 5 -I eth0 10.0.2.2');
    expect(arp).toMatch(/reply from 10\.0\.2\.2 \[52:54:00:aa:bb:cc\]/i);
    expect(hostSeen.length).toBeGreaterThan(0);

    expect(m.devices.transports.map((t) => t?.failureReason ?? null)).toEqual([null, null, null, null]);
    m.console.type('poweroff -f\n');
    m.run(() => false, 5e8);
    expect(m.events).toEqual(['poweroff']);
  }, 600_000);
});
