// Hand-written core tests (tests/core/asm/*.S): each program runs on QEMU, which proves the
// test itself is right, and then on our core. One test case per program and machine, so a
// failure names the program; the program's own output (FAIL n = case n) says which check.
import { describe, expect, it } from 'vitest';
import { asmTestNames, buildAsmTest } from './build.mjs';
import { runQemu } from '../lib/qemu.mjs';
import { coreAvailability, runCore } from '../lib/core.mjs';
import { haveCrossCompiler } from '../lib/toolchain.mjs';

const names: string[] = asmTestNames();
const cross = haveCrossCompiler();
const core = coreAvailability();

describe.skipIf(!cross)('asm core tests on QEMU (reference)', () => {
  for (const name of names) {
    it(`${name} passes on QEMU`, async () => {
      const t = buildAsmTest(name);
      const r = await runQemu(t.elf, { extraArgs: t.qemuArgs, timeoutMs: 20_000 });
      // QEMU 7.2 deviates from the spec in a few places; the programs accept its behaviour
      // there only after printing "deviation: ..." (see docs/TESTING-CORE.md).
      expect(r.exitCode, r.stdout).toBe(0);
      expect(r.stdout).toMatch(/^(deviation: [^\n]*\n)*PASS\n$/);
    });
  }
});

describe.skipIf(!cross)('asm core tests on our core', () => {
  for (const name of names) {
    const title = core.ok ? `${name} passes on our core` : `${name} on our core (not run: ${core.reason})`;
    it.skipIf(!core.ok)(title, async () => {
      const t = buildAsmTest(name);
      const r = await runCore(t.elf, { timeoutMs: 60_000 });
      expect(
        { exitCode: r.exitCode, stdout: r.stdout, reason: r.reason, message: r.message },
        `${name}: ${r.instructions} instructions`,
      ).toMatchObject({ exitCode: 0, stdout: 'PASS\n' }); // no deviations accepted from our core
    });
  }
});
