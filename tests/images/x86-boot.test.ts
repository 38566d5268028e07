// The x86-busybox image on the v86 library itself (not through our engine): proves the image
// keeps the guest contract of docs/IMAGES.md on the machine it is built for.
import { afterEach, describe, expect, it } from 'vitest';
import { V86Guest, x86Image } from './v86-guest.js';

let guest: V86Guest | undefined;
afterEach(async () => {
  await guest?.destroy();
  guest = undefined;
});

describe('x86-busybox on v86', () => {
  it('boots to the marker, runs a command and halts the CPU on poweroff -f', async () => {
    expect(x86Image, 'x86-busybox is not in images/manifest.json').toBeDefined();
    const e = x86Image!;
    const g = (guest = await V86Guest.boot(e));

    await g.waitFor(new RegExp(`^${e.readyMarker}\\r?$`, 'm'), 0, 90_000);
    await g.waitFor(/\/ # /, g.out.indexOf(e.readyMarker), 30_000);

    let from = g.out.length;
    g.send('uname -m');
    await g.waitFor(/^i686\r?$/m, from, 30_000);

    from = g.out.length;
    g.send('hostname; tty');
    await g.waitFor(/^tabvisor\r?\n\/dev\/ttyS0\r?$/m, from, 30_000);

    // Without ACPI or APM the kernel ends `poweroff -f` in cli+hlt, which v86 reports.
    g.send('poweroff -f');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000));
    const result = await Promise.race([g.halted.then(() => 'halted' as const), timeout]);
    expect(result, `no cpu-event-halt after poweroff -f; console:\n${g.out.slice(-1000)}`).toBe('halted');
    expect(g.out).toMatch(/reboot: System halted/);
  });
});
