// Boots Debian's OpenSBI (fw_jump, generic platform) on the core with a minimal device tree
// and the bare board's UART/syscon, then an S-mode payload at 0x8020_0000 that prints through
// the SBI, takes a timer interrupt via sbi_set_timer (OpenSBI's M-mode timer handling and
// STIP delegation), and shuts down through SBI SRST (OpenSBI drives the syscon).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BareBoard } from '../../../src/engines/rv64/bare.js';
import { RAM_BASE, StopReason, newCore } from './harness.js';
import { ROOT, assemble, haveToolchain, readElf } from './toolchain.js';
import { parseElf, loadElfInto } from '../../../src/engines/rv64/elf.js';

const FW = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
const haveDtc = spawnSync('dtc', ['--version']).status === 0;

const DTS = `/dts-v1/;
/ {
  #address-cells = <2>; #size-cells = <2>;
  compatible = "riscv-virtio"; model = "tabvisor,bare";
  chosen { stdout-path = "/soc/serial@10000000"; };
  cpus {
    #address-cells = <1>; #size-cells = <0>;
    timebase-frequency = <10000000>;
    cpu0: cpu@0 {
      device_type = "cpu"; reg = <0>; status = "okay"; compatible = "riscv";
      riscv,isa = "rv64imafdc_zicsr_zifencei"; mmu-type = "riscv,sv48";
      intc0: interrupt-controller { #interrupt-cells = <1>; interrupt-controller; compatible = "riscv,cpu-intc"; };
    };
  };
  memory@80000000 { device_type = "memory"; reg = <0x0 0x80000000 0x0 0x4000000>; };
  soc {
    #address-cells = <2>; #size-cells = <2>; compatible = "simple-bus"; ranges;
    clint@2000000 { compatible = "sifive,clint0", "riscv,clint0"; reg = <0x0 0x2000000 0x0 0x10000>;
      interrupts-extended = <&intc0 3 &intc0 7>; };
    serial@10000000 { compatible = "ns16550a"; reg = <0x0 0x10000000 0x0 0x100>; clock-frequency = <3686400>; };
    test@100000 { compatible = "sifive,test1", "sifive,test0", "syscon"; reg = <0x0 0x100000 0x0 0x1000>; phandle = <1>; };
    poweroff { compatible = "syscon-poweroff"; regmap = <1>; offset = <0>; value = <0x5555>; };
  };
};
`;

const PAYLOAD = `
  .section .text.init, "ax"
  .globl _start
_start:
  la sp, stack_top
  la a0, hello
  call puts
  la t0, strap
  csrw stvec, t0
  li t0, 1 << 5
  csrs sie, t0             # STIE
  csrsi sstatus, 2         # SIE
  rdtime a0
  li t0, 20000
  add a0, a0, t0
  li a7, 0x54494d45        # TIME extension: set_timer
  li a6, 0
  ecall
1: wfi
  la t0, ticked
  ld t0, 0(t0)
  beqz t0, 1b
  la a0, tick
  call puts
  li a7, 0x53525354        # SRST: shutdown
  li a6, 0
  li a0, 0
  li a1, 0
  ecall
  j .
puts:
  mv t1, a0
2: lbu a0, 0(t1)
  beqz a0, 3f
  li a7, 1                 # legacy console_putchar
  ecall
  addi t1, t1, 1
  j 2b
3: ret
  .balign 4
strap:
  li t0, 1 << 5
  csrc sie, t0
  li t0, 1
  la t1, ticked
  sd t0, 0(t1)
  sret
  .data
hello: .asciz "payload: hello from S mode\\n"
tick: .asciz "payload: timer interrupt\\n"
  .balign 8
ticked: .dword 0
  .bss
  .balign 16
  .space 4096
stack_top:
`;

describe.skipIf(!haveToolchain || !haveDtc || !existsSync(FW))('OpenSBI on the core', () => {
  it('boots fw_jump, runs an S-mode payload with SBI console, timer and shutdown', async () => {
    const dtb = join(ROOT, '.cache', 'core-unit', 'bare.dtb');
    mkdirSync(join(ROOT, '.cache', 'core-unit'), { recursive: true });
    writeFileSync(dtb + '.dts', DTS);
    execFileSync('dtc', ['-I', 'dts', '-O', 'dtb', '-o', dtb, dtb + '.dts'], { stdio: 'pipe' });
    // The payload is linked at 0x8000_0000 by the helper; relink it at 0x8020_0000.
    const elfPath = assemble(PAYLOAD.replace('.section .text.init, "ax"', '.section .text.init, "ax"\n  .org 0'), {
      cflags: ['-Wl,--section-start=.text=0x80200000', '-Wl,-Ttext=0x80200000'],
    });
    const board = new BareBoard();
    const core = await newCore({ ramMiB: 64, bus: board, deterministic: true });
    board.core = core;
    core.writePhys(RAM_BASE, new Uint8Array(readFileSync(FW)));
    const payload = readElf(elfPath);
    const image = parseElf(payload);
    expect(image.entry).toBe(0x8020_0000n);
    loadElfInto(image, payload, core.ram, RAM_BASE);
    const fdtAddr = 0x8200_0000n;
    core.writePhys(fdtAddr, new Uint8Array(readFileSync(dtb)));
    core.pc = RAM_BASE;
    core.setReg(10, 0n);
    core.setReg(11, fdtAddr);
    let out = '';
    for (let i = 0; i < 2000 && !board.event; i++) {
      const stop = core.run(100_000);
      out += String.fromCharCode(...board.out);
      board.out = [];
      if (stop === StopReason.Wfi) {
        const t = core.ticksUntilTimer();
        if (t === undefined) break;
        core.advanceTime(t);
      }
    }
    expect(out).toContain('OpenSBI');
    expect(out).toMatch(/Platform HART Count\s+: 1/);
    expect(out).toContain('payload: hello from S mode');
    expect(out).toContain('payload: timer interrupt');
    expect(board.event).toEqual({ kind: 'poweroff', code: 0 });
  });
});
