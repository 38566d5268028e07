// Our devices under real drivers: OpenSBI (Debian's fw_jump.bin) runs on the rv64 core with
// VirtDevices on the bus and our device tree, prints its banner through our UART and powers off
// through our syscon; an S-mode payload then takes UART receive interrupts through our PLIC.
// Skipped when the core is not built, or OpenSBI or the cross assembler is not installed.

import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreAvailable, createMachine, FW_JUMP } from './helpers/machine.js';

const canRun = coreAvailable() && existsSync(FW_JUMP);
const hasAs = spawnSync('riscv64-linux-gnu-as', ['--version']).status === 0;

const machine = (payload: Uint8Array) => createMachine({ payload });

function assemble(source: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'tabvisor-fw-'));
  try {
    writeFileSync(join(dir, 'p.S'), source);
    const step = (cmd: string, args: string[]) => {
      const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    };
    step('riscv64-linux-gnu-as', ['-march=rv64imac_zicsr', '-o', 'p.o', 'p.S']);
    step('riscv64-linux-gnu-ld', ['-Ttext=0x80200000', '-o', 'p.elf', 'p.o']);
    step('riscv64-linux-gnu-objcopy', ['-O', 'binary', 'p.elf', 'p.bin']);
    return new Uint8Array(readFileSync(join(dir, 'p.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.runIf(canRun)('devices under OpenSBI on the rv64 core', () => {
  it('OpenSBI finds the UART, CLINT and syscon in our tree, prints through the UART and powers off', async () => {
    // Payload: li a7, 8 (legacy SBI shutdown); ecall.
    const m = await machine(Uint8Array.of(0x93, 0x08, 0x80, 0x00, 0x73, 0x00, 0x00, 0x00));
    const out = m.run(() => false, 1e8);
    expect(out).toContain('OpenSBI v');
    expect(out).toMatch(/Platform Name\s+: riscv-virtio,tabvisor/);
    expect(out).toMatch(/Platform Console Device\s+: uart8250/);
    expect(out).toMatch(/Platform Timer Device\s+: aclint-mtimer @ 10000000Hz/);
    expect(out).toMatch(/Platform Shutdown Device\s+: sifive_test/);
    expect(m.events).toEqual(['poweroff']);
    // OpenSBI masked every PLIC source for both contexts (threshold 7) during its init.
    expect(m.devices.plic.read(0x20_0000, 4)).toBe(7);
  });

  it.runIf(hasAs)('delivers UART receive interrupts through the PLIC to an S-mode handler', async () => {
    const payload = assemble(PAYLOAD);
    const m = await machine(payload);
    m.run((out) => out.endsWith('R'), 1e8);
    let typed = false;
    const out = m.run(
      () => false,
      1e8,
      () => {
        if (!typed) {
          typed = true;
          m.console.type('hello\n');
        }
      },
    );
    expect(out.endsWith('RHELLO')).toBe(true);
    expect(m.events).toEqual(['poweroff']);
  });
});

// S-mode payload: routes the UART's receive interrupt through the PLIC to SEIP, echoes each received
// byte upper-cased until '\n', then shuts down through SBI. Anything unexpected prints 'F'.
const PAYLOAD = `
  .equ UART, 0x10000000
  .equ PLIC, 0x0c000000
  .option norvc
  .globl _start
_start:
  la t0, trap
  csrw stvec, t0
  li t0, PLIC
  li t1, 1
  sw t1, 40(t0)            # priority[10] = 1
  li t2, 0x2080            # S-context enables
  add t2, t2, t0
  li t1, 1 << 10
  sw t1, 0(t2)
  li t2, 0x201000          # S-context threshold = 0
  add t2, t2, t0
  sw zero, 0(t2)
  li t0, UART
  li t1, 1
  sb t1, 1(t0)             # IER = RX data available
  li t1, 0x200             # sie.SEIE
  csrs sie, t1
  csrsi sstatus, 2         # sstatus.SIE
  li t1, 'R'               # ready
  sb t1, 0(t0)
idle:
  wfi
  j idle

  .align 4
trap:
  csrr t3, scause
  li t4, (1 << 63) | 9     # supervisor external interrupt
  bne t3, t4, fail
  li t0, PLIC
  li t2, 0x201004
  add t2, t2, t0
  lw t5, 0(t2)             # claim
  li t4, 10
  bne t5, t4, fail
  li t0, UART
drain:
  lbu t1, 5(t0)            # LSR.DR
  andi t1, t1, 1
  beqz t1, done
  lbu t1, 0(t0)            # RBR
  li t4, '\\n'
  beq t1, t4, shutdown
  addi t1, t1, -32
  sb t1, 0(t0)
  j drain
done:
  sw t5, 0(t2)             # complete
  sret
shutdown:
  li a7, 8
  ecall
fail:
  li a0, 'F'
  li a7, 1
  ecall
  li a7, 8
  ecall
`;
