// The strongest core test here: Debian's OpenSBI (the image's fw_jump.bin) and the image's
// Linux 6.1 + BusyBox initramfs boot on the core to the shell's ready marker, with a bare
// board (polled 16550 UART, syscon, CLINT; no PLIC) and deterministic time.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BareBoard } from '../../../src/engines/rv64/bare.js';
import { RAM_BASE, StopReason, newCore } from './harness.js';
import { ROOT } from './toolchain.js';

const IMG = join(ROOT, 'images', 'riscv64-busybox');
const have = ['fw_jump.bin', 'Image', 'initrd.cpio'].every((f) => existsSync(join(IMG, f)));
const haveDtc = spawnSync('dtc', ['--version']).status === 0;
const INITRD = 0x8400_0000n;
const FDT = 0x87e0_0000n;

function deviceTree(initrdBytes: number): Uint8Array {
  const end = INITRD + BigInt(initrdBytes);
  const dts = `/dts-v1/;
/ { #address-cells = <2>; #size-cells = <2>; compatible = "riscv-virtio"; model = "tabvisor,bare";
  chosen { bootargs = "console=ttyS0 earlycon=sbi"; stdout-path = "/soc/serial@10000000";
    linux,initrd-start = <0x0 0x${INITRD.toString(16)}>; linux,initrd-end = <0x0 0x${end.toString(16)}>; };
  cpus { #address-cells = <1>; #size-cells = <0>; timebase-frequency = <10000000>;
    cpu0: cpu@0 { device_type = "cpu"; reg = <0>; status = "okay"; compatible = "riscv";
      riscv,isa = "rv64imafdc_zicsr_zifencei"; mmu-type = "riscv,sv48";
      intc0: interrupt-controller { #interrupt-cells = <1>; interrupt-controller; compatible = "riscv,cpu-intc"; }; }; };
  memory@80000000 { device_type = "memory"; reg = <0x0 0x80000000 0x0 0x8000000>; };
  soc { #address-cells = <2>; #size-cells = <2>; compatible = "simple-bus"; ranges;
    clint@2000000 { compatible = "sifive,clint0", "riscv,clint0"; reg = <0x0 0x2000000 0x0 0x10000>;
      interrupts-extended = <&intc0 3 &intc0 7>; };
    serial@10000000 { compatible = "ns16550a"; reg = <0x0 0x10000000 0x0 0x100>; clock-frequency = <3686400>; };
    test@100000 { compatible = "sifive,test1", "sifive,test0", "syscon"; reg = <0x0 0x100000 0x0 0x1000>; }; }; };
`;
  const path = join(ROOT, '.cache', 'core-unit', 'linux.dts');
  writeFileSync(path, dts);
  execFileSync('dtc', ['-I', 'dts', '-O', 'dtb', '-o', path + '.dtb', path], { stdio: 'pipe' });
  return new Uint8Array(readFileSync(path + '.dtb'));
}

describe.skipIf(!have || !haveDtc)('Linux on the core', () => {
  it('boots OpenSBI + Linux 6.1 + BusyBox to the ready marker (Sv48 advertised)', async () => {
    const initrd = new Uint8Array(readFileSync(join(IMG, 'initrd.cpio')));
    const board = new BareBoard();
    const core = await newCore({ ramMiB: 128, bus: board, deterministic: true });
    board.core = core;
    core.writePhys(RAM_BASE, new Uint8Array(readFileSync(join(IMG, 'fw_jump.bin'))));
    core.writePhys(0x8020_0000n, new Uint8Array(readFileSync(join(IMG, 'Image'))));
    core.writePhys(INITRD, initrd);
    core.writePhys(FDT, deviceTree(initrd.length));
    core.pc = RAM_BASE;
    core.setReg(10, 0n);
    core.setReg(11, FDT);
    let out = '';
    while (core.steps < 300_000_000n && !out.includes('tabvisor-guest-ready')) {
      const stop = core.run(200_000);
      out += String.fromCharCode(...board.out);
      board.out = [];
      if (stop === StopReason.Wfi) {
        const t = core.ticksUntilTimer();
        expect(t, 'the kernel idles with no timer armed').toBeDefined();
        core.advanceTime(t!);
      }
    }
    expect(out).toContain('Linux version 6.1');
    expect(out).toMatch(/riscv: base ISA extensions acdfim/);
    expect(out).toContain('Run /init as init process');
    expect(out).toContain('tabvisor-guest-ready');
    expect(core.priv).toBeLessThan(3);
  });
});
