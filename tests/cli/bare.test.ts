// `tabvisor run --kernel prog.elf` without --firmware: bare-metal RISC-V test programs on our
// RV64 core, judged by the HTIF protocol (tohost). Programs are assembled here with Debian's
// cross toolchain; without it these tests are skipped.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { ensureDistBuilt } from './build-dist.js';

const BIN = process.env.TABVISOR_TEST_BIN ?? join(PROJECT_ROOT, 'bin', 'tabvisor.js');
const CC = 'riscv64-linux-gnu-gcc';
const haveCc = (() => {
  try {
    execFileSync(CC, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const haveCore = existsSync(join(PROJECT_ROOT, 'src', 'engines', 'rv64', 'bare.ts'));

let dir: string;

const LINK = `OUTPUT_ARCH(riscv)
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text.init) *(.text .text.*) }
  . = ALIGN(0x1000);
  .data : { *(.data .data.*) }
  . = ALIGN(0x1000);
  .tohost : { *(.tohost) }
}
`;

// Prints msg through HTIF console writes, then stores RESULT in tohost (1 = pass, (n<<1)|1 = fail n).
const PROGRAM = `
.section .text.init
.globl _start
_start:
  la a0, msg
  la t3, tohost
1:
  lbu t1, 0(a0)
  beqz t1, 2f
  li t2, 0x0101
  slli t2, t2, 48
  or t2, t2, t1
  sd t2, 0(t3)
3:
  ld t4, 0(t3)
  bnez t4, 3b
  addi a0, a0, 1
  j 1b
2:
#ifdef SPIN
4: j 4b
#endif
#ifdef WFI
6: wfi
  j 6b
#endif
  li t2, RESULT
  sd t2, 0(t3)
5: j 5b
.data
msg: .asciz "hello from the bare program\\n"
.section .tohost, "aw", @progbits
.align 6
.globl tohost
tohost: .dword 0
.globl fromhost
fromhost: .dword 0
`;

function build(name: string, defines: string[]): string {
  const out = join(dir, `${name}.elf`);
  execFileSync(CC, ['-nostdlib', '-nostartfiles', '-static', '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany',
    '-fno-pic', '-no-pie', '-Wl,--no-relax', '-Wl,--build-id=none', '-T', join(dir, 'link.ld'),
    ...defines.map((d) => `-D${d}`), join(dir, 'prog.S'), '-o', out], { stdio: 'pipe' });
  return out;
}

interface Result { code: number | null; stdout: string; stderr: string }

function tabvisor(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tabvisor-bare-'));
  writeFileSync(join(dir, 'link.ld'), LINK);
  writeFileSync(join(dir, 'prog.S'), PROGRAM);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!haveCc || !haveCore)('tabvisor run --kernel prog.elf (bare-metal RV64)', () => {
  it('exits 0 when the program passes, with its console output on stdout', async () => {
    const r = await tabvisor(['run', '--kernel', build('pass', ['RESULT=1']), '--stats']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello from the bare program\n');
    expect(r.stderr).toMatch(/^engine: +rv64 \(bare\)$/m);
    expect(r.stderr).toMatch(/^instructions retired: +[1-9]\d*$/m);
    expect(r.stderr).toMatch(/^first console byte: +\d+\.\d{3} s$/m);
  });

  it('exits 1 and names the case when the program fails', async () => {
    const r = await tabvisor(['run', '--kernel', build('fail3', ['RESULT=7'])]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('hello from the bare program\n');
    expect(r.stderr.trim()).toBe('tabvisor: test failed (case 3)');
  });

  it('exits 124 when the program outlives --timeout', async () => {
    const r = await tabvisor(['run', '--kernel', build('spin', ['RESULT=1', 'SPIN']), '--timeout', '0.5']);
    expect(r.code).toBe(124);
    expect(r.stderr.trim()).toMatch(/^tabvisor: timeout/);
  });

  it('says what happened when the program waits (wfi) for an interrupt that cannot come', async () => {
    const r = await tabvisor(['run', '--kernel', build('wfi', ['RESULT=1', 'WFI']), '--timeout', '60']);
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/^tabvisor: the program can never go on: (the )?hart waits \(wfi\) at pc 0x[0-9a-f]+ for an interrupt that cannot arrive( \(.*\))?\n$/);
    expect(r.stderr).not.toMatch(/still running/);
  });

  it('refuses options that mean nothing for a bare program', async () => {
    const r = await tabvisor(['run', '--kernel', build('pass', ['RESULT=1']), '--append', 'quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('tabvisor: --append does not apply to a bare-metal ELF run (no --firmware)');
  });
});
