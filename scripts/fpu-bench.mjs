#!/usr/bin/env node
// Speed of the FPU fast paths: our operation vs the plain wasm instruction, in Mops/s.
//   node scripts/fpu-bench.mjs [--n 20000000] [--rm 0]
// Operands are random normal values (magnitudes 2^-20..2^20), so RNE stays on the fast path;
// --rm 1..4 shows the directed-rounding paths.
import { parseArgs } from 'node:util';
import { loadFpu } from '../tests/core/fpu/harness.mjs';

const { values } = parseArgs({ options: { n: { type: 'string', default: '20000000' }, rm: { type: 'string', default: '0' } } });
const n = Number(values.n), rm = Number(values.rm);
const F = await loadFpu();
F.benchInit(0x9e3779b97f4a7c15n);
const CASES = ['f64_add', 'f64_mul', 'f64_div', 'f64_sqrt', 'f64_madd', 'f32_add', 'f32_mul', 'f32_madd', 'f64_to_i32', 'i64_to_f64'];
const NATIVE = ['f64.add', 'f64.mul', 'f64.div', 'f64.sqrt', 'f64 mul+add (unfused)', 'f32.add', 'f32.mul', 'f32 mul+add (unfused)', 'i32.trunc_f64_s', 'f64.convert_i64_s'];
const time = (which) => {
  F.bench(which, 100000, rm); // warm up
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    F.bench(which, n, rm);
    best = Math.min(best, performance.now() - t);
  }
  return n / best / 1000; // Mops/s
};
console.log(`rm=${rm}, ${n} ops per measurement (best of 3)`);
console.log('operation      ours Mops/s   native Mops/s   ratio');
CASES.forEach((name, i) => {
  const ours = time(2 * i), native = time(2 * i + 1);
  console.log(`${name.padEnd(14)} ${ours.toFixed(0).padStart(8)}     ${native.toFixed(0).padStart(8)} (${NATIVE[i]})  ${(native / ours).toFixed(2)}x`);
});
