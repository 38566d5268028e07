#!/usr/bin/env node
// Interpreter speed: builds programs/mips.c (CRC32, sieve, insertion sort, 64-bit mul/div)
// and runs it on the core with runBareProgram. Prints instructions, wall and CPU time, MIPS.
// Usage: node tests/core/unit/bench-mips.mjs [rounds=400] [repeat=3]   (needs npm run build)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const rounds = Number(process.argv[2] ?? 400);
const repeat = Number(process.argv[3] ?? 3);
const out = join(root, '.cache', 'core-unit');
mkdirSync(out, { recursive: true });
const elf = join(out, `mips-${rounds}.elf`);
const p = join(here, 'programs');
execFileSync('riscv64-linux-gnu-gcc', [
  '-O2', '-march=rv64gc', '-mabi=lp64d', '-mcmodel=medany', '-fno-pie', '-no-pie', '-static', '-nostdlib',
  '-nostartfiles', '-ffreestanding', '-Wl,--build-id=none', '-Wl,--no-warn-rwx-segments', `-DROUNDS=${rounds}`,
  '-T', join(p, 'link.ld'), join(p, 'crt0.S'), join(p, 'mips.c'), '-o', elf,
]);
const { runBareProgram } = await import(join(root, 'dist', 'engines', 'rv64', 'bare.js'));
const bytes = new Uint8Array(readFileSync(elf));
for (let i = 0; i < repeat; i++) {
  let text = '';
  const cpu0 = process.cpuUsage();
  const r = await runBareProgram({ elf: bytes, memoryMiB: 16, stdout: (b) => (text += Buffer.from(b).toString()) });
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(
    `${r.reason} ${text.trim()} instructions=${r.instructions} wall=${r.wallMs.toFixed(0)}ms cpu=${cpuMs.toFixed(0)}ms ` +
      `MIPS(wall)=${(r.instructions / r.wallMs / 1000).toFixed(1)} MIPS(cpu)=${(r.instructions / cpuMs / 1000).toFixed(1)}`,
  );
}
