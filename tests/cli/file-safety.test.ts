// Output files are written without damaging what is at the path (issue 12, defect 1):
// --snapshot-out and --disk-write-back follow symlinks to their target, keep its mode, owner and
// hard links, and refuse devices, FIFOs, sockets, folders, read-only files (and, for the renaming
// --snapshot-out, hard-linked files) with one line, exit 2, before the guest runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync,
  symlinkSync, writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreBuilt, findRv64Image } from '../rv64/helpers.js';
import { ensureDistBuilt } from './build-dist.js';
import { runTabvisor, stderrLines } from './run-tabvisor.js';

let dir: string;
let socketServer: Server;

/** A pid that belongs to no process now (one of a child that has ended). */
function deadPid(): number {
  const child = spawnSync('true');
  return child.pid!;
}
const isRoot = process.getuid?.() === 0;

async function expectRefused(args: string[], pattern: RegExp): Promise<void> {
  const r = await runTabvisor({ cwd: dir, args, guardMs: 30_000 });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
  expect(stderrLines(r), args.join(' ')).toHaveLength(1);
  expect(r.stderr).toMatch(/^tabvisor: /);
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout).toBe(''); // refused before the guest ran
}

/** Paths of every kind that must not be replaced, made in `sub`. */
function makeSpecialFiles(sub: string) {
  mkdirSync(sub);
  const paths = {
    device: join(sub, 'null'), fifo: join(sub, 'fifo'), socket: join(sub, 'socket'), folder: join(sub, 'folder'),
    readOnly: join(sub, 'read-only.bin'), linkToDevice: join(sub, 'link-to-null'),
  };
  execFileSync('mknod', [paths.device, 'c', '1', '3']); // a /dev/null of our own
  execFileSync('mkfifo', [paths.fifo]);
  mkdirSync(paths.folder);
  writeFileSync(paths.readOnly, new Uint8Array(4096).fill(7));
  chmodSync(paths.readOnly, 0o444);
  symlinkSync(paths.device, paths.linkToDevice);
  return paths;
}

