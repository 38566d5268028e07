// Self-modifying guest code (fuzz/targets/jit.ts): the JIT (every block compiled) and the
// interpreter agree after every slice and at the end.
import { describe, expect, it } from 'vitest';
import { target } from '../../fuzz/targets/jit.js';
import { coreBuilt } from '../rv64/helpers.js';
import { expectClean, shortRun } from './run-short.js';

describe.runIf(coreBuilt())('self-modifying code, JIT against interpreter', () => {
  it('40 generated programs agree', async () => {
    const r = await shortRun(target, 1, 40);
    expectClean(r);
    expect(r.summary.kinds['accepted agree-poweroff']).toBeGreaterThan(0);
  }, 300_000);
});
