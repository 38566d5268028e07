// QEMU's virt board is the reference machine that proves the riscv64-busybox image keeps the
// guest contract of docs/IMAGES.md: marker, shell, poweroff.
import { afterEach, describe, expect, it } from 'vitest';
import { haveQemu, QEMU, QemuGuest, riscvImage, skipQemu } from './qemu-guest.js';

let guest: QemuGuest | undefined;
afterEach(() => {
  guest?.kill();
  guest = undefined;
});

describe.skipIf(skipQemu)('riscv64-busybox on qemu-system-riscv64 -M virt', () => {
  it('boots to the marker, runs a command and powers the machine off', async () => {
    expect(haveQemu, `${QEMU} missing: run scripts/setup-system.sh test`).toBe(true);
    expect(riscvImage, 'riscv64-busybox is not in images/manifest.json').toBeDefined();
    const e = riscvImage!;
    const g = (guest = QemuGuest.boot(e, ''));

    await g.waitFor(new RegExp(`^${e.readyMarker}\\r?$`, 'm'), 0, 90_000);
    // The shell prints its prompt once it reads the console; then it takes commands.
    const promptAt = g.out.indexOf(e.readyMarker);
    await g.waitFor(/\/ # $/m, promptAt, 30_000);

    let from = g.out.length;
    g.send('uname -m');
    await g.waitFor(/^riscv64\r?$/m, from, 30_000);

    from = g.out.length;
    g.send('hostname; echo "[$PS1]"');
    await g.waitFor(/^tabvisor\r?\n\[\\w # \]\r?$/m, from, 30_000);

    g.send('poweroff -f');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000));
    const result = await Promise.race([g.exited, timeout]);
    expect(result, `QEMU did not exit after poweroff -f; console:\n${g.out.slice(-1000)}`).toBe(0);
    expect(g.out).toMatch(/reboot: Power down/);
  });
});
