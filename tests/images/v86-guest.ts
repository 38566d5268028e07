// x86-busybox on the v86 library itself (not through our engine), for the image tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageEntry } from '../../src/engines/engine.js';
import { ConsoleText } from './console-text.js';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8')) as { images: ImageEntry[] };
export const x86Image = manifest.images.find((e) => e.name === 'x86-busybox');

/** The few members of the v86 emulator these tests use. */
interface V86Emulator {
  add_listener(event: string, listener: (value: number) => void): void;
  serial0_send(data: string): void;
  create_file(path: string, data: Uint8Array): Promise<void>;
  read_file(path: string): Promise<Uint8Array>;
  destroy(): Promise<void>;
}

const buffer = (path: string) => {
  const b = readFileSync(join(root, path));
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) };
};

export class V86Guest extends ConsoleText {
  readonly halted: Promise<void>;
  private constructor(readonly emulator: V86Emulator) {
    super((text) => emulator.serial0_send(text));
    let halted!: () => void;
    this.halted = new Promise<void>((r) => (halted = r));
    emulator.add_listener('serial0-output-byte', (byte) => this.add(String.fromCharCode(byte)));
    emulator.add_listener('cpu-event-halt', () => halted());
  }

  /** Boots the image with `append` added to its command line; `extra` goes to the V86 options. */
  static async boot(e: ImageEntry, append = '', extra: Record<string, unknown> = {}, memoryMiB = e.memoryMiB): Promise<V86Guest> {
    const { V86 } = (await import('v86')) as unknown as { V86: new (o: object) => V86Emulator };
    return new V86Guest(new V86({
      wasm_path: join(root, 'node_modules/v86/build/v86.wasm'),
      memory_size: memoryMiB * 1024 * 1024,
      vga_memory_size: 2 * 1024 * 1024,
      bios: buffer(e.firmware!),
      vga_bios: buffer(e.vgaBios!),
      bzimage: buffer(e.kernel),
      initrd: buffer(e.initrd!),
      cmdline: `${e.cmdline} ${append}`.trim(),
      autostart: true,
      disable_keyboard: true,
      disable_mouse: true,
      // As the engine runs it: no ACPI (src/engines/v86/engine.ts).
      acpi: false,
      ...extra,
    }));
  }

  destroy(): Promise<void> {
    return this.emulator.destroy();
  }
}
