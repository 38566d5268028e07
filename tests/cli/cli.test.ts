// Runs the real `tabvisor` binary (node bin/tabvisor.js) the way a user does.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { ensureDistBuilt } from './build-dist.js';
import { ENGINE_STATE_SECTION, SnapshotWriter } from '../../src/snapshot/format.js';

const BIN = join(PROJECT_ROOT, 'bin', 'tabvisor.js');
let dir: string;

interface Result { code: number | null; stdout: string; stderr: string }

/** Runs tabvisor with `input` on a pipe (or nothing when input is undefined). */
function tabvisor(args: string[], input?: string, killAfterMs = 120_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('latin1'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('latin1'); });
    const guard = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

/** Exit status 2 and exactly one `tabvisor: ...` line on stderr, no stack trace. */
async function expectUsageError(args: string[], pattern: RegExp): Promise<void> {
  const r = await tabvisor(args, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
  expect(lines, `${args.join(' ')}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^tabvisor: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

beforeAll(() => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tabvisor-cli-'));
  writeFileSync(join(dir, 'notes.txt'), 'this is not a kernel\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tabvisor (no guest)', () => {
  it('prints help and version', async () => {
    const help = await tabvisor(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: tabvisor <command>/);
    const runHelp = await tabvisor(['run', '--help']);
    expect(runHelp.code).toBe(0);
    expect(runHelp.stdout).toMatch(/--snapshot-out FILE/);
    const version = await tabvisor(['--version']);
    expect(version.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout).toBe(`tabvisor ${pkg.version}\n`);
  });

  it('lists the images of the manifest', async () => {
    const r = await tabvisor(['images']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+ENGINE\s+ARCH\s+MEMORY/);
    expect(r.stdout).toMatch(/^x86-busybox\s+v86\s+i686\s+128M/m);
  });

  it('refuses bad arguments with exit status 2 and one line', async () => {
    await expectUsageError([], /no command given/);
    await expectUsageError(['boot'], /unknown command 'boot'/);
    await expectUsageError(['run', '--image', 'x86-busybox', '--turbo'], /unknown option '--turbo'/);
    await expectUsageError(['run', '--image'], /--image needs a value/);
    await expectUsageError(['run'], /nothing to run/);
    await expectUsageError(['run', '--image', 'x86-busybox', '--mem', 'big'], /--mem must be a size/);
    await expectUsageError(['run', '--image', 'x86-busybox', '--engine', 'rv64'], /runs on the v86 engine, not rv64/);
  });

  it('refuses unusable input files with exit status 2 and one line', async () => {
    await expectUsageError(['run', '--image', 'no-such-image'], /no image named 'no-such-image'.*have: .*x86-busybox/);
    await expectUsageError(['run', '--kernel', 'missing.elf'], /cannot read --kernel missing.elf: no such file/);
    await expectUsageError(['run', '--kernel', dir], /cannot read --kernel .*: is a folder/);
    await expectUsageError(['run', '--kernel', 'notes.txt'], /notes.txt is neither an ELF program nor a kernel/);
    await expectUsageError(['run', '--kernel', process.execPath], /is an ELF file for another architecture/);
    await expectUsageError(['run', '--engine', 'v86', '--kernel', 'notes.txt', '--firmware', 'notes.txt'],
      /notes.txt is not a Linux bzImage/);
    const bz = join(PROJECT_ROOT, 'images', 'x86-busybox', 'bzImage');
    await expectUsageError(['run', '--kernel', bz], /needs --firmware/);
    await expectUsageError(['run', '--kernel', bz, '--firmware', 'missing.bin'], /cannot read --firmware missing.bin: no such file/);
    await expectUsageError(['run', '--image', 'riscv64-busybox', '--disk', 'missing.img'], /cannot read --disk missing.img: no such file/);
    await expectUsageError(['run', '--image', 'x86-busybox', '--disk', 'notes.txt', '--snapshot-out', 'a.tvsnap'], /--snapshot-out cannot be combined with --disk on the v86 engine/);
    await expectUsageError(['run', '--image', 'x86-busybox', '--disk', 'notes.txt', '--disk-overlay', 'notes.txt'], /--disk-overlay must not name the file given to --disk/);
    await expectUsageError(['run', '--image', 'x86-busybox', '--disk', 'missing.img', '--disk-overlay', 'o.tvoverlay'], /cannot read --disk missing.img: no such file/);
    await expectUsageError(['run', '--image', 'x86-busybox', '--mem', '64M'], /needs --mem 67M or more/);
    await expectUsageError(['run', '--image', 'x86-busybox', '--snapshot-out', 'no/such/folder/a.tvsnap'],
      /cannot write --snapshot-out .*no such file/);
    await expectUsageError(['run', '--restore', 'missing.tvsnap'], /cannot read snapshot 'missing.tvsnap': no such file/);
    await expectUsageError(['run', '--restore', 'notes.txt'], /notes.txt: not a Tabvisor snapshot \(wrong magic bytes\)/);
    // An intact container whose engine state is garbage: refused by the engine, still one line.
    const junk = await new SnapshotWriter({ engine: 'v86', memoryMiB: 128 })
      .addSection(ENGINE_STATE_SECTION, new Uint8Array(4096).fill(0x5a)).encode();
    writeFileSync(join(dir, 'junk.tvsnap'), junk);
    await expectUsageError(['run', '--restore', 'junk.tvsnap', '--timeout', '60'], /the saved v86 state does not load/);
  });
});

describe('tabvisor run on x86-busybox', () => {
  it('runs the README example: prints i686 and exits 0 when the guest powers off', async () => {
    const r = await tabvisor(['run', '--image', 'x86-busybox'], 'uname -m\npoweroff -f\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\r?\ni686\r?\n/);
    expect(r.stdout).toMatch(/System halted|Power down/);
  });

  it('exits 124 on --timeout, with one line saying so', async () => {
    // The clock starts with the process; 8 s leaves room to load the files on a busy machine.
    const r = await tabvisor(['run', '--image', 'x86-busybox', '--timeout', '8']);
    expect(r.code).toBe(124);
    expect(r.stderr).toBe('tabvisor: timeout: the guest was still running after 8 s\n');
  });

  it('saves a snapshot once the guest is ready, keeps running, and --restore answers from it', async () => {
    const snap = join(dir, 'ready.tvsnap');
    const first = await tabvisor(['run', '--image', 'x86-busybox', '--snapshot-out', snap, '--stats'],
      'echo booted-$((40+2))\npoweroff -f\n');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/booted-42/); // input after the snapshot still reached the guest
    expect(first.stderr).toMatch(/saved snapshot .*ready\.tvsnap/);
    expect(first.stderr).toMatch(/^instructions retired: +[1-9]\d{6,}$/m);
    expect(first.stderr).toMatch(/^wall seconds: +\d+\.\d{3}$/m);
    expect(first.stderr).toMatch(/^MIPS: +\d+\.\d$/m);
    expect(first.stderr).toMatch(/^first console byte: +\d+\.\d{3} s$/m);
    expect(statSync(snap).size).toBeGreaterThan(100_000);

    const second = await tabvisor(['run', '--restore', snap], 'uname -m\necho restored-$((3*3))\npoweroff -f\n');
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/\r?\ni686\r?\n/);
    expect(second.stdout).toMatch(/restored-9/);
    expect(second.stdout).not.toMatch(/Linux version/); // no boot happened

    // Damaged copies of the same file are refused before anything runs.
    const bytes = readFileSync(snap);
    const truncated = join(dir, 'truncated.tvsnap');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectUsageError(['run', '--restore', truncated], /truncated\.tvsnap: snapshot is truncated/);
    const corrupted = join(dir, 'corrupted.tvsnap');
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 3)] ^= 0x10;
    writeFileSync(corrupted, flipped);
    await expectUsageError(['run', '--restore', corrupted], /corrupted\.tvsnap: snapshot is corrupted \(checksum mismatch\)/);
    await expectUsageError(['run', '--restore', snap, '--engine', 'rv64'], /is a v86 snapshot, not rv64/);
  });
});
