#!/usr/bin/env node
// JIT against interpreter on the same program in the same process: bench-mips's C mix
// (tests/core/unit/programs/mips.c) run with the JIT off, then on; prints MIPS per CPU-second
// and the JIT counters. Usage: node bench/jit.js [rounds=400] [repeat=2]   (needs npm run build)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 400);
const repeat = Number(process.argv[3] ?? 2);
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
for (let i = 0; i < repeat; i++) {
  for (const jit of [false, true]) {
    let text = '';
    const cpu0 = process.cpuUsage();
    const r = await runBareProgram({ elf: bytes, memoryMiB: 16, jit, stdout: (b) => (text += Buffer.from(b).toString()) });
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(
      `jit=${jit ? 'on ' : 'off'} ${r.reason} ${text.trim()} instructions=${r.instructions} cpu=${cpuMs.toFixed(0)}ms ` +
        `MIPS(cpu)=${(r.instructions / cpuMs / 1000).toFixed(1)}`,
    );
    if (r.jit && i === repeat - 1) console.log('  jit counters:', JSON.stringify(r.jit, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
  }
}
