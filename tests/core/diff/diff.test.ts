// Differential test: random programs (gen.mjs) run on QEMU and on our core must dump the
// same registers, FP state, trap log and memory. A bounded number of seeds runs here; the
// long check is `node tests/core/diff/long.mjs --seeds 10000`. A failure names the seed,
// the generated source in .cache/core/diff/ and the first differing value.
import { describe, expect, it } from 'vitest';
import { diffSeed, describeFailure, buildSeed, compareDumps } from './diff.mjs';
import { generateProgram } from './gen.mjs';
import { runQemu } from '../lib/qemu.mjs';
import { coreAvailability } from '../lib/core.mjs';
import { haveCrossCompiler } from '../lib/toolchain.mjs';

const SEEDS = Number(process.env.DIFF_SEEDS ?? 80);
const START = Number(process.env.DIFF_START ?? 1);
const cross = haveCrossCompiler();
const core = coreAvailability();

describe.skipIf(!cross)('differential generator', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(generateProgram(7).source).toBe(generateProgram(7).source);
    expect(generateProgram(7).source).not.toBe(generateProgram(8).source);
  });

  it('reports the first differing register with both values', () => {
    const a = 'B0000000000000000\nra 0000000000000001\na0 0000000000000002\nDONE\n';
    const b = 'B0000000000000000\nra 0000000000000001\na0 0000000000000003\nDONE\n';
    const blocks = [{ mode: 'S', paging: 'Sv39', deleg: 0, mprv: false }];
    expect(compareDumps(a, a, blocks)).toBeUndefined();
    expect(compareDumps(a, b, blocks)).toBe('block 0 (S mode, Sv39): a0: QEMU 0x0000000000000002, ours 0x0000000000000003');
    expect(compareDumps(a, 'B0000000000000000\nra 0000000000000001\n', blocks, { reason: 'fault' })).toMatch(/output ends before a0 \(core stopped: fault/);
  });

  it('produces programs that complete on QEMU and dump every block', async () => {
    const { elf, blocks } = buildSeed(START);
    const r = await runQemu(elf, { timeoutMs: 20_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.endsWith('DONE\n')).toBe(true);
    expect(r.stdout.match(/^B[0-9a-f]{16}$/gm)?.length).toBe(blocks.length);
    expect(r.stdout).toMatch(/^f31 [0-9a-f]{16}$/m);
  });
});

describe.skipIf(!cross)('differential: QEMU vs our core', () => {
  const title = core.ok
    ? `seeds ${START}..${START + SEEDS - 1} dump identical state`
    : `seeds ${START}..${START + SEEDS - 1} (not run: ${core.reason})`;
  it.skipIf(!core.ok)(title, async () => {
    const failures: string[] = [];
    for (let seed = START; seed < START + SEEDS; seed++) {
      const r = await diffSeed(seed);
      if (!r.ok) failures.push(describeFailure(r));
      if (failures.length >= 3) break;
    }
    expect(failures.join('\n')).toBe('');
  }, 180_000);
});
