// Hostile inputs (issue 12, defects 7-10): inputs that could hang or flood the run are refused
// with one line; limits are named; --timeout covers loading and prints one clean line; a snapshot
// that cannot be written makes the run fail even after the guest powered off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreBuilt, findRv64Image } from '../rv64/helpers.js';
import { ensureDistBuilt } from './build-dist.js';
import { runTabvisor, stderrLines } from './run-tabvisor.js';

let dir: string;
const image = findRv64Image();

async function expectRefused(args: string[], pattern: RegExp): Promise<void> {
  // A FIFO without a writer used to block the run forever: the guard turns a hang into a failure.
  const r = await runTabvisor({ cwd: dir, args, guardMs: 30_000 });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
  expect(stderrLines(r), args.join(' ')).toHaveLength(1);
  expect(r.stderr).toMatch(/^tabvisor: /);
  expect(r.stderr).toMatch(pattern);
}

beforeAll(() => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tabvisor-limits-'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  // Sparse files: big on paper, nothing on the disk.
  writeFileSync(join(dir, 'big.bin'), '');
  truncateSync(join(dir, 'big.bin'), 200 * 1024 * 1024);
  writeFileSync(join(dir, 'big.elf'), Buffer.from('\x7fELF', 'latin1'));
  truncateSync(join(dir, 'big.elf'), 1100 * 1024 * 1024);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('input files that could hang or flood the run', () => {
  it('refuses a FIFO for every file option, at once', async () => {
    const fifo = join(dir, 'fifo');
    await expectRefused(['run', '--kernel', fifo], /--kernel .*fifo: is a FIFO \(named pipe\), not a regular file/);
    await expectRefused(['run', '--restore', fifo], /fifo.*: is a FIFO \(named pipe\), not a regular file/);
    if (image) {
      const { kernel, firmware } = image.paths;
      await expectRefused(['run', '--kernel', kernel, '--firmware', fifo], /--firmware .*fifo: is a FIFO/);
      await expectRefused(['run', '--kernel', kernel, '--firmware', firmware, '--initrd', fifo], /--initrd .*fifo: is a FIFO/);
      await expectRefused(['run', '--image', 'riscv64-busybox', '--disk', fifo], /--disk .*fifo is a FIFO/);
    }
  });

  it('refuses a device as a snapshot (--restore /dev/zero used to grow without bound)', async () => {
    await expectRefused(['run', '--restore', '/dev/zero'], /\/dev\/zero.*: is a character device, not a regular file/);
  });

  it.runIf(image)('refuses boot files bigger than the guest RAM, naming the limit', async () => {
    const { kernel, firmware } = image!.paths;
    await expectRefused(['run', '--kernel', kernel, '--firmware', firmware, '--initrd', 'big.bin', '--mem', '64'],
      /--initrd big\.bin: is 200\.0 MiB, more than the limit of 64\.0 MiB \(the guest's RAM, --mem\)/);
    await expectRefused(['run', '--kernel', 'big.elf'], /--kernel big\.elf: is 1\.1 GiB, more than the limit of 1\.0 GiB \(an ELF file: the larger of the guest RAM and 1\.0 GiB\)/);
    await expectRefused(['run', '--kernel', 'big.bin'], /--kernel big\.bin: is 200\.0 MiB, more than the limit of 128\.0 MiB \(the guest's RAM, --mem\)/);
  });
});

describe('limits are named', () => {
  it('--mem out of range says the limit', async () => {
    await expectRefused(['run', '--image', 'x86-busybox', '--mem', '999999'], /more than the largest guest RAM, 2048M/);
    await expectRefused(['run', '--kernel', 'prog.elf', '--mem', '4096'], /--mem 4096 is more than the largest guest RAM, 2048M/);
    await expectRefused(['run', '--image', 'x86-busybox', '--mem', '0'], /--mem must be at least 1M/);
  });

  it.runIf(coreBuilt() && image)('--mem too small for the boot files names the smallest that fits', async () => {
    await expectRefused(['run', '--image', 'riscv64-busybox', '--mem', '16'], /does not fit in 16\.0 MiB of RAM; needs --mem \d+M or more$/m);
  });

  it('--timeout beyond the longest timer is refused, naming the maximum', async () => {
    await expectRefused(['run', '--image', 'x86-busybox', '--timeout', '2147484'], /--timeout must be at most 2147483 seconds/);
  });
});

describe('--timeout', () => {
  it('counts from the start of the process, so it covers reading the input files', async () => {
    const r = await runTabvisor({ cwd: dir, args: ['run', '--image', 'x86-busybox', '--timeout', '0.001'] });
    expect(r.code).toBe(124);
    expect(r.stderr).toBe('tabvisor: timeout: still reading the input files after 0.001 s\n');
    expect(r.stdout).toBe('');
  });

  it.runIf(coreBuilt() && image)('prints exactly one line when it stops a guest (no leading blank line off a terminal)', async () => {
    // stdin stays open (signalWhen keeps it so): an ended input would end the run after 2 s of quiet.
    const r = await runTabvisor({ cwd: dir, args: ['run', '--image', 'riscv64-busybox', '--timeout', '10'], signalWhen: { stdout: /^$never/, signal: 'SIGTERM' } });
    expect(r.code).toBe(124);
    expect(r.stderr).toBe('tabvisor: timeout: the guest was still running after 10 s\n');
  });
});

describe('--snapshot-out that cannot be written', () => {
  it('exits 2 with one line even when the guest powered off first, and leaves no file', async () => {
    // The host's file size limit (ulimit -f, in 512-byte blocks; SIGXFSZ ignored so write() fails
    // with EFBIG) lets the folder check pass but makes the multi-MiB snapshot write fail.
    const out = join(dir, 'limited.tvsnap');
    const r = await runTabvisor({
      cwd: dir,
      shellPrefix: "trap '' XFSZ; ulimit -f 64",
      args: ['run', '--image', 'x86-busybox', '--snapshot-out', out],
      input: 'poweroff -f\n',
    });
    expect(r.code, r.stderr).toBe(2);
    expect(stderrLines(r)).toEqual([`tabvisor: cannot save snapshot ${out}: file too large (a file size limit of the host)`]);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('limited'))).toEqual([]);
  });
});
