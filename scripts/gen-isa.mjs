#!/usr/bin/env node
// Generates, from the one instruction description in src/isa/instructions.ts:
//   assembly/generated/dispatch.ts  the interpreter's decoder: decodeId(insn) names the instruction
//                                   through a decision tree on the fixed bits, executeId(id, insn, p)
//                                   calls op_<name> through one flat switch, and
//                                   expandCompressed(h) turns a 16-bit instruction into its 32-bit form
//   build/isa.json                  the table as data, for test generators and tools
// Run by `npm run build:core` before asc. The TS table is transpiled in memory with the
// project's typescript package (no build step needed before this one).
import { readFileSync, writeFileSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function loadTable() {
  const src = readFileSync(join(root, 'src/isa/instructions.ts'), 'utf8');
  const js = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  return import('data:text/javascript;base64,' + Buffer.from(js).toString('base64'));
}

const hex = (n) => '0x' + (n >>> 0).toString(16);
const opName = (name) => 'op_' + name.replace(/\./g, '_');
const popcount = (x) => {
  let n = 0;
  for (x >>>= 0; x; x >>>= 1) n += x & 1;
  return n;
};

/** Lowest contiguous run of set bits in m: [lo, len]. */
function lowestRun(m) {
  m >>>= 0;
  let lo = 0;
  while (!((m >>> lo) & 1)) lo++;
  let len = 0;
  while (lo + len < 32 && (m >>> (lo + len)) & 1) len++;
  return [lo, len];
}

/**
 * Emits a decision tree over `entries` ({mask, match, leaf(indent) -> code}) testing the bits
 * common to all of them, one contiguous field per switch. `tested` = bits already decided.
 */
function tree(entries, tested, indent, v, fallback) {
  const pad = ' '.repeat(indent);
  if (entries.length === 0) return `${pad}${fallback}\n`;
  let common = 0xffffffff;
  for (const e of entries) common &= e.mask;
  common = (common & ~tested) >>> 0;
  if (common === 0 || entries.length <= 2) {
    // Overlapping encodings (or few left): most specific first.
    const sorted = [...entries].sort((a, b) => popcount(b.mask) - popcount(a.mask));
    let out = '';
    for (const e of sorted) {
      const rest = (e.mask & ~tested) >>> 0;
      if (rest === 0) return out + e.leaf(indent);
      out += `${pad}if ((${v} & ${hex(rest)}) == ${hex(e.match & rest)}) {\n${e.leaf(indent + 2)}${pad}}\n`;
    }
    return out + `${pad}${fallback}\n`;
  }
  const [lo, len] = lowestRun(common);
  const fieldMask = len === 32 ? 0xffffffff : (((1 << len) - 1) << lo) >>> 0;
  const groups = new Map();
  for (const e of entries) {
    const val = ((e.match & fieldMask) >>> lo) >>> 0;
    if (!groups.has(val)) groups.set(val, []);
    groups.get(val).push(e);
  }
  let out = `${pad}switch ((${v} >> ${lo}) & ${hex((2 ** len - 1) >>> 0)}) {\n`;
  for (const [val, group] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
    out += `${pad}  case ${hex(val)}: {\n`;
    out += tree(group, (tested | fieldMask) >>> 0, indent + 4, v, fallback);
    out += `${pad}  }\n`;
  }
  out += `${pad}}\n${pad}${fallback}\n`;
  return out;
}

function immExpr(spec, v) {
  let top = 0;
  const parts = spec.segments.map(([hi, lo, immLo]) => {
    const width = hi - lo + 1;
    top = Math.max(top, immLo + width - 1);
    const field = `((${v} >> ${lo}) & ${hex(2 ** width - 1)})`;
    return immLo ? `(${field} << ${immLo})` : field;
  });
  const raw = parts.join(' | ');
  if (!spec.signed) return `<i32>(${raw})`;
  const sh = 31 - top;
  return `((<i32>((${raw}) << ${sh})) >> ${sh})`;
}

function regExpr(r, v) {
  switch (r) {
    case 'rd':
    case 'rs1':
      return `((${v} >> 7) & 31)`;
    case 'rs2':
      return `((${v} >> 2) & 31)`;
    case "rd'":
    case "rs2'":
      return `(((${v} >> 2) & 7) + 8)`;
    case "rs1'":
      return `(((${v} >> 7) & 7) + 8)`;
    case 'x0':
      return '0';
    case 'x1':
      return '1';
    case 'x2':
      return '2';
  }
  throw new Error('bad register spec ' + r);
}

function placeExpr(kind, imm) {
  switch (kind) {
    case 'I':
      return `((<u32>${imm} & 0xfff) << 20)`;
    case 'S':
      return `(((<u32>${imm} >> 5) & 0x7f) << 25) | ((<u32>${imm} & 0x1f) << 7)`;
    case 'B':
      return `(((<u32>${imm} >> 12) & 1) << 31) | (((<u32>${imm} >> 5) & 0x3f) << 25) | (((<u32>${imm} >> 1) & 0xf) << 8) | (((<u32>${imm} >> 11) & 1) << 7)`;
    case 'U':
      return `(<u32>${imm} & 0xfffff000)`;
    case 'J':
      return `(((<u32>${imm} >> 20) & 1) << 31) | (((<u32>${imm} >> 1) & 0x3ff) << 21) | (((<u32>${imm} >> 11) & 1) << 20) | (((<u32>${imm} >> 12) & 0xff) << 12)`;
  }
  return '0';
}

async function main() {
  const isa = await loadTable();
  const { INSTRUCTIONS, COMPRESSED, C_IMMEDIATES, immediateKind, findInstruction } = isa;

  // Sanity: no two instructions with identical mask/match, every C expansion target exists.
  const seen = new Map();
  for (const d of INSTRUCTIONS) {
    const k = d.mask + ':' + d.match;
    if (seen.has(k)) throw new Error(`gen-isa: ${d.name} and ${seen.get(k)} have the same encoding`);
    seen.set(k, d.name);
  }

  // Two kinds of op: `op_x(insn: u32, p: u64): u64` takes the instruction's pc and returns the
  // next one (hot, inlined); `op_x(insn: u32): void` works on the global pc (rare, out of line).
  const execSrc = readdirSync(join(root, 'assembly/exec'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join(root, 'assembly/exec', f), 'utf8'))
    .join('\n');
  const pcPassing = new Set([...execSrc.matchAll(/function (op_\w+)\(insn: u32, p: u64\): u64/g)].map((m) => m[1]));
  const expand = COMPRESSED.map((d) => ({
    mask: d.mask,
    match: d.match,
    leaf: (ind) => {
      const pad = ' '.repeat(ind);
      const t = findInstruction(d.expandsTo);
      let s = `${pad}// ${d.name} -> ${t.name}\n`;
      const parts = [hex(t.match)];
      if (d.imm) s += `${pad}const imm = ${immExpr(C_IMMEDIATES[d.imm], 'h')};\n`;
      if (d.rd) s += `${pad}const rd: u32 = ${regExpr(d.rd, 'h')};\n`;
      if (d.rs1) s += `${pad}const rs1: u32 = ${regExpr(d.rs1, 'h')};\n`;
      if (d.rs2) s += `${pad}const rs2: u32 = ${regExpr(d.rs2, 'h')};\n`;
      for (const r of d.reservedWhen ?? []) {
        const [f] = r.split('==');
        s += `${pad}if (${f} == 0) return 0;\n`;
      }
      if (d.rd) parts.push('(rd << 7)');
      if (d.rs1) parts.push('(rs1 << 15)');
      if (d.rs2) parts.push('(rs2 << 20)');
      if (d.imm) parts.push(placeExpr(immediateKind(t), 'imm'));
      s += `${pad}return ${parts.join(' | ')};\n`;
      return s;
    },
  }));

  const names = INSTRUCTIONS.map((d) => opName(d.name));
  let out = `// GENERATED by scripts/gen-isa.mjs from src/isa/instructions.ts. Do not edit.\n`;
  out += `// ${INSTRUCTIONS.length} instructions, ${COMPRESSED.length} compressed forms.\n`;
  out += `import {\n${names.map((n) => '  ' + n + ',').join('\n')}\n  op_illegal,\n} from '../exec/index';\nimport { pc } from '../state';\n\n`;
  // The decoder, in two halves for the interpreter's decode memo (assembly/interp.ts):
  // decodeId() walks the decision tree and names the instruction (its index in the table + 1;
  // 0 = illegal; bits 1:0 are never decoded: 11 marks a 32-bit instruction, 01 one expanded
  // from 16 bits), and executeId() runs it through one flat switch.
  const ids = INSTRUCTIONS.map((d, i) => ({ mask: d.mask, match: d.match, leaf: (ind) => `${' '.repeat(ind)}return ${i + 1};\n` }));
  out += `/** The id of an instruction (a compressed one expanded): 1 + its index in the table, 0 if illegal. */\n`;
  out += `export function decodeId(insn: u32): u32 {\n`;
  out += tree(ids, 3, 2, 'insn', 'return 0;');
  out += `}\n\n`;
  out += `/** Executes the instruction decodeId() named \`id\` (\`insn\`, a compressed one expanded) at pc p; returns the next pc. */\n`;
  out += `// @ts-ignore: decorator\n@inline export function executeId(id: u32, insn: u32, p: u64): u64 {\n  switch (id) {\n`;
  // The loops do not keep the global pc current: an op that works on it gets it set here, and
  // pc-passing ops set it themselves before anything that can trap (assembly/exec/int.ts).
  INSTRUCTIONS.forEach((d, i) => {
    const op = opName(d.name);
    const leaf = pcPassing.has(op) ? `      return ${op}(insn, p);\n` : `      pc = p; ${op}(insn); return pc;\n`;
    out += `    case ${i + 1}: {\n${leaf}    }\n`;
  });
  out += `  }\n  pc = p; op_illegal(insn); return pc;\n}\n\n`;
  out += `/** The 32-bit instruction a 16-bit one stands for, or 0 when it is illegal or reserved. */\n`;
  out += `export function expandCompressed(h: u32): u32 {\n`;
  out += tree(expand, 0, 2, 'h', 'return 0;');
  out += `}\n`;
  mkdirSync(join(root, 'assembly/generated'), { recursive: true });
  writeFileSync(join(root, 'assembly/generated/dispatch.ts'), out);

  writeFileSync(join(root, 'assembly/generated/fpu.ts'), fpuGateway());
  writeFileSync(join(root, 'assembly/generated/jitcalls.ts'), jitCalls(INSTRUCTIONS, pcPassing));
  writeFileSync(join(root, 'src/engines/rv64/jit/core-layout.ts'), coreLayout());

  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(
    join(root, 'build/isa.json'),
    JSON.stringify({ instructions: INSTRUCTIONS, compressed: COMPRESSED, compressedImmediates: C_IMMEDIATES }, null, 1),
  );
  console.log(`gen-isa: ${INSTRUCTIONS.length} instructions, ${COMPRESSED.length} compressed -> assembly/generated/dispatch.ts`);
}

/**
 * The core's exported jit_<name>(insn, pc, icount) -> next pc for every instruction the table
 * marks jit: 'call' (docs/JIT.md): compiled code spills the registers the instruction reads,
 * calls it, reloads the one it writes, and goes on unless the status word says leave.
 */
function jitCalls(instructions, pcPassing) {
  const calls = instructions.filter((d) => d.jit === 'call');
  let s = `// GENERATED by scripts/gen-isa.mjs from src/isa/instructions.ts (jit: 'call'). Do not edit.\n`;
  s += `import {\n${calls.map((d) => '  ' + opName(d.name) + ',').join('\n')}\n} from '../exec/index';\n`;
  s += `import { pc, ilenOf } from '../state';\nimport { jitCallEnter, jitCallLeave } from '../jit/calls';\n\n`;
  for (const d of calls) {
    const op = opName(d.name);
    const body = pcPassing.has(op) ? `pc = ${op}(insn, p);` : `${op}(insn);`;
    s += `export function jit_${d.name.replace(/\./g, '_')}(insn: u32, p: u64, ic: u64): u64 {\n`;
    s += `  jitCallEnter(p, ic);\n  ${body}\n  return jitCallLeave(p + ilenOf(insn));\n}\n`;
  }
  return s;
}

/**
 * The core's fixed addresses and TLB geometry for the JIT's code generator, evaluated from the
 * core's own sources (assembly/layout.ts, assembly/jit/cache.ts), so the JIT copies no numbers.
 */
function coreLayout() {
  const env = {};
  for (const f of ['assembly/layout.ts', 'assembly/jit/cache.ts']) {
    const src = readFileSync(join(root, f), 'utf8');
    for (const m of src.matchAll(/^export const (\w+): [ui](?:32|64) = ([^;]+);/gm)) {
      const expr = m[2].replace(/\b[A-Z_][A-Z0-9_]*\b/g, (n) => {
        if (!(n in env)) throw new Error(`gen-isa: ${f}: ${m[1]} uses ${n} before it is defined`);
        return String(env[n]);
      });
      if (!/^[0-9a-fx+*<>() -]+$/i.test(expr)) throw new Error(`gen-isa: ${f}: cannot evaluate ${m[1]} = ${m[2]}`);
      env[m[1]] = Function(`return (${expr});`)();
    }
  }
  const want = {
    XREGS: 'x0..x31, 8 bytes each',
    TLB_ENTRIES: 'entries per software TLB table (direct mapped by virtual page number)',
    TLB_TABLE_BYTES: 'bytes per TLB table',
    CTABLE: 'expansion table of all 16-bit instructions (u32 each)',
    RAM_HOST: 'guest RAM (physical RAM_BASE) in linear memory',
    JIT_STATUS: 'status word of compiled code (u32)',
    JIT_PC: 'pc after a trap in a slow path (u64)',
    JIT_ICOUNT: 'icount when a block leaves (u64)',
    JIT_HASH: 'block table: 16-byte entries {u32 host address, i32 state, u32 table index, u16 length + u16 entry}',
    JIT_ENTRIES: 'entries of the block table (hashed by host address >> 1)',
    ST_COMPILED: 'state of an entry with a compiled region',
  };
  let s = `// GENERATED by scripts/gen-isa.mjs from assembly/layout.ts and assembly/jit/cache.ts. Do not edit.\n`;
  s += `// The core's layout as the JIT's code generator sees it (docs/JIT.md, docs/CORE-ABI.md).\n`;
  for (const [k, what] of Object.entries(want)) {
    if (!(k in env)) throw new Error(`gen-isa: the core no longer defines ${k}`);
    s += `/** ${what} */\nexport const ${k} = ${env[k] < 0 ? env[k] : '0x' + env[k].toString(16)};\n`;
  }
  const entryBytes = env.TLB_TABLE_BYTES / env.TLB_ENTRIES;
  s += `/** bytes per TLB entry: u64 tag (virtual page, all ones = empty), u64 host address minus virtual address */\n`;
  s += `export const TLB_ENTRY_BYTES = ${entryBytes};\nexport const TLB_ENTRY_SHIFT = ${Math.log2(entryBytes)};\n`;
  s += `/** The tag a TLB hit compares with (mmu.ts tagMask): the page, and the low bits that make an access of \`size\` bytes misaligned. */\n`;
  s += `export function tlbTagMask(size: number): bigint {\n  return ~BigInt(0xfff & ~(size - 1));\n}\n`;
  return s;
}

/**
 * The hart reaches the FPU (assembly/fpu/, written against the contract in docs/CORE-ABI.md)
 * through this module. Without an FPU in the tree, FP arithmetic raises illegal instruction
 * (FPU_PRESENT = false) while loads, stores, moves and sign injection still work.
 */
function fpuGateway() {
  const head = `// GENERATED by scripts/gen-isa.mjs. Do not edit.\n`;
  if (existsSync(join(root, 'assembly/fpu/index.ts'))) {
    return (
      head +
      `export * from '../fpu/index';\nimport { fpFlags } from '../fpu/index';\n` +
      `export const FPU_PRESENT: bool = true;\n` +
      `// @ts-ignore: decorator\n@inline export function clearFlags(): void { fpFlags = 0; }\n` +
      `// @ts-ignore: decorator\n@inline export function takeFlags(): u32 { const f = fpFlags; fpFlags = 0; return f; }\n`
    );
  }
  let s = head + `// assembly/fpu/index.ts is missing: FP arithmetic traps as illegal.\n`;
  s += `export const FPU_PRESENT: bool = false;\n`;
  s += `export function clearFlags(): void {}\nexport function takeFlags(): u32 { return 0; }\n`;
  for (const w of ['32', '64']) {
    const T = w === '32' ? 'u32' : 'u64';
    for (const op of ['add', 'sub', 'mul', 'div']) s += `export function f${w}_${op}(a: ${T}, b: ${T}, rm: u32): ${T} { return 0; }\n`;
    s += `export function f${w}_sqrt(a: ${T}, rm: u32): ${T} { return 0; }\n`;
    for (const op of ['madd', 'msub', 'nmsub', 'nmadd']) s += `export function f${w}_${op}(a: ${T}, b: ${T}, c: ${T}, rm: u32): ${T} { return 0; }\n`;
    for (const op of ['min', 'max']) s += `export function f${w}_${op}(a: ${T}, b: ${T}): ${T} { return 0; }\n`;
    for (const op of ['eq', 'lt', 'le']) s += `export function f${w}_${op}(a: ${T}, b: ${T}): u32 { return 0; }\n`;
    s += `export function f${w}_class(a: ${T}): u32 { return 0; }\n`;
    for (const i of ['i32', 'u32', 'i64', 'u64']) s += `export function f${w}_to_${i}(a: ${T}, rm: u32): i64 { return 0; }\n`;
    for (const [i, t] of [['i32', 'i32'], ['u32', 'u32'], ['i64', 'i64'], ['u64', 'u64']]) s += `export function ${i}_to_f${w}(x: ${t}, rm: u32): ${T} { return 0; }\n`;
  }
  s += `export function f32_to_f64(a: u32): u64 { return 0; }\nexport function f64_to_f32(a: u64, rm: u32): u32 { return 0; }\n`;
  return s;
}

main().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
