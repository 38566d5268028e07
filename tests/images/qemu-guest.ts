// riscv64-busybox on qemu-system-riscv64 -M virt, the reference machine for the riscv64 image.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageEntry } from '../../src/engines/engine.js';
import { ConsoleText } from './console-text.js';

export const root = join(import.meta.dirname, '..', '..');
export const QEMU = 'qemu-system-riscv64';
export const haveQemu = spawnSync(QEMU, ['--version']).status === 0;
// Without QEMU a root user gets a failure (scripts/setup-system.sh installs it); others a skip.
export const skipQemu = !haveQemu && process.getuid?.() !== 0;
if (skipQemu) console.warn(`skipping: ${QEMU} is not installed (scripts/setup-system.sh test, as root)`);

const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8')) as { images: ImageEntry[] };
export const riscvImage = manifest.images.find((e) => e.name === 'riscv64-busybox');

/** A QEMU guest with its console as a growing string. */
export class QemuGuest extends ConsoleText {
  readonly exited: Promise<number | null>;

  constructor(readonly proc: ChildProcess) {
    super((text) => proc.stdin!.write(text));
    proc.stdout!.on('data', (d: Buffer) => this.add(d.toString('latin1')));
    proc.stderr!.on('data', (d: Buffer) => this.add(d.toString('latin1')));
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  /** Boots the riscv64 image with `append` added to its command line and `extra` QEMU arguments. */
  static boot(e: ImageEntry, append: string, extra: string[] = [], memoryMiB = e.memoryMiB): QemuGuest {
    const args = ['-M', 'virt', '-m', `${memoryMiB}M`, '-nographic', '-no-reboot',
      '-bios', join(root, e.firmware!), '-kernel', join(root, e.kernel),
      '-initrd', join(root, e.initrd!), '-append', `${e.cmdline} ${append}`.trim(), ...extra];
    return new QemuGuest(spawn(QEMU, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}
