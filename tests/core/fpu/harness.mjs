// Builds and runs both sides of the FPU comparison:
//  - the reference: refgen.c cross-compiled for RV64 and run under qemu-riscv64 (user mode),
//    whose softfloat implements the RISC-V F/D semantics, flags included;
//  - ours: assembly/fpu compiled with asc into a test wasm (test-entry.ts), run in batches.
// Artifacts go to .cache/fpu/ and .cache/fpu-vectors/, keyed by hashes of their inputs.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPS, RM_NAMES } from './ops.mjs';
import { RECORD_IN, RECORD_OUT, bitsToF32, bitsToF64, generate } from './gen.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '..', '..', '..');
const CACHE = join(ROOT, '.cache', 'fpu');
const VEC_CACHE = join(ROOT, '.cache', 'fpu-vectors');
const FPU_SRC = join(ROOT, 'assembly', 'fpu');

function hashFiles(files, extra = '') {
  const h = createHash('sha256');
  h.update(extra);
  for (const f of files) {
    h.update(f.slice(ROOT.length) + '\0');
    h.update(readFileSync(f));
  }
  return h.digest('hex').slice(0, 16);
}

function atomicWrite(path, data) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Whether the cross compiler and qemu-user are available. */
export function haveReferenceTools() {
  for (const [cmd, arg] of [['riscv64-linux-gnu-gcc', '--version'], ['qemu-riscv64', '--version']]) {
    if (spawnSync(cmd, [arg], { stdio: 'ignore' }).status !== 0) return false;
  }
  return true;
}

