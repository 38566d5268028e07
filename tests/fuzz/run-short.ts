// The short runs of the fuzzers (fuzz/targets/*) inside `npm test`: a fixed seed and a few hundred
// inputs each; the long runs are `npm run fuzz -- NAME --count N` (docs/FUZZING.md).
import { expect } from 'vitest';
import { fuzzLoop, formatSummary, type Summary } from '../../fuzz/lib/loop.js';
import type { FuzzTarget } from '../../fuzz/lib/target.js';

/** Runs `count` inputs of `seed`; returns the summary and the failures as readable lines. */
export async function shortRun(target: FuzzTarget, seed: number, count: number): Promise<{ summary: Summary; failures: string[] }> {
  const summary = await fuzzLoop(target, { seed, count });
  console.log(formatSummary(summary));
  const failures = summary.failures.map((f) => `${f.what} at input ${f.index} (npm run fuzz -- ${target.name} --seed ${seed} --from ${f.index} --count 1): ${f.message}`);
  return { summary, failures };
}

/** Every input handled: no host crash, no defect, no hang, memory in bounds. */
export function expectClean(r: { summary: Summary; failures: string[] }): void {
  expect(r.failures).toEqual([]);
  expect(r.summary.inputs).toBeGreaterThan(0);
}
