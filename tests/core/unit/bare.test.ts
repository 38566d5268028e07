// runBareProgram: the HTIF protocol, the bare board (UART, syscon), limits and input errors.
import { describe, expect, it } from 'vitest';
import { runBareProgram, type BareRunResult } from '../../../src/engines/rv64/bare.js';
import { ElfError } from '../../../src/engines/rv64/elf.js';
import { EngineConfigError } from '../../../src/engines/create.js';
import { assemble, haveToolchain, readElf } from './toolchain.js';

const HTIF = `
  .section .tohost, "aw"
  .balign 64
  .globl tohost
tohost: .dword 0
  .balign 64
  .globl fromhost
fromhost: .dword 0
`;

async function run(source: string, opts: { maxInstructions?: number; memoryMiB?: number } = {}): Promise<BareRunResult & { out: string }> {
  const chunks: number[] = [];
  const r = await runBareProgram({
    elf: readElf(assemble(source)),
    memoryMiB: opts.memoryMiB ?? 8,
    maxInstructions: opts.maxInstructions ?? 10_000_000,
    timeoutMs: 60_000,
    stdout: (b) => chunks.push(...b),
  });
  return { ...r, out: String.fromCharCode(...chunks) };
}

const START = `  .section .text.init, "ax"\n  .globl _start\n_start:\n`;

describe.skipIf(!haveToolchain)('runBareProgram', () => {
  it('HTIF: prints characters, then 1 passes with exit 0', async () => {
    const r = await run(`${START}
  la t0, tohost
  li t1, (0x0101 << 48) | 'o'
  sd t1, 0(t0)
1: ld t2, 0(t0)
  bnez t2, 1b              # the runner clears tohost after printing
  li t1, (0x0101 << 48) | 'k'
  sd t1, 0(t0)
2: ld t2, 0(t0)
  bnez t2, 2b
  li t1, 1
  sd t1, 0(t0)
  j .
${HTIF}`);
    expect(r).toMatchObject({ reason: 'pass', exitCode: 0, out: 'ok' });
    expect(r.instructions).toBeGreaterThan(5);
    expect(r.firstOutputMs).toBeGreaterThanOrEqual(0);
  });

  it('HTIF: (n << 1) | 1 fails case n with exit 1', async () => {
    const r = await run(`${START}\n  la t0, tohost\n  li t1, (21 << 1) | 1\n  sd t1, 0(t0)\n  j .\n${HTIF}`);
    expect(r).toMatchObject({ reason: 'fail', exitCode: 1, failCase: 21, message: 'FAIL 21' });
  });

  it('HTIF syscall: SYS_write prints a buffer and SYS_exit ends', async () => {
    const r = await run(`${START}
  la t0, magic
  li t1, 64
  sd t1, 0(t0)
  li t1, 1
  sd t1, 8(t0)
  la t1, msg
  sd t1, 16(t0)
  li t1, 6
  sd t1, 24(t0)
  la t2, tohost
  sd t0, 0(t2)
  la t3, fromhost
1: ld t4, 0(t3)
  beqz t4, 1b
  sd zero, 0(t3)
  ld a0, 0(t0)             # bytes written
  li t1, 93
  sd t1, 0(t0)
  sd zero, 8(t0)
  sd t0, 0(t2)
  j .
  .data
  .balign 8
magic: .dword 0, 0, 0, 0
msg: .ascii "hello\\n"
${HTIF}`);
    expect(r).toMatchObject({ reason: 'pass', exitCode: 0, out: 'hello\n' });
  });

  it('bare board: UART output, syscon 0x5555 powers off with exit 0', async () => {
    const r = await run(`${START}
  li t0, 0x10000000
1: lbu t1, 5(t0)
  andi t1, t1, 0x20
  beqz t1, 1b              # LSR: transmitter empty
  li t1, 'h'
  sb t1, 0(t0)
  li t1, 'i'
  sb t1, 0(t0)
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
  j .
`);
    expect(r).toMatchObject({ reason: 'poweroff', exitCode: 0, out: 'hi' });
  });

  it('bare board: syscon 0x3333 | code << 16 fails with that exit code', async () => {
    const r = await run(`${START}\n  li t0, 0x100000\n  li t1, (7 << 16) | 0x3333\n  sw t1, 0(t0)\n  j .\n`);
    expect(r).toMatchObject({ reason: 'fail', exitCode: 7 });
  });

  it('an instruction limit ends a hang with exit 124', async () => {
    const r = await run(`${START}\n1: j 1b\n`, { maxInstructions: 250_000 });
    expect(r).toMatchObject({ reason: 'limit', exitCode: 124, instructions: 250_000 });
    expect(r.message).toMatch(/at pc 0x80000000 \(c\.j 0x80000000\)/);
  });

  it('wfi with no possible wake-up ends at once with its own result (not a timeout) and says why', async () => {
    const r = await run(`${START}\n1: wfi\n  j 1b\n`);
    expect(r.reason).toBe('wfi');
    expect(r.exitCode).toBe(1);
    expect(r.message).toMatch(/waits \(wfi\) at pc 0x8000000[04] for an interrupt that cannot arrive \(no timer is armed\)/);
    const masked = await run(`${START}
  li t0, 0x2004000
  sd zero, 0(t0)           # timer armed (due at once) but MTIE stays off
1: wfi
  j 1b
`);
    expect(masked.reason).toBe('wfi');
    expect(masked.message).toMatch(/timer interrupt is disabled/);
  });

  it('wfi with the timer armed sleeps until it fires (deterministic time)', async () => {
    const r = await run(`${START}
  li t0, 0x200bff8
  ld t1, 0(t0)
  li t2, 1000000
  add t1, t1, t2           # 0.1 s of guest time
  li t0, 0x2004000
  sd t1, 0(t0)
  li t0, 1 << 7
  csrs mie, t0
  wfi
  li t0, 0x200bff8
  ld t3, 0(t0)
  bltu t3, t1, bad
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
bad:
  li t0, 0x100000
  li t1, 0x13333
  sw t1, 0(t0)
`);
    expect(r).toMatchObject({ reason: 'poweroff', exitCode: 0 });
    expect(r.instructions).toBeLessThan(100);
  });

  it('rejects what is not a 64-bit RISC-V ELF inside RAM with a clear ElfError', async () => {
    const good = readElf(assemble(`${START}\n  j .\n`));
    const bad = async (elf: Uint8Array, memoryMiB = 8): Promise<unknown> =>
      runBareProgram({ elf, memoryMiB, stdout: () => {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
    const notElf = await bad(new TextEncoder().encode('#!/bin/sh\necho hi\n'.repeat(8)));
    expect(notElf).toBeInstanceOf(ElfError);
    expect(String(notElf)).toMatch(/not an ELF/);
    const elf32 = good.slice();
    elf32[4] = 1;
    expect(String(await bad(elf32))).toMatch(/32-bit/);
    const x86 = good.slice();
    x86[18] = 62;
    x86[19] = 0;
    expect(String(await bad(x86))).toMatch(/not RISC-V/);
    const big = readElf(assemble(`${START}\n  j .\n  .data\n  .space 4 << 20\n`));
    expect(String(await bad(big, 2))).toMatch(/outside RAM/);
    expect(await bad(good, 4096)).toBeInstanceOf(EngineConfigError);
    expect(await bad(good, 0.5)).toBeInstanceOf(EngineConfigError);
  });
});
