// Shared pieces of the rv64 Linux tests: where the riscv64-busybox image is, and a guest session
// over the Engine API that types shell commands and waits for their output.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine, ExitReason, ImageEntry } from '../../src/engines/engine.js';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface Rv64Image {
  firmware: Uint8Array;
  kernel: Uint8Array;
  initrd: Uint8Array;
  cmdline: string;
  memoryMiB: number;
  readyMarker: string;
  /** Paths of the three files, for QEMU. */
  paths: { firmware: string; kernel: string; initrd: string };
}

/**
 * The riscv64-busybox image from images/manifest.json, or from RV64_IMAGE_DIR (Image, initrd.cpio,
 * fw_jump.bin) when set; undefined when neither is there (the tests that need it are skipped).
 */
export function findRv64Image(): Rv64Image | undefined {
  const dir = process.env.RV64_IMAGE_DIR;
  let paths: Rv64Image['paths'] | undefined;
  let entry: Partial<ImageEntry> = {};
  if (dir) {
    paths = { firmware: join(dir, 'fw_jump.bin'), kernel: join(dir, 'Image'), initrd: join(dir, 'initrd.cpio') };
  } else {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'images', 'manifest.json'), 'utf8')) as { images: ImageEntry[] };
    const e = manifest.images.find((i) => i.name === 'riscv64-busybox');
    if (!e || !e.firmware || !e.initrd) return undefined;
    entry = e;
    paths = { firmware: join(ROOT, e.firmware), kernel: join(ROOT, e.kernel), initrd: join(ROOT, e.initrd) };
  }
  if (!Object.values(paths).every((p) => existsSync(p))) return undefined;
  const read = (p: string) => new Uint8Array(readFileSync(p));
  return {
    firmware: read(paths.firmware),
    kernel: read(paths.kernel),
    initrd: read(paths.initrd),
    cmdline: entry.cmdline ?? 'console=ttyS0',
    memoryMiB: entry.memoryMiB ?? 128,
    readyMarker: entry.readyMarker ?? 'tabvisor-guest-ready',
    paths,
  };
}

export const coreBuilt = (): boolean => existsSync(join(ROOT, 'build', 'rv64.wasm'));

/** A running guest: its console as one growing string, commands typed on it, its exit. */
export class GuestSession {
  out = '';
  exit: ExitReason | undefined;
  private waiters = new Set<() => void>();
  private step = 0;
  readonly exited: Promise<ExitReason>;

  constructor(readonly engine: Engine) {
    engine.onConsole((d) => {
      this.out += new TextDecoder().decode(d);
      for (const w of [...this.waiters]) w();
    });
    this.exited = new Promise((resolve) => engine.onExit((r) => {
      this.exit = r;
      for (const w of [...this.waiters]) w();
      resolve(r);
    }));
  }

  /** Resolves with the console from `from` on once it contains `text`; rejects on exit or after `ms`. */
  waitFor(text: string | RegExp, from = 0, ms = 300_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const done = (): boolean => {
        const tail = this.out.slice(from);
        if (typeof text === 'string' ? tail.includes(text) : text.test(tail)) {
          finish();
          resolve(tail);
          return true;
        }
        if (this.exit) {
          finish();
          reject(new Error(`guest exited (${JSON.stringify(this.exit)}) before "${String(text)}"; console tail:\n${this.out.slice(-1500)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no "${String(text)}" within ${ms} ms; console tail:\n${this.out.slice(-1500)}`));
      }, ms);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = () => void done();
      if (!done()) this.waiters.add(check);
    });
  }

  /** Types `cmd` at the shell and returns what it printed (without the echoed command line). */
  async sh(cmd: string, ms = 60_000): Promise<string> {
    const n = ++this.step;
    // The marker is split in the typed line so the echo of the command does not match it.
    const marker = `@@end${n}@@`;
    const from = this.out.length;
    this.engine.sendConsole(`${cmd}; echo "@@end""${n}@@"\n`);
    const all = await this.waitFor(marker, from, ms);
    const body = all.slice(0, all.indexOf(marker));
    const firstNl = body.indexOf('\n');
    return (firstNl >= 0 ? body.slice(firstNl + 1) : '').replace(/\r/g, '');
  }
}
