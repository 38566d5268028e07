// The x86-busybox image on the v86 library itself (not through our engine): proves the image
// keeps the guest contract of docs/IMAGES.md on the machine it is built for.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8')) as {
  images: ImageEntry[];
};
const image = manifest.images.find((e) => e.name === 'x86-busybox');

/** The few members of the v86 emulator this test uses. */
interface V86Emulator {
  add_listener(event: string, listener: (value: number) => void): void;
  serial0_send(data: string): void;
  destroy(): Promise<void>;
}

const buffer = (path: string) => {
  const b = readFileSync(join(root, path));
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) };
};

let emulator: V86Emulator | undefined;
afterEach(async () => {
  await emulator?.destroy();
  emulator = undefined;
});

describe('x86-busybox on v86', () => {
  it('boots to the marker, runs a command and halts the CPU on poweroff -f', async () => {
    expect(image, 'x86-busybox is not in images/manifest.json').toBeDefined();
    const e = image!;
    const { V86 } = (await import('v86')) as unknown as { V86: new (o: object) => V86Emulator };
    let out = '';
    let halted!: () => void;
    const halt = new Promise<void>((r) => (halted = r));
    const waiters = new Set<() => void>();
    emulator = new V86({
      wasm_path: join(root, 'node_modules/v86/build/v86.wasm'),
      memory_size: e.memoryMiB * 1024 * 1024,
      vga_memory_size: 2 * 1024 * 1024,
      bios: buffer(e.firmware!),
      vga_bios: buffer(e.vgaBios!),
      bzimage: buffer(e.kernel),
      initrd: buffer(e.initrd!),
      cmdline: e.cmdline,
      autostart: true,
      disable_keyboard: true,
      disable_mouse: true,
    });
    emulator.add_listener('serial0-output-byte', (byte) => {
      out += String.fromCharCode(byte);
      for (const w of waiters) w();
    });
    emulator.add_listener('cpu-event-halt', () => halted());

    const waitFor = (pattern: RegExp, from: number, ms: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(out.slice(from))) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} within ${ms} ms; console:\n${out.slice(-2000)}`));
        }, ms);
        waiters.add(check);
        check();
      });

    await waitFor(new RegExp(`^${e.readyMarker}\\r?$`, 'm'), 0, 90_000);
    await waitFor(/\/ # $/, out.indexOf(e.readyMarker), 30_000);

    let from = out.length;
    emulator.serial0_send('uname -m\n');
    await waitFor(/^i686\r?$/m, from, 30_000);

    from = out.length;
    emulator.serial0_send('hostname; tty\n');
    await waitFor(/^tabvisor\r?\n\/dev\/ttyS0\r?$/m, from, 30_000);

    // Without ACPI or APM the kernel ends `poweroff -f` in cli+hlt, which v86 reports.
    emulator.serial0_send('poweroff -f\n');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000));
    const result = await Promise.race([halt.then(() => 'halted' as const), timeout]);
    expect(result, `no cpu-event-halt after poweroff -f; console:\n${out.slice(-1000)}`).toBe('halted');
    expect(out).toMatch(/reboot: System halted/);
  });
});
