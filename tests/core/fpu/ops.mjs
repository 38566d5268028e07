// The operations under test. The index of each entry is its operation number, shared with
// refgen.c (the reference program) and assembly/fpu/test-entry.ts (our batch runner).
//   kind: bin (a op b, rm), un (op a, rm), fma (a, b, c, rm), nr2 (a, b, no rm), nr1 (a, no rm),
//         toi (float -> integer, rm), fromi (integer -> float, rm), cvt (float -> float)
//   fmt: operand format ('s' f32, 'd' f64); out: result format ('s', 'd' or 'x' integer bits)

const ROW = [
  ['add', 'bin'], ['sub', 'bin'], ['mul', 'bin'], ['div', 'bin'], ['sqrt', 'un'],
  ['madd', 'fma'], ['msub', 'fma'], ['nmsub', 'fma'], ['nmadd', 'fma'],
  ['min', 'nr2'], ['max', 'nr2'], ['eq', 'nr2'], ['lt', 'nr2'], ['le', 'nr2'], ['class', 'nr1'],
  ['to_i32', 'toi'], ['to_u32', 'toi'], ['to_i64', 'toi'], ['to_u64', 'toi'],
  ['from_i32', 'fromi'], ['from_u32', 'fromi'], ['from_i64', 'fromi'], ['from_u64', 'fromi'],
];

/** @type {{ id: number, name: string, kind: string, fmt: 's'|'d', out: 's'|'d'|'x', ibits?: number, signed?: boolean }[]} */
export const OPS = [];
for (const [base, fmt] of /** @type {const} */ ([[0, 's'], [32, 'd']])) {
  ROW.forEach(([name, kind], i) => {
    const op = { id: base + i, name: `f${fmt === 's' ? 32 : 64}_${name}`, kind, fmt, out: fmt };
    if (['eq', 'lt', 'le', 'class'].includes(name) || kind === 'toi') op.out = 'x';
    if (kind === 'fromi') {
      op.name = `${name.slice(5)}_to_f${fmt === 's' ? 32 : 64}`;
      op.ibits = name.endsWith('32') ? 32 : 64;
      op.signed = name.includes('_i');
    }
    OPS[op.id] = op;
  });
}
OPS[64] = { id: 64, name: 'f32_to_f64', kind: 'cvt', fmt: 's', out: 'd' };
OPS[65] = { id: 65, name: 'f64_to_f32', kind: 'cvt', fmt: 'd', out: 's' };

export const RM_NAMES = ['rne', 'rtz', 'rdn', 'rup', 'rmm'];

/** Whether the operation takes a rounding mode that can change its result. */
export function usesRm(op) {
  if (op.kind === 'nr1' || op.kind === 'nr2') return false;
  if (op.id === 64) return false; // f32 -> f64 is exact
  if (op.kind === 'fromi' && op.fmt === 'd' && op.ibits === 32) return false; // exact
  return true;
}
