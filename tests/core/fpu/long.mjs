#!/usr/bin/env node
// Long FPU comparison against qemu-riscv64: millions of seeded random vectors in chunks.
//   node tests/core/fpu/long.mjs --count 5000000 [--seed 7] [--ops f64_madd,f32_div] [--chunk 400000]
// Exits 1 on the first chunk with differences, printing them (operation, rounding mode,
// operands, expected and actual result and flags).
import { parseArgs } from 'node:util';
import { OPS, usesRm } from './ops.mjs';
import { generate, RECORD_IN } from './gen.mjs';
import { compare, haveReferenceTools, loadFpu, runOurs, runReference } from './harness.mjs';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    ops: { type: 'string' },
    chunk: { type: 'string', default: '400000' },
  },
});
if (!haveReferenceTools()) {
  console.error('long.mjs: needs riscv64-linux-gnu-gcc and qemu-riscv64 (scripts/setup-system.sh test)');
  process.exit(2);
}
const names = values.ops?.split(',');
const ops = OPS.filter((o) => o && (!names || names.includes(o.name)));
if (names && ops.length !== names.length) {
  console.error(`long.mjs: unknown operation in --ops (known: ${OPS.filter(Boolean).map((o) => o.name).join(' ')})`);
  process.exit(2);
}
const combos = ops.reduce((n, o) => n + (usesRm(o) ? 5 : 1), 0);
const total = Number(values.count), chunk = Number(values.chunk);
const seed0 = Number(values.seed);
const fpu = await loadFpu();
console.log(`fpu long run: ${total} vectors, ${ops.length} operations, seed ${seed0}`);
let done = 0, chunkNo = 0;
const t0 = performance.now();
while (done < total) {
  const random = Math.max(1, Math.round(Math.min(chunk, total - done) / combos));
  const input = generate({ seed: seed0 * 1000 + chunkNo, random, specials: false, ops: ops.map((o) => o.id) });
  const expected = runReference(input);
  const got = runOurs(fpu, input);
  const r = compare(input, expected, got, 30);
  done += input.length / RECORD_IN;
  chunkNo++;
  if (r.bad) {
    console.log(`${r.bad} of ${r.count} differ in chunk ${chunkNo} (seed ${seed0 * 1000 + chunkNo - 1}):`, r.failuresByOp);
    console.log(r.failures.join('\n'));
    process.exit(1);
  }
  process.stdout.write(`\r${done} vectors ok (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
console.log('\nall match');
