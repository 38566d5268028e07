// What the x86-busybox guest sees on v86 beyond the basic contract: the tabvisor.* boot
// parameters applied by its init, all of a 2 GiB memory (high memory), an IDE disk, v86's 9p
// share, the NE2000 network card, and an idle CPU that is halted (v86 sleeps instead of
// emulating a busy loop).
import { afterEach, describe, expect, it } from 'vitest';
import { V86Guest, x86Image } from './v86-guest.js';

const BOOT_MS = 240_000; // generous: libata probes the IDE disk, and the test machine is shared
let guest: V86Guest | undefined;
afterEach(async () => {
  await guest?.destroy();
  guest = undefined;
});

/** v86's own "CPU is in HLT" flag (an internal of the library, read only). */
function inHlt(g: V86Guest): boolean {
  const cpu = (g.emulator as unknown as { v86: { cpu: { in_hlt: Uint8Array } } }).v86.cpu;
  return cpu.in_hlt[0] !== 0;
}

describe('x86-busybox guest features (v86)', () => {
  it('applies the boot parameters and sees 2 GiB, an IDE disk, the 9p share and eth0', async () => {
    const e = x86Image!;
    const disk = new ArrayBuffer(8 * 1024 * 1024);
    const g = (guest = await V86Guest.boot(e,
      'tabvisor.hostname=clone-x86 tabvisor.seed=0f1e2d3c4b5a tabvisor.cols=120 tabvisor.rows=40 ' +
      'tabvisor.ip=10.0.2.15/24 tabvisor.gw=10.0.2.2 tabvisor.mac=52:54:00:ab:cd:ef',
      { hda: { buffer: disk }, filesystem: {} }, 2048));
    await g.untilShell(e.readyMarker, BOOT_MS);
    expect(g.out).not.toContain('tabvisor-init:');

    expect(await g.sh('hostname; cat /etc/hostname')).toBe('clone-x86\nclone-x86');
    expect(await g.sh('stty size')).toBe('40 120');
    expect(await g.sh('cut -f1 /proc/sys/kernel/printk')).toBe('1');

    // High memory: the kernel sees nearly all of the 2 GiB (without it, 876 MiB).
    const memKiB = Number(await g.sh("awk '/^MemTotal/ { print $2 }' /proc/meminfo"));
    expect(memKiB).toBeGreaterThan(1900 * 1024);

    const filesystems = await g.sh('cat /proc/filesystems');
    expect(filesystems).toMatch(/\t9p$/m);
    expect(filesystems).toMatch(/\text4$/m);

    // v86's virtio-9p device (its tag is always host9p) is mounted at /mnt/host.
    await g.emulator.create_file('/hello.txt', new TextEncoder().encode('hello from the host\n'));
    expect(await g.sh('cat /mnt/host/hello.txt')).toBe('hello from the host');
    await g.sh('echo from-the-guest > /mnt/host/back.txt');
    expect(new TextDecoder().decode(await g.emulator.read_file('/back.txt'))).toBe('from-the-guest\n');

    // The IDE disk (PIIX, libata) as /dev/sda, formatted and mounted twice: the data stays.
    await g.sh('mke2fs -q /dev/sda && mkdir -p /mnt/d && mount -t ext4 /dev/sda /mnt/d && echo kept > /mnt/d/f && umount /mnt/d');
    expect(await g.sh('mount /dev/sda /mnt/d && cat /mnt/d/f')).toBe('kept');

    // eth0 (ne2k-pci) with the address, gateway and MAC from the command line.
    const link = await g.sh('ip addr show eth0');
    expect(link).toContain('inet 10.0.2.15/24');
    expect(link).toContain('52:54:00:ab:cd:ef');
    expect(await g.sh('ip route')).toMatch(/^default via 10\.0\.2\.2 dev eth0/m);
  }, 3 * BOOT_MS);

  it('sleeps for real and idles with the CPU halted (init does not spin)', async () => {
    const e = x86Image!;
    const g = (guest = await V86Guest.boot(e));
    await g.untilShell(e.readyMarker, BOOT_MS);
    // Before the fix Debian's i386 glibc found no 32-bit time syscalls: sleep returned at once
    // and init looped in sigtimedwait/sleep, always runnable.
    expect(await g.sh('a=$(date +%s); sleep 2; b=$(date +%s); echo $((b - a))')).toMatch(/^[2-9]$/);
    expect(await g.sh('for i in 1 2 3 4 5; do cut -d" " -f3 /proc/1/stat; done | sort -u')).toBe('S');
    // The idle guest spends its time in HLT: v86 finds it halted (before: never, 0 of ~1500).
    let halted = 0;
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 20));
      if (inHlt(g)) halted++;
    }
    expect(halted, 'samples with the CPU halted, of 50').toBeGreaterThan(0);
  }, 2 * BOOT_MS);
});
