// Differential testing: build a generated program, run it on QEMU and on our core, and
// compare the dumps line by line. Shared by diff.test.ts and long.mjs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateProgram, DATA_SIZE } from './gen.mjs';
import { buildProgram, CACHE_DIR } from '../lib/toolchain.mjs';
import { runQemu } from '../lib/qemu.mjs';
import { runCore } from '../lib/core.mjs';

export const DIFF_DIR = dirname(fileURLToPath(import.meta.url));
export const DIFF_CACHE = join(CACHE_DIR, 'diff');

/**
 * Generates and builds the program for `seed`.
 * @param {number} seed
 * @param {{ blocks?: number, items?: number }} [opts]
 * @returns {{ sourcePath: string, elf: string, blocks: any[] }}
 */
export function buildSeed(seed, opts = {}) {
  const { source, blocks } = generateProgram(seed, opts);
  mkdirSync(DIFF_CACHE, { recursive: true });
  const suffix = opts.blocks || opts.items ? `-b${opts.blocks ?? ''}i${opts.items ?? ''}` : '';
  const sourcePath = join(DIFF_CACHE, `seed-${seed}${suffix}.S`);
  writeFileSync(sourcePath, source);
  const elf = buildProgram({
    name: `diff-${seed}${suffix}`,
    sources: [sourcePath, join(DIFF_DIR, 'diffrt.S')],
    includeDirs: [DIFF_DIR],
    cflags: [`-DDATA_SIZE=${DATA_SIZE}`],
  });
  return { sourcePath, elf, blocks };
}

/**
 * Parses a dump into [{ block, name, value, index }] in output order.
 * @param {string} text
 */
export function parseDump(text) {
  const entries = [];
  let block = -1;
  const counts = new Map();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const b = /^B([0-9a-f]{16})$/.exec(line);
    if (b) {
      block = parseInt(b[1], 16);
      counts.clear();
      continue;
    }
    const m = /^(\S+) ([0-9a-f]{16})$/.exec(line);
    if (!m) {
      entries.push({ block, name: line, value: '', index: 0 });
      continue;
    }
    const n = counts.get(m[1]) ?? 0;
    counts.set(m[1], n + 1);
    entries.push({ block, name: m[1], value: m[2], index: n });
  }
  return entries;
}

/** "S mode, Sv48, medeleg 0xc" */
export function describeBlock(/** @type {any} */ b) {
  if (!b) return '';
  return `${b.mode} mode${b.mprv ? ' with MPRV' : ''}${b.paging ? ', ' + b.paging : ''}${b.deleg ? ', medeleg 0x' + b.deleg.toString(16) : ''}`;
}

/** A readable name for a dump entry: registers by name, mem/pte/trap fields with their index. */
function entryName(/** @type {{ name: string, index: number }} */ e) {
  if (e.name === 'mem') return `mem[data_area+0x${(e.index * 8).toString(16)}]`;
  if (e.name === 'pte') return `alias pte[${e.index}]`;
  if (e.name === 'cause' || e.name === 'epc' || e.name === 'tval') return `trap #${e.index} ${e.name}`;
  return e.name;
}

/**
 * @typedef {{ seed: number, ok: boolean, sourcePath: string, elf: string, blocks: number,
 *   qemuMs: number, coreMs: number, coreInstructions: number, mismatch?: string }} DiffResult
 */

/**
 * Runs one seed on both machines and compares.
 * @param {number} seed
 * @param {{ blocks?: number, items?: number }} [opts]
 * @returns {Promise<DiffResult>}
 */
export async function diffSeed(seed, opts = {}) {
  const { sourcePath, elf, blocks } = buildSeed(seed, opts);
  const base = { seed, sourcePath, elf, blocks: blocks.length };
  const q = await runQemu(elf, { timeoutMs: 20_000 });
  if (q.exitCode !== 0 || !q.stdout.endsWith('DONE\n')) {
    return { ...base, ok: false, qemuMs: q.wallMs, coreMs: 0, coreInstructions: 0,
      mismatch: `generator problem: the program does not complete on QEMU (exit ${q.exitCode}): ${q.stdout.slice(-200)}` };
  }
  const c = await runCore(elf, { timeoutMs: 60_000, maxInstructions: 50_000_000 });
  const res = { ...base, qemuMs: q.wallMs, coreMs: c.wallMs, coreInstructions: c.instructions };
  const mismatch = compareDumps(q.stdout, c.stdout, blocks, c);
  return mismatch ? { ...res, ok: false, mismatch } : { ...res, ok: true };
}

/**
 * Compares QEMU's dump with ours; returns a description of the first difference, or undefined.
 * @param {string} qemuOut
 * @param {string} coreOut
 * @param {any[]} blocks
 * @param {{ reason?: string, message?: string }} [coreRun]
 */
export function compareDumps(qemuOut, coreOut, blocks, coreRun = {}) {
  const q = { stdout: qemuOut };
  const c = { stdout: coreOut, reason: coreRun.reason ?? '?', message: coreRun.message };
  const qa = parseDump(q.stdout);
  const ca = parseDump(c.stdout);
  for (let i = 0; i < qa.length; i++) {
    const qe = qa[i];
    const ce = ca[i];
    if (!ce) {
      return (`block ${qe.block}: our core's output ends before ${entryName(qe)} ` +
        `(core stopped: ${c.reason}${c.message ? ', ' + c.message : ''}; last output: ${JSON.stringify(c.stdout.slice(-120))})`);
    }
    if (qe.name !== ce.name || qe.value !== ce.value || qe.block !== ce.block) {
      const mode = describeBlock(blocks[qe.block]);
      if (qe.name !== ce.name) {
        return (`block ${qe.block} (${mode}): output differs: QEMU "${qe.name} ${qe.value}", ours "${ce.name} ${ce.value}"`);
      }
      return (`block ${qe.block} (${mode}): ${entryName(qe)}: QEMU 0x${qe.value}, ours 0x${ce.value}`);
    }
  }
  if (ca.length !== qa.length) {
    return (`our core printed more than QEMU: ${JSON.stringify(c.stdout.slice(q.stdout.length, q.stdout.length + 120))}`);
  }
  return undefined;
}


/** One line for a failed seed. */
export function describeFailure(/** @type {DiffResult} */ r) {
  return `seed ${r.seed}: ${r.mismatch}\n  program: ${r.sourcePath}\n  rerun: node tests/core/diff/long.mjs --seeds 1 --start ${r.seed}`;
}
