// The rv64 Linux engine through the real `tabvisor` binary, as a user runs it: a manifest image, loose
// files with a raw disk written back, and a kernel file the board cannot boot.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDistBuilt } from '../cli/build-dist.js';
import { coreBuilt, findRv64Image, ROOT } from './helpers.js';

const BIN = join(ROOT, 'bin', 'tabvisor.js');
const image = findRv64Image();
const fromManifest = process.env.RV64_IMAGE_DIR === undefined;

interface Result { code: number | null; stdout: string; stderr: string }

function tabvisor(args: string[], input: string, cwd: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
    const guard = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe.runIf(coreBuilt() && image)('tabvisor run on the rv64 engine', () => {
  let dir: string;
  beforeAll(() => {
    ensureDistBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tabvisor-rv64-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.runIf(fromManifest)('--image riscv64-busybox: the README pipe example prints riscv64 and exits 0', async () => {
    const r = await tabvisor(['run', '--image', 'riscv64-busybox', '--stats'], 'uname -m\npoweroff -f\n', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/uname -m\r?\n(\r)?riscv64/);
    expect(r.stderr).toMatch(/engine:\s+rv64/);
    expect(r.stderr).toMatch(/instructions retired:\s+\d{8,}/);
  });

  it('--kernel/--firmware/--initrd/--disk with --disk-write-back: the guest\'s write lands in the file', async () => {
    const disk = join(dir, 'raw.img');
    writeFileSync(disk, new Uint8Array(1 << 20));
    const r = await tabvisor([
      'run', '--kernel', image!.paths.kernel, '--firmware', image!.paths.firmware, '--initrd', image!.paths.initrd,
      '--append', 'console=ttyS0', '--disk', disk, '--disk-write-back',
    ], 'echo written-through-the-cli > /dev/vda; sync\npoweroff -f\n', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`wrote the disk back to ${disk}`);
    const bytes = readFileSync(disk);
    expect(bytes.length).toBe(1 << 20);
    expect(bytes.subarray(0, 26).toString('latin1')).toBe('written-through-the-cli\n\0\0');
  });

  it('a kernel file that is not a kernel: exit status 2 and one line', async () => {
    const bad = join(dir, 'bad.bin');
    writeFileSync(bad, new Uint8Array(4096).fill(0x13));
    const r = await tabvisor(['run', '--kernel', bad, '--firmware', image!.paths.firmware], '', dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tabvisor: .*not a RISC-V Linux kernel/);
  });
});
