#!/usr/bin/env node
// JIT against interpreter on the same program in the same process: bench-mips's C mix
// (tests/core/unit/programs/mips.c) run with the JIT off, then on; prints MIPS per CPU-second
// and the JIT counters; then bench/cpu.js's guest (bench/programs/cpu.c: hashing, heap sort,
// double matrix multiply: F/D and CSR instructions in hot loops), the same way; then the Linux boot of tests/core/unit/linux-boot.test.ts (OpenSBI +
// Linux 6.1 + BusyBox to the ready marker, bare board, deterministic time) off and on.
// Usage: node bench/jit.js [rounds=400] [repeat=2] [--no-mix] [--no-cpu] [--no-boot] [--threshold=N]   (needs npm run build; the
// boot needs .cache/core-unit/linux.dts.dtb, written by that test)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pos = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rounds = Number(pos[0] ?? 400);
const repeat = Number(pos[1] ?? 2);
const boot = !process.argv.includes('--no-boot');
const thArg = process.argv.find((a) => a.startsWith('--threshold='));
/** JIT options of the "on" runs (default: the JIT's defaults). */
const jitOn = thArg ? { threshold: Number(thArg.slice(12)) } : true;
const fmt = (o) => JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? Math.round(v * 10) / 10 : v));
const out = join(root, '.cache', 'core-unit');
mkdirSync(out, { recursive: true });
const elf = join(out, `mips-${rounds}.elf`);
const p = join(root, 'tests', 'core', 'unit', 'programs');
execFileSync('riscv64-linux-gnu-gcc', [
  '-O2', '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany', '-fno-pie', '-no-pie', '-static', '-nostdlib',
  '-nostartfiles', '-ffreestanding', '-Wl,--build-id=none', '-Wl,--no-warn-rwx-segments', `-DROUNDS=${rounds}`,
  '-T', join(p, 'link.ld'), join(p, 'crt0.S'), join(p, 'mips.c'), '-o', elf,
]);
const { runBareProgram } = await import(join(root, 'dist', 'engines', 'rv64', 'bare.js'));
const bytes = new Uint8Array(readFileSync(elf));
for (let i = 0; i < (process.argv.includes('--no-mix') ? 0 : repeat); i++) {
  for (const jit of [false, jitOn]) {
    let text = '';
    const cpu0 = process.cpuUsage();
    const r = await runBareProgram({ elf: bytes, memoryMiB: 16, jit, stdout: (b) => (text += Buffer.from(b).toString()) });
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(
      `jit=${jit ? 'on ' : 'off'} ${r.reason} ${text.trim()} instructions=${r.instructions} cpu=${cpuMs.toFixed(0)}ms ` +
        `MIPS(cpu)=${(r.instructions / cpuMs / 1000).toFixed(1)}`,
    );
    if (r.jit && i === repeat - 1) console.log('  jit counters:', fmt(r.jit));
  }
}

// bench/cpu.js's guest: MIPS per CPU-second (bench/cpu.js compares wall time with QEMU).
if (!process.argv.includes('--no-cpu')) {
  const { buildProgram } = await import(join(root, 'tests', 'core', 'lib', 'toolchain.mjs'));
  const cpuElf = buildProgram({
    name: 'bench-cpu-s32',
    sources: [join(root, 'bench', 'programs', 'crt0.S'), join(root, 'bench', 'programs', 'cpu.c')],
    cflags: ['-O2', '-ffreestanding', '-fno-builtin', '-DSCALE=32'],
  });
  const cpuBytes = new Uint8Array(readFileSync(cpuElf));
  for (let i = 0; i < repeat; i++) {
    for (const jit of [false, jitOn]) {
      const cpu0 = process.cpuUsage();
      const r = await runBareProgram({ elf: cpuBytes, memoryMiB: 64, jit, stdout: () => {} });
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      console.log(`cpu.c jit=${jit ? 'on ' : 'off'} ${r.reason} instructions=${r.instructions} cpu=${cpuMs.toFixed(0)}ms MIPS(cpu)=${(r.instructions / cpuMs / 1000).toFixed(1)}`);
      if (r.jit && i === repeat - 1) console.log('  jit counters:', fmt(r.jit));
    }
  }
}

const dtb = join(root, '.cache', 'core-unit', 'linux.dts.dtb');
if (boot && existsSync(dtb)) {
  const { Rv64Core, StopReason } = await import(join(root, 'dist', 'engines', 'rv64', 'core.js'));
  const { BareBoard } = await import(join(root, 'dist', 'engines', 'rv64', 'bare.js'));
  const { loadRv64Module } = await import(join(root, 'dist', 'engines', 'rv64', 'wasm-node.js'));
  const img = join(root, 'images', 'riscv64-busybox');
  const module = await loadRv64Module();
  for (let i = 0; i < repeat; i++) {
    for (const jit of [false, jitOn]) {
      const board = new BareBoard();
      const core = Rv64Core.fromModule(module, { ramBytes: 128 << 20, bus: board, deterministic: { insnsPerTick: 10 }, jit });
      board.core = core;
      core.writePhys(0x8000_0000n, new Uint8Array(readFileSync(join(img, 'fw_jump.bin'))));
      core.writePhys(0x8020_0000n, new Uint8Array(readFileSync(join(img, 'Image'))));
      core.writePhys(0x8400_0000n, new Uint8Array(readFileSync(join(img, 'initrd.cpio'))));
      core.writePhys(0x87e0_0000n, new Uint8Array(readFileSync(dtb)));
      core.pc = 0x8000_0000n;
      core.setReg(11, 0x87e0_0000n);
      let out = '';
      const cpu0 = process.cpuUsage();
      while (core.steps < 300_000_000n && !out.includes('tabvisor-guest-ready')) {
        const stop = core.run(200_000);
        out += String.fromCharCode(...board.out);
        board.out = [];
        if (stop === StopReason.Wfi) core.advanceTime(core.ticksUntilTimer());
      }
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const n = Number(core.instret);
      console.log(`boot jit=${jit ? 'on ' : 'off'} ready=${out.includes('tabvisor-guest-ready')} instructions=${n} cpu=${cpuMs.toFixed(0)}ms MIPS(cpu)=${(n / cpuMs / 1000).toFixed(1)}`);
      if (jit && i === repeat - 1) console.log('  jit counters:', fmt(core.jitStats()));
    }
  }
}