beforeAll(async () => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tabvisor-files-'));
  socketServer = createServer();
  await new Promise<void>((resolve) => socketServer.listen(join(dir, 'sock'), resolve));
});
afterAll(() => {
  socketServer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(isRoot)('--snapshot-out never damages what is at the path', () => {
  it('refuses devices, FIFOs, sockets, folders, read-only and hard-linked files before booting, and leaves them as they were', async () => {
    const p = makeSpecialFiles(join(dir, 'snap'));
    const hard = join(dir, 'snap', 'hard.tvsnap');
    writeFileSync(hard, 'old');
    linkSync(hard, join(dir, 'snap', 'hard-2.tvsnap'));
    const run = (out: string) => ['run', '--image', 'x86-busybox', '--snapshot-out', out];
    await expectRefused(run(p.device), /null: is a character device, not a regular file/);
    await expectRefused(run(p.linkToDevice), /its target .*null is a character device/);
    await expectRefused(run(p.fifo), /is a FIFO \(named pipe\), not a regular file/);
    await expectRefused(run(join(dir, 'sock')), /is a socket, not a regular file/);
    await expectRefused(run(p.folder), /is a folder, not a regular file/);
    await expectRefused(run(p.readOnly), /is read-only \(mode 0444\)/);
    await expectRefused(run(hard), /has 2 hard links/);
    expect(lstatSync(p.device).isCharacterDevice()).toBe(true);
    expect(lstatSync(p.device).rdev).toBe(statSync('/dev/null').rdev);
    expect(lstatSync(p.linkToDevice).isSymbolicLink()).toBe(true);
    expect(lstatSync(p.fifo).isFIFO()).toBe(true);
    expect(statSync(p.readOnly).mode & 0o777).toBe(0o444);
    expect(readFileSync(hard, 'latin1')).toBe('old');
    expect(statSync(hard).nlink).toBe(2);
    expect(readdirSync(join(dir, 'snap')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('writes through a symlink into its target and keeps the target\'s mode and owner', async () => {
    const sub = join(dir, 'snap-link');
    mkdirSync(sub);
    const target = join(sub, 'real.tvsnap');
    const link = join(sub, 'link.tvsnap');
    writeFileSync(target, 'old');
    chmodSync(target, 0o640);
    chownSync(target, 4321, 4321);
    symlinkSync('real.tvsnap', link);
    // What a writer killed in the middle of a write leaves behind; the next write removes it.
    const stale = join(sub, `.real.tvsnap.${deadPid()}.0badc0de.tmp`);
    writeFileSync(stale, 'half a snapshot');
    const r = await runTabvisor({
      cwd: dir, args: ['run', '--image', 'x86-busybox', '--snapshot-out', link], input: 'poweroff -f\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const s = statSync(target);
    expect(s.mode & 0o7777).toBe(0o640);
    expect([s.uid, s.gid]).toEqual([4321, 4321]);
    expect(readFileSync(target).subarray(0, 7).toString('latin1')).toBe('\x89TVSNAP');
    expect(readdirSync(sub).sort()).toEqual(['link.tvsnap', 'real.tvsnap']);
  });
});

describe.runIf(isRoot && coreBuilt() && findRv64Image())('--disk-write-back never damages what is at the path', () => {
  it('refuses devices, FIFOs and read-only files before booting', async () => {
    const p = makeSpecialFiles(join(dir, 'disk'));
    const run = (disk: string) => ['run', '--image', 'riscv64-busybox', '--disk', disk, '--disk-write-back'];
    await expectRefused(run(p.device), /is a character device, not a regular file/);
    await expectRefused(run(p.linkToDevice), /is a character device, not a regular file/);
    await expectRefused(run(p.fifo), /is a FIFO \(named pipe\), not a regular file/);
    await expectRefused(run(p.folder), /is a folder/);
    await expectRefused(run(p.readOnly), /is read-only \(mode 0444\)/);
    // A snapshot renamed over the disk would leave the run writing into a deleted file.
    const own = join(dir, 'disk', 'own.img');
    writeFileSync(own, new Uint8Array(4096));
    symlinkSync('own.img', join(dir, 'disk', 'alias.img'));
    await expectRefused([...run(own), '--snapshot-out', join(dir, 'disk', 'alias.img')], /alias\.img is the --disk file/);
    expect(lstatSync(p.device).isCharacterDevice()).toBe(true);
    expect(lstatSync(p.linkToDevice).isSymbolicLink()).toBe(true);
    expect(statSync(p.readOnly).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(dir, 'disk')).sort()).toEqual(['alias.img', 'fifo', 'folder', 'link-to-null', 'null', 'own.img', 'read-only.bin']);
  });

  it('writes in place: through a symlink, into every hard link, keeping mode and owner', async () => {
    const sub = join(dir, 'disk-link');
    mkdirSync(sub);
    const target = join(sub, 'real.img');
    const link = join(sub, 'link.img');
    const hard = join(sub, 'hard.img');
    writeFileSync(target, new Uint8Array(1 << 20));
    chmodSync(target, 0o600);
    chownSync(target, 4321, 4321);
    symlinkSync('real.img', link);
    linkSync(target, hard);
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--image', 'riscv64-busybox', '--disk', link, '--disk-write-back'],
      input: 'echo through-the-link > /dev/vda; sync\npoweroff -f\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    for (const name of [target, hard]) {
      expect(readFileSync(name).subarray(0, 17).toString('latin1')).toBe('through-the-link\n');
    }
    const s = statSync(target);
    expect(s.nlink).toBe(2);
    expect(s.mode & 0o7777).toBe(0o600);
    expect([s.uid, s.gid]).toEqual([4321, 4321]);
    expect(readdirSync(sub).sort()).toEqual(['hard.img', 'link.img', 'real.img']);
  });
});
