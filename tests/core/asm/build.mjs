#!/usr/bin/env node
// Builds every hand-written core test (tests/core/asm/*.S, each linked with runtime.S) into
// .cache/core/ (rebuilt only when a source changes). `node tests/core/asm/build.mjs` builds;
// `--qemu` also runs each on QEMU and prints the outcome; `--core` runs each on our core.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../lib/toolchain.mjs';

export const ASM_DIR = dirname(fileURLToPath(import.meta.url));

/** Extra QEMU arguments some tests need to be exact on the reference. */
const QEMU_ARGS = {
  // Without -icount, QEMU's instret/cycle are host ticks, not retired instructions.
  counters: ['-icount', 'shift=0'],
};

/** @returns {string[]} test names (file names without .S), sorted */
export function asmTestNames() {
  return readdirSync(ASM_DIR)
    .filter((f) => f.endsWith('.S') && f !== 'runtime.S')
    .map((f) => f.slice(0, -2))
    .sort();
}

/**
 * @param {string} name
 * @returns {{ name: string, elf: string, qemuArgs: string[] }}
 */
export function buildAsmTest(name) {
  const elf = buildProgram({
    name: `asm-${name}`,
    sources: [join(ASM_DIR, 'runtime.S'), join(ASM_DIR, `${name}.S`)],
    includeDirs: [join(ASM_DIR, 'include')],
  });
  return { name, elf, qemuArgs: QEMU_ARGS[name] ?? [] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const only = args.filter((a) => !a.startsWith('--'));
  const names = only.length ? only : asmTestNames();
  let bad = 0;
  for (const name of names) {
    const t = buildAsmTest(name);
    let line = `${name}: ${t.elf}`;
    if (args.includes('--qemu')) {
      const { runQemu } = await import('../lib/qemu.mjs');
      const r = await runQemu(t.elf, { extraArgs: t.qemuArgs, timeoutMs: 10_000 });
      line += `\n  qemu: exit ${r.exitCode} ${Math.round(r.wallMs)} ms: ${r.stdout.trim().replace(/\n/g, ' | ')}`;
      if (r.exitCode !== 0) bad++;
    }
    if (args.includes('--core')) {
      const { runCore } = await import('../lib/core.mjs');
      const r = await runCore(t.elf);
      line += `\n  core: ${r.reason} exit ${r.exitCode} ${r.instructions} insns ${Math.round(r.wallMs)} ms: ${r.stdout.trim().replace(/\n/g, ' | ')}${r.message ? ' (' + r.message + ')' : ''}`;
      if (r.exitCode !== 0) bad++;
    }
    console.log(line);
  }
  process.exit(bad ? 1 : 0);
}
