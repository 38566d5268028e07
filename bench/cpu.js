#!/usr/bin/env node
// CPU benchmark: a bare-metal guest (bench/programs/cpu.c: hashing, heap sort, double matrix
// multiply) on our RV64 core and on qemu-system-riscv64 (TCG) in the same run.
//   npm run bench -- cpu [--scale N] [--runs R] [--no-write]
// The guest prints a checksum, its retired-instruction count (minstret delta) and the mtime
// ticks the work took. QEMU's minstret is only exact with -icount, so one QEMU run uses
// `-icount shift=0` to count instructions; the timed QEMU runs use plain TCG and the guest's own
// mtime (10 MHz, real time on QEMU). Our core's mtime is derived from instructions, so its time
// is the host wall time of runBareProgram. The checksums must agree, or the run fails.
// CPU time is measured too (the machine is shared, so wall time varies with the load): QEMU's
// process user+sys through /usr/bin/time, ours process.cpuUsage() around runBareProgram.
// Prints a Markdown section and replaces this benchmark's section in bench/RESULTS.md.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir, loadavg } from 'node:os';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../tests/core/lib/toolchain.mjs';
import { runQemu } from '../tests/core/lib/qemu.mjs';
import { coreAvailability, runCore } from '../tests/core/lib/core.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const scale = opt('--scale', 32);
const runs = Math.max(1, opt('--runs', 3));
const write = !args.includes('--no-write');
const SECTION = '## CPU: our RV64 core vs QEMU TCG (bench/cpu.js)';
// bench/RESULTS.md holds other benchmarks' sections too: only the text between these markers is ours.
const BEGIN = '<!-- cpu:begin -->';
const END = '<!-- cpu:end -->';

function parseGuest(stdout, who) {
  const m = /checksum ([0-9a-f]{16})\ninstret (\d+)\nmtime (\d+)\n/.exec(stdout);
  if (!m) throw new Error(`${who}: unexpected guest output: ${JSON.stringify(stdout.slice(-300))}`);
  return { checksum: m[1], instret: Number(m[2]), mtime: Number(m[3]) };
}

const avail = coreAvailability();
if (!avail.ok) {
  process.stderr.write(`bench cpu: ${avail.reason}\n`);
  process.exit(2);
}

const elf = buildProgram({
  name: `bench-cpu-s${scale}`,
  sources: [join(here, 'programs', 'crt0.S'), join(here, 'programs', 'cpu.c')],
  cflags: ['-O2', '-ffreestanding', '-fno-builtin', `-DSCALE=${scale}`],
});

// 1. exact instruction count on QEMU
const counted = await runQemu(elf, { extraArgs: ['-icount', 'shift=0'], timeoutMs: 600_000 });
if (counted.exitCode !== 0) throw new Error(`qemu -icount run failed (exit ${counted.exitCode}): ${counted.stdout}`);
const ref = parseGuest(counted.stdout, 'qemu -icount');

const load0 = loadavg()[0];
/** QEMU's process CPU time (user + sys, start-up included) for one run, in ms. */
function qemuCpuMs() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cpu-'));
  try {
    const r = spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', 'qemu-system-riscv64', '-M', 'virt', '-bios', 'none', '-display', 'none',
      '-monitor', 'none', '-serial', `file:${join(dir, 'out.txt')}`, '-m', '128M', '-kernel', elf], { encoding: 'utf8', timeout: 600_000 });
    const m = /cpu ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
    if (!m) throw new Error(`qemu under /usr/bin/time: ${r.stderr}`);
    return (Number(m[1]) + Number(m[2])) * 1000;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// 2. timed QEMU runs (best of N)
let qemuBest = { guestMs: Infinity, wallMs: Infinity, cpuMs: Infinity };
for (let i = 0; i < runs; i++) qemuBest.cpuMs = Math.min(qemuBest.cpuMs, qemuCpuMs());
for (let i = 0; i < runs; i++) {
  const r = await runQemu(elf, { timeoutMs: 600_000 });
  const g = parseGuest(r.stdout, 'qemu');
  if (g.checksum !== ref.checksum) throw new Error(`qemu checksum ${g.checksum} != ${ref.checksum}`);
  qemuBest = { ...qemuBest, guestMs: Math.min(qemuBest.guestMs, g.mtime / 10_000), wallMs: Math.min(qemuBest.wallMs, r.wallMs) };
}

