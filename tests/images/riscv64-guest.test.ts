// What the riscv64-busybox guest sees on QEMU's virt board beyond the basic contract: the
// tabvisor.* boot parameters applied by its init, a 9p share, DHCP and TCP/ping over
// virtio-net, balloon free page reporting, an ext2 disk mounted by ext4.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QemuGuest, riscvImage, skipQemu } from './qemu-guest.js';

const BOOT_MS = 90_000;
let guest: QemuGuest | undefined;
let server: Server | undefined;
const dirs: string[] = [];
afterEach(() => {
  guest?.kill();
  guest = undefined;
  server?.close();
  server = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tabvisor-img-'));
  dirs.push(d);
  return d;
}

/** A TCP server on the host's loopback that resolves with the first line a client sends. */
function lineServer(): Promise<{ port: number; line: Promise<string> }> {
  return new Promise((ready) => {
    let got!: (s: string) => void;
    const line = new Promise<string>((r) => (got = r));
    server = createServer((socket) => {
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
        if (text.includes('\n')) got(text.split('\n')[0]);
      });
    });
    server.listen(0, '127.0.0.1', () => ready({ port: (server!.address() as { port: number }).port, line }));
  });
}

describe.skipIf(skipQemu)('riscv64-busybox guest features (QEMU virt)', () => {
  it('applies hostname, console size and DHCP from the command line; 9p, TCP, ping, balloon, ext4', async () => {
    const e = riscvImage!;
    const share = tempDir();
    writeFileSync(join(share, 'hello.txt'), 'hello from the host\n');
    const disk = join(tempDir(), 'disk.img');
    writeFileSync(disk, Buffer.alloc(8 * 1024 * 1024));
    const { port, line } = await lineServer();
    const g = (guest = QemuGuest.boot(e,
      'tabvisor.hostname=clone-7 tabvisor.seed=00112233445566778899aabbccddeeff tabvisor.cols=100 tabvisor.rows=30 tabvisor.ip=dhcp', [
        '-fsdev', `local,id=fs0,path=${share},security_model=none`, '-device', 'virtio-9p-device,fsdev=fs0,mount_tag=hostshare',
        '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:12:34:77',
        '-device', 'virtio-balloon-device,free-page-reporting=on',
        '-drive', `file=${disk},format=raw,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0',
      ]));
    await g.untilShell(e.readyMarker, BOOT_MS);
    // Init complained about none of the parameters.
    expect(g.out).not.toContain('tabvisor-init:');

    expect(await g.sh('hostname; cat /etc/hostname; grep -c clone-7 /etc/hosts')).toBe('clone-7\nclone-7\n1');
    expect(await g.sh('stty size')).toBe('30 100');
    // Kernel messages stay off the console once the shell has it.
    expect(await g.sh('cut -f1 /proc/sys/kernel/printk')).toBe('1');

    const filesystems = await g.sh('cat /proc/filesystems');
    expect(filesystems).toMatch(/\t9p$/m);
    expect(filesystems).toMatch(/\text4$/m);
    expect(filesystems).toMatch(/\text2$/m);

    expect(await g.sh('cat /mnt/host/hello.txt')).toBe('hello from the host');
    await g.sh('echo from-the-guest > /mnt/host/back.txt');
    expect(await g.sh('grep -c " /mnt/host 9p " /proc/mounts')).toBe('1');

    // DHCP from QEMU's user network: address, default route, DNS server; MAC from the device.
    expect(await g.sh('ip -4 addr show eth0')).toContain('inet 10.0.2.15/24');
    expect(await g.sh('ip link show eth0')).toContain('52:54:00:12:34:77');
    expect(await g.sh('ip route')).toMatch(/^default via 10\.0\.2\.2 dev eth0/m);
    expect(await g.sh('cat /etc/resolv.conf')).toContain('nameserver 10.0.2.3');
    expect(await g.sh('ping -c 1 -W 10 10.0.2.2')).toContain('1 packets received');
    await g.sh(`echo hello-over-tcp | nc 10.0.2.2 ${port}`);
    expect(await line).toBe('hello-over-tcp');

    // Balloon with VIRTIO_BALLOON_F_REPORTING (feature bit 5) accepted by the driver.
    const balloon = await g.sh('cat /sys/bus/virtio/drivers/virtio_balloon/virtio*/features');
    expect(balloon[5], `balloon features ${balloon}`).toBe('1');

    // A disk made by BusyBox's mke2fs, mounted (ext4 driver) twice: the data stays.
    await g.sh('mke2fs -q /dev/vda && mkdir -p /mnt/d && mount -t ext4 /dev/vda /mnt/d && echo kept > /mnt/d/f && umount /mnt/d');
    expect(await g.sh('mount /dev/vda /mnt/d && cat /mnt/d/f && grep -c "^/dev/vda /mnt/d ext" /proc/mounts')).toBe('kept\n1');
  }, 4 * BOOT_MS);

  it('sets a fixed address and gateway, and ignores a bad hostname with one message', async () => {
    const e = riscvImage!;
    const g = (guest = QemuGuest.boot(e, 'tabvisor.hostname=bad_name! tabvisor.ip=10.0.2.20/24 tabvisor.gw=10.0.2.2 tabvisor.dns=10.0.2.3', [
      '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0',
    ]));
    await g.untilShell(e.readyMarker, BOOT_MS);
    expect(g.out).toContain('tabvisor-init: ignoring tabvisor.hostname=bad_name!');
    expect(await g.sh('hostname')).toBe('tabvisor');
    expect(await g.sh('ip -4 addr show eth0')).toContain('inet 10.0.2.20/24');
    expect(await g.sh('ip route')).toMatch(/^default via 10\.0\.2\.2 dev eth0/m);
    expect(await g.sh('cat /etc/resolv.conf')).toBe('nameserver 10.0.2.3');
    expect(await g.sh('ping -c 1 -W 10 10.0.2.2')).toContain('1 packets received');
    // No share given: nothing is mounted at /mnt/host.
    expect(await g.sh('grep -c /mnt/host /proc/mounts')).toBe('0');
  }, 2 * BOOT_MS);
});
