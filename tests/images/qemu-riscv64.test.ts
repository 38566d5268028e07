// Until the rv64 engine boots it, QEMU's virt board is the reference machine that proves the
// riscv64-busybox image keeps the guest contract of docs/IMAGES.md: marker, shell, poweroff.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8')) as {
  images: ImageEntry[];
};
const image = manifest.images.find((e) => e.name === 'riscv64-busybox');
const QEMU = 'qemu-system-riscv64';
const haveQemu = spawnSync(QEMU, ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
// Without QEMU a root user gets a failure (scripts/setup-system.sh installs it); others a skip.
const skip = !haveQemu && !isRoot;
if (skip) console.warn(`skipping: ${QEMU} is not installed (scripts/setup-system.sh test, as root)`);

/** A QEMU guest with its console as a growing string. */
class QemuGuest {
  out = '';
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString('latin1');
      for (const w of this.waiters) w();
    });
    proc.stderr!.on('data', (d: Buffer) => (this.out += d.toString('latin1')));
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  /** Resolves when `pattern` appears after offset `from`; rejects after `ms` with the console so far. */
  waitFor(pattern: RegExp, from: number, ms: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.out.slice(from).match(pattern);
        if (m) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`no ${pattern} within ${ms} ms; console:\n${this.out.slice(-2000)}`));
      }, ms);
      this.waiters.push(check);
      check();
    });
  }

  send(line: string): void {
    this.proc.stdin!.write(line + '\n');
  }
}

let running: ChildProcess | undefined;
afterEach(() => {
  if (running && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
  running = undefined;
});

describe.skipIf(skip)('riscv64-busybox on qemu-system-riscv64 -M virt', () => {
  it('boots to the marker, runs a command and powers the machine off', async () => {
    expect(haveQemu, `${QEMU} missing: run scripts/setup-system.sh test`).toBe(true);
    expect(image, 'riscv64-busybox is not in images/manifest.json').toBeDefined();
    const e = image!;
    const args = ['-M', 'virt', '-m', `${e.memoryMiB}M`, '-nographic', '-no-reboot',
      '-bios', join(root, e.firmware!), '-kernel', join(root, e.kernel),
      '-initrd', join(root, e.initrd!), '-append', e.cmdline];
    const guest = new QemuGuest((running = spawn(QEMU, args, { stdio: ['pipe', 'pipe', 'pipe'] })));

    await guest.waitFor(new RegExp(`^${e.readyMarker}\\r?$`, 'm'), 0, 90_000);
    // The shell prints its prompt once it reads the console; then it takes commands.
    const promptAt = guest.out.indexOf(e.readyMarker);
    await guest.waitFor(/\/ # $/m, promptAt, 30_000);

    let from = guest.out.length;
    guest.send('uname -m');
    await guest.waitFor(/^riscv64\r?$/m, from, 30_000);

    from = guest.out.length;
    guest.send('hostname; echo "[$PS1]"');
    await guest.waitFor(/^tabvisor\r?\n\[\\w # \]\r?$/m, from, 30_000);

    guest.send('poweroff -f');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000));
    const result = await Promise.race([guest.exited, timeout]);
    expect(result, `QEMU did not exit after poweroff -f; console:\n${guest.out.slice(-1000)}`).toBe(0);
    expect(guest.out).toMatch(/reboot: Power down/);
  });
});