/** Cross-compiles the reference program (freestanding: no riscv64 libc needed). */
export function buildRefgen() {
  const src = join(HERE, 'refgen.c');
  const flags = ['-static', '-nostdlib', '-nostartfiles', '-O1', '-march=rv64gc', '-mabi=lp64d', '-Wall', '-Werror'];
  mkdirSync(CACHE, { recursive: true });
  const out = join(CACHE, `refgen-${hashFiles([src], flags.join(' '))}`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync('riscv64-linux-gnu-gcc', [...flags, '-o', tmp, src], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, out);
  return out;
}

/** Runs input records through the reference under qemu-riscv64; returns the output records. */
export function runReference(input) {
  const exe = buildRefgen();
  const p = spawnSync('qemu-riscv64', [exe], { input, maxBuffer: input.length, stdio: ['pipe', 'pipe', 'pipe'] });
  if (p.status !== 0) throw new Error(`reference failed (status ${p.status}): ${p.stderr}`);
  const n = input.length / RECORD_IN;
  if (p.stdout.length !== n * RECORD_OUT) throw new Error(`reference wrote ${p.stdout.length} bytes, expected ${n * RECORD_OUT}`);
  return p.stdout;
}

/** Compiles assembly/fpu/test-entry.ts into a wasm in .cache/fpu/ (once per source hash). */
export function buildFpuWasm() {
  const files = readdirSync(FPU_SRC).filter((f) => f.endsWith('.ts')).sort().map((f) => join(FPU_SRC, f));
  const args = ['--runtime', 'stub', '-O3', '--noAssert', '--initialMemory', '64'];
  const out = join(CACHE, `fpu-${hashFiles(files, args.join(' '))}.wasm`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp.wasm`;
  const asc = join(ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
  execFileSync(process.execPath, [asc, join(FPU_SRC, 'test-entry.ts'), ...args, '-o', tmp], {
    cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'],
  });
  renameSync(tmp, out);
  return out;
}

/** Instantiates the FPU test wasm. */
export async function loadFpu() {
  const bytes = readFileSync(buildFpuWasm());
  const { instance } = await WebAssembly.instantiate(bytes, {
    env: { abort: () => { throw new Error('abort in fpu wasm'); } },
  });
  return instance.exports;
}

/** Runs input records through our FPU; returns output records like the reference's. */
export function runOurs(fpu, input) {
  const n = input.length / RECORD_IN;
  const out = Buffer.alloc(n * RECORD_OUT);
  const base = Number(fpu.BATCH_BASE.value ?? fpu.BATCH_BASE);
  const CHUNK = 16384; // 512 KiB in, 256 KiB out
  const inPtr = base, outPtr = base + CHUNK * RECORD_IN;
  for (let i = 0; i < n; i += CHUNK) {
    const k = Math.min(CHUNK, n - i);
    const mem = new Uint8Array(fpu.memory.buffer);
    mem.set(input.subarray(i * RECORD_IN, (i + k) * RECORD_IN), inPtr);
    fpu.runBatch(inPtr, outPtr, k);
    out.set(new Uint8Array(fpu.memory.buffer, outPtr, k * RECORD_OUT), i * RECORD_OUT);
  }
  return out;
}

const hex = (v, bits) => '0x' + v.toString(16).padStart(bits / 4, '0');
const FLAG_NAMES = ['NX', 'UF', 'OF', 'DZ', 'NV'];
const flagStr = (f) => FLAG_NAMES.filter((_, i) => (Number(f) >> i) & 1).join('|') || '-';

function describe(kind, bits, v) {
  if (kind === 'x') return hex(v, 64);
  const x = bits === 32 ? bitsToF32(v) : bitsToF64(v);
  return `${hex(v, bits)} (${Object.is(x, -0) ? '-0' : x})`;
}

/** Formats one record for a failure message. */
export function formatCase(input, i, exp, got) {
  const o = i * RECORD_IN;
  const op = OPS[input.readUInt32LE(o)];
  const rm = input.readUInt32LE(o + 4);
  const args = [input.readBigUInt64LE(o + 8), input.readBigUInt64LE(o + 16), input.readBigUInt64LE(o + 24)];
  const nargs = { bin: 2, nr2: 2, fma: 3 }[op.kind] ?? 1;
  const inBits = op.fmt === 's' ? 32 : 64;
  const argStr = args.slice(0, nargs).map((a) => (op.kind === 'fromi' ? hex(a, 64) : describe('f', inBits, a))).join(', ');
  const outBits = op.out === 's' ? 32 : 64;
  const res = (buf) => `${describe(op.out, outBits, buf.readBigUInt64LE(i * RECORD_OUT))} flags ${flagStr(buf.readBigUInt64LE(i * RECORD_OUT + 8))}`;
  return `${op.name} ${RM_NAMES[rm]} (${argStr}): expected ${res(exp)}, got ${res(got)}`;
}

/**
 * Compares our outputs with the reference's. For f32 results only the low 32 bits count.
 * @returns {{ count: number, failures: string[], failuresByOp: Record<string, number> }}
 */
export function compare(input, expected, got, maxMessages = 20) {
  const n = input.length / RECORD_IN;
  const failures = [];
  const failuresByOp = {};
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const op = OPS[input.readUInt32LE(i * RECORD_IN)];
    let er = expected.readBigUInt64LE(i * RECORD_OUT), gr = got.readBigUInt64LE(i * RECORD_OUT);
    if (op.out === 's') { er &= 0xffffffffn; gr &= 0xffffffffn; }
    const ef = expected.readBigUInt64LE(i * RECORD_OUT + 8), gf = got.readBigUInt64LE(i * RECORD_OUT + 8);
    if (er !== gr || ef !== gf) {
      bad++;
      failuresByOp[op.name] = (failuresByOp[op.name] ?? 0) + 1;
      if (failures.length < maxMessages) failures.push(formatCase(input, i, expected, got));
    }
  }
  return { count: n, bad, failures, failuresByOp };
}

/**
 * The standard vector set: inputs and reference outputs, cached in .cache/fpu-vectors/ under a
 * hash of the generator, the reference program and the parameters.
 */
export function standardVectors({ seed = 1, random = 300 } = {}) {
  const key = hashFiles(['gen.mjs', 'ops.mjs', 'refgen.c'].map((f) => join(HERE, f)), JSON.stringify({ seed, random }));
  mkdirSync(VEC_CACHE, { recursive: true });
  const inPath = join(VEC_CACHE, `${key}.in`), outPath = join(VEC_CACHE, `${key}.out`);
  if (existsSync(inPath) && existsSync(outPath)) return { input: readFileSync(inPath), expected: readFileSync(outPath) };
  const input = generate({ seed, random });
  const expected = runReference(input);
  atomicWrite(inPath, input);
  atomicWrite(outPath, expected);
  return { input, expected };
}
