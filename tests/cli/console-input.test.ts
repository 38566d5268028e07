// The real `tabvisor` binary (node bin/tabvisor.js) with real guests: console input without a ready
// marker, each piped line echoed once, the end of piped input, the quit hint on a terminal, a
// crash of v86, the memory the x86 guest kernel ignores, one-line messages.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { ensureDistBuilt } from './build-dist.js';

const BIN = join(PROJECT_ROOT, 'bin', 'tabvisor.js');
const BIOS = join(PROJECT_ROOT, 'images', 'x86-busybox', 'bios.bin');
const KILL_MS = 200_000; // a guard against a hang only; no test measures time
const X86_TEST_MS = 240_000; // v86 boots take tens of seconds on a shared machine
let dir: string;

interface Result { code: number | null; stdout: string; stderr: string }

/** Runs `command args` with `input` on a pipe (kept open when undefined); `onOutput` may answer. */
function run(command: string, args: string[], input?: string,
  onOutput?: (text: string, write: (s: string) => void) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const write = (s: string): void => { child.stdin.write(s); };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('latin1');
      onOutput?.(stdout, write);
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('latin1'); });
    const guard = setTimeout(() => child.kill('SIGKILL'), KILL_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

const tabvisor = (args: string[], input?: string): Promise<Result> => run(process.execPath, [BIN, ...args], input);

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/**
 * A 1.5 KiB "bzImage" that v86 boots: the real-mode setup prints "X" on COM1, enters protected
 * mode, loads an empty IDT and executes ud2. The #UD cannot be delivered, which v86 does not
 * implement ("Unimplemented: #GP handler"): its wasm panics, the way a guest can crash v86.
 */
function crashingBzImage(): Uint8Array {
  const k = new Uint8Array(0x600);
  k[0x1f1] = 1; // setup_sects
  k.set([0x55, 0xaa], 0x1fe); // boot_flag
  k.set([0xeb, 0x7e], 0x200); // jmp 0x280
  k.set([0x48, 0x64, 0x72, 0x53, 0x0c, 0x02], 0x202); // "HdrS", boot protocol 2.12
  k[0x211] = 1; // loadflags: LOADED_HIGH
  k.set([
    0xfa, // cli
    0xba, 0xf8, 0x03, 0xb0, 0x58, 0xee, 0xb0, 0x0a, 0xee, // mov dx,0x3f8; mov al,'X'; out; mov al,'\n'; out
    0x66, 0x0f, 0x01, 0x16, 0x98, 0x03, // lgdtl [0x398]
    0x0f, 0x20, 0xc0, 0x66, 0x83, 0xc8, 0x01, 0x0f, 0x22, 0xc0, // cr0 |= PE
    0x66, 0xea, 0xa2, 0x02, 0x08, 0x00, 0x08, 0x00, // ljmpl 0x08:0x802a2
    0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xd0, // mov ax,0x10; mov ds,ax; mov ss,ax
    0x0f, 0x01, 0x1d, 0x9e, 0x03, 0x08, 0x00, // lidt [0x8039e] (limit 0)
    0x0f, 0x0b, // ud2
    0xeb, 0xfe, // jmp $
  ], 0x280);
  k.set([0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00], 0x388); // GDT 0x08: flat code
  k.set([0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00], 0x390); // GDT 0x10: flat data
  k.set([0x17, 0x00, 0x80, 0x03, 0x08, 0x00], 0x398); // GDTR: limit 23, base 0x80380
  return k; // IDTR at 0x39e: all zero
}

beforeAll(() => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tabvisor-console-'));
  writeFileSync(join(dir, 'crash.bzImage'), crashingBzImage());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('console input (riscv64 guest)', () => {
  it('shows each piped line once: sent when the shell prompts, not while the tty echoes too', async () => {
    const r = await tabvisor(['run', '--image', 'riscv64-busybox', '--timeout', '120'],
      'echo one-$((1+1))\necho two-$((1+2))\npoweroff -f\n');
    expect(r.code, r.stderr).toBe(0);
    expect(count(r.stdout, 'echo one-$((1+1))')).toBe(1);
    expect(count(r.stdout, 'echo two-$((1+2))')).toBe(1);
    expect(r.stdout).toMatch(/\r\none-2\r\n/);
    expect(r.stdout).toMatch(/\r\ntwo-3\r\n/);
    expect(r.stderr).toBe('');
  });

  it('waits for a last command that works silently longer than the end-of-input pause, then ends at the prompt', async () => {
    const r = await tabvisor(['run', '--image', 'riscv64-busybox', '--timeout', '120'], 'sleep 4; echo slept-$((2+3))\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\r\nslept-5\r\n/); // before: the run ended 2 s into the sleep
    expect(r.stderr).toBe('');
  });

  it('delivers input to a kernel that never prints the ready marker, and ends after the end of input', async () => {
    // rdinit=/bin/sh skips the image's init, which prints the marker: the shell just prompts.
    const r = await tabvisor(['run', '--image', 'riscv64-busybox', '--append', 'console=ttyS0 rdinit=/bin/sh',
      '--timeout', '120'], 'echo in-$((6*7))\n');
    expect(r.code, r.stderr).toBe(0); // not 124: the end of input ended the run, no poweroff needed
    expect(r.stdout).not.toMatch(/tabvisor-guest-ready/);
    expect(r.stdout).toMatch(/\r\nin-42\r\n/);
    expect(r.stderr).toBe('');
  });

  it('delivers input to hvc0 when the guest uses the virtio console (console=hvc0)', async () => {
    const r = await tabvisor(['run', '--image', 'riscv64-busybox', '--append', 'console=hvc0', '--timeout', '120'],
      'echo hvc-$((6*7))\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\r\nhvc-42\r\n/);
    expect(count(r.stdout, 'echo hvc-$((6*7))')).toBe(1);
  });

  it('on a terminal, says once how to quit, and Ctrl-A x quits', async () => {
    // script(1) gives tabvisor a pseudo-terminal; its output is the terminal's (stdout and stderr).
    let sent = false;
    const r = await run('script', ['-qfec', `${process.execPath} ${BIN} run --image riscv64-busybox --timeout 120`, '/dev/null'],
      undefined, (text, write) => {
        if (!sent && text.includes('tabvisor-guest-ready')) {
          sent = true;
          write('\x01x');
        }
      });
    expect(r.code, r.stdout.slice(-500)).toBe(0);
    expect(count(r.stdout, 'Ctrl-A x quits')).toBe(1);
    expect(r.stdout.indexOf('Ctrl-A x quits')).toBeLessThan(r.stdout.indexOf('Linux version'));
    expect(r.stdout).toMatch(/tabvisor: terminated \(Ctrl-A x\)/);
  });

  it('prints the timeout as one line, with no blank line before it', async () => {
    const r = await tabvisor(['run', '--image', 'riscv64-busybox', '--timeout', '3']);
    expect(r.code).toBe(124);
    // (On a loaded host the clock may run out while the files are still read: also one line.)
    expect(r.stderr).toMatch(/^tabvisor: timeout: (the guest was still running|still reading the input files) after 3 s\n$/);
  });
});

describe('console input and crashes (x86 guest on v86)', () => {
  it('without the marker and with --mem 2G: input delivered, the end of input ends the run, all the memory used', async () => {
    // The words of a panic's last line, printed by a living guest, are no crash.
    const r = await tabvisor(['run', '--image', 'x86-busybox', '--mem', '2G', '--append', 'console=ttyS0 rdinit=/bin/sh',
      '--timeout', '140'], "echo '---[ end Kernel panic - not syncing: only words ]---'\necho in-$((6*7))\nmount -t proc proc /proc; free -m | grep Mem\n");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\r\n---\[ end Kernel panic - not syncing: only words \]---\r\n/);
    expect(r.stdout).toMatch(/\r\nin-42\r\n/);
    expect(count(r.stdout, 'echo in-$((6*7))')).toBe(1);
    // The i386 kernel of the image has HIGHMEM: it uses (nearly) all of 2 GiB, so no note is due.
    expect(Number(/Mem:\s+(\d+)/.exec(r.stdout)?.[1])).toBeGreaterThan(1900);
    expect(r.stderr).not.toMatch(/HIGHMEM/);
  }, X86_TEST_MS);

  it('reports a kernel panic of the x86 guest as a crash (status 3), not a hang until --timeout', async () => {
    // No such init: the kernel falls back to mounting a root device, finds none, and panics.
    const r = await tabvisor(['run', '--image', 'x86-busybox', '--append', 'console=ttyS0 rdinit=/no-such-init',
      '--timeout', '140'], '');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/---\[ end Kernel panic - not syncing: /);
    expect(r.stderr).toMatch(/^tabvisor: guest stopped: kernel panic: VFS: Unable to mount root fs on [^\n]*\n$/);
  }, X86_TEST_MS);

  it('reports a crash of v86 as a crash: status 3, one stderr line with the reason, nothing of v86 on stdout', async () => {
    const r = await tabvisor(['run', '--kernel', 'crash.bzImage', '--firmware', BIOS, '--timeout', '60'], '');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/X\n/); // the guest ran
    expect(r.stdout).not.toMatch(/panicked/);
    expect(r.stderr).toMatch(/^tabvisor: guest stopped: v86 stopped: Unimplemented: #GP handler \(unreachable\)\n$/);
  }, X86_TEST_MS);
});
