#!/usr/bin/env node
// Long differential run: node tests/core/diff/long.mjs --seeds 10000 [--start S] [--jobs 2]
//   [--blocks 8] [--items 70] [--keep-going]
// Runs seeds start .. start+seeds-1 on QEMU and on our core and stops at the first mismatch
// (or reports all of them with --keep-going). Exit status: 0 = all matched, 1 = mismatch.
import { cpus } from 'node:os';
import { diffSeed, describeFailure } from './diff.mjs';
import { coreAvailability } from '../lib/core.mjs';

const args = process.argv.slice(2);
const opt = (/** @type {string} */ name, /** @type {number} */ def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const seeds = opt('--seeds', 1000);
const start = opt('--start', 1);
const jobs = Math.max(1, Math.min(opt('--jobs', 1), cpus().length));
const blocks = opt('--blocks', 8);
const items = opt('--items', 70);
const keepGoing = args.includes('--keep-going');
const genOpts = blocks === 8 && items === 70 ? {} : { blocks, items };

const avail = coreAvailability();
if (!avail.ok) {
  process.stderr.write(`diff: ${avail.reason}\n`);
  process.exit(2);
}

let next = start;
const end = start + seeds;
let done = 0;
let failed = 0;
let insns = 0;
let stop = false;
const t0 = performance.now();
/** @type {string[]} */
const failures = [];

async function worker() {
  while (!stop && next < end) {
    const seed = next++;
    let r;
    try {
      r = await diffSeed(seed, genOpts);
    } catch (e) {
      r = { seed, ok: false, mismatch: `error: ${e instanceof Error ? e.message : e}`, sourcePath: '(not built)' };
    }
    done++;
    insns += r.coreInstructions ?? 0;
    if (!r.ok) {
      failed++;
      const msg = describeFailure(/** @type {any} */ (r));
      failures.push(msg);
      console.log(msg);
      if (!keepGoing) stop = true;
    }
    if (done % 100 === 0) {
      const s = (performance.now() - t0) / 1000;
      console.log(`${done}/${seeds} seeds, ${failed} mismatching, ${s.toFixed(0)} s (${(done / s).toFixed(1)} seeds/s)`);
    }
  }
}

await Promise.all(Array.from({ length: jobs }, () => worker()));
const s = (performance.now() - t0) / 1000;
console.log(`diff: ${done} seeds (${start}..${start + done - 1}, ${blocks} blocks each), ${failed} mismatching, ` +
  `${(insns / 1e6).toFixed(1)} M guest instructions on our core, ${s.toFixed(1)} s`);
process.exit(failed ? 1 : 0);