// 3. our core (best of N)
let core = { wallMs: Infinity, instructions: 0, firstOutputMs: 0 };
let coreCpuMs = Infinity;
for (let i = 0; i < runs; i++) {
  const cpu0 = process.cpuUsage();
  const r = await runCore(elf, { timeoutMs: 1_800_000, maxInstructions: 1e11 });
  const cpu = process.cpuUsage(cpu0);
  coreCpuMs = Math.min(coreCpuMs, (cpu.user + cpu.system) / 1000);
  if (r.exitCode !== 0) throw new Error(`our core: ${r.reason} ${r.message ?? ''}: ${r.stdout.slice(-300)}`);
  const g = parseGuest(r.stdout, 'our core');
  if (g.checksum !== ref.checksum) {
    throw new Error(`MISMATCH: our core's checksum ${g.checksum} != QEMU's ${ref.checksum}`);
  }
  if (g.instret !== ref.instret) {
    process.stderr.write(`note: our core counted ${g.instret} instructions in the workload, QEMU -icount ${ref.instret}\n`);
  }
  if (r.wallMs < core.wallMs) core = { wallMs: r.wallMs, instructions: r.instructions, firstOutputMs: r.firstOutputMs ?? 0 };
}

const mips = (insns, ms) => insns / ms / 1000;
const qemuGuestMips = mips(ref.instret, qemuBest.guestMs);
const qemuWallMips = mips(ref.instret, qemuBest.wallMs);
const coreMips = mips(core.instructions, core.wallMs);
const qemuCpuMips = mips(ref.instret, qemuBest.cpuMs);
const coreCpuMips = mips(core.instructions, coreCpuMs);
const load1 = loadavg()[0];
const cmd = `npm run bench -- cpu${args.length ? ' ' + args.join(' ') : ''}`;
const date = new Date().toISOString().slice(0, 10);
const lines = [
  SECTION,
  '',
  `Guest: bench/programs/cpu.c (-O2, SCALE=${scale}): FNV-style hashing over 64 KiB, heap sort of`,
  `16384 keys, 48x48 double matrix multiply; ${ref.instret.toLocaleString('en-US')} instructions in the`,
  `timed part (counted by QEMU -icount, checksum ${ref.checksum} equal on both machines).`,
  `Best of ${runs} runs, ${date}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version},`,
  `load average ${load0.toFixed(1)} at the start and ${load1.toFixed(1)} at the end (a shared machine: wall times vary; CPU times less).`,
  '',
  '| machine | time | guest MIPS | vs QEMU |',
  '|---|---:|---:|---:|',
  `| QEMU 7.2 TCG, guest-timed (mtime) | ${qemuBest.guestMs.toFixed(0)} ms | ${qemuGuestMips.toFixed(0)} | 1.00 |`,
  `| QEMU 7.2 TCG, process wall (incl. start-up) | ${qemuBest.wallMs.toFixed(0)} ms | ${qemuWallMips.toFixed(0)} | ${(qemuWallMips / qemuGuestMips).toFixed(2)} |`,
  `| our core (runBareProgram wall, ${core.instructions.toLocaleString('en-US')} insns incl. start-up) | ${core.wallMs.toFixed(0)} ms | ${coreMips.toFixed(1)} | ${(coreMips / qemuGuestMips).toFixed(3)} |`,
  `| QEMU 7.2 TCG, process CPU (user+sys, incl. start-up) | ${qemuBest.cpuMs.toFixed(0)} ms | ${qemuCpuMips.toFixed(0)} | |`,
  `| our core, process CPU around runBareProgram | ${coreCpuMs.toFixed(0)} ms | ${coreCpuMips.toFixed(1)} | ${(coreCpuMips / qemuCpuMips).toFixed(3)} of QEMU's CPU MIPS |`,
  '',
  `By wall time QEMU is ${(qemuGuestMips / coreMips).toFixed(1)}x faster than our core on this guest; by CPU time ${(qemuCpuMips / coreCpuMips).toFixed(2)}x (ours / QEMU time: ${(coreCpuMs / qemuBest.cpuMs * ref.instret / core.instructions).toFixed(2)}).`,
  '',
  'Command:',
  '',
  '```sh',
  cmd,
  '```',
  '',
];
const section = lines.join('\n');
console.log(section);

if (write) {
  const path = join(here, 'RESULTS.md');
  let text = readFileSync(path, 'utf8');
  const marked = `${BEGIN}\n${section}${END}\n`;
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start >= 0 && end > start) {
    text = text.slice(0, start) + marked + text.slice(end + END.length).replace(/^\n/, '');
  } else {
    text = text.replace(/\n*$/, '\n\n') + marked;
  }
  writeFileSync(path, text);
  console.log(`(section written to ${path})`);
}
