// Deterministic operand generator for the FPU reference vectors: corner values (zeros,
// infinities, quiet and signaling NaNs, subnormals, normal limits, overflow and underflow
// thresholds, integer conversion boundaries, halfway cases) plus seeded random operands
// (random bit patterns and "nice" values with few significant bits, which make exact results
// and ties common). Records are {u32 op, u32 rm, u64 a, u64 b, u64 c}, little-endian.
import { OPS, usesRm } from './ops.mjs';

export const RECORD_IN = 32;
export const RECORD_OUT = 16;

// ---- formats and bit helpers --------------------------------------------------------------

export const FMT = {
  s: { bits: 32, p: 24, emax: 255, bias: 127 },
  d: { bits: 64, p: 53, emax: 2047, bias: 1023 },
};

const dv = new DataView(new ArrayBuffer(8));
export function f64bits(x) { dv.setFloat64(0, x, true); return dv.getBigUint64(0, true); }
export function bitsToF64(b) { dv.setBigUint64(0, BigInt.asUintN(64, b), true); return dv.getFloat64(0, true); }
export function f32bits(x) { dv.setFloat32(0, x, true); return BigInt(dv.getUint32(0, true)); }
export function bitsToF32(b) { dv.setUint32(0, Number(b & 0xffffffffn), true); return dv.getFloat32(0, true); }
export const toBits = (f, x) => (f === 's' ? f32bits(x) : f64bits(x));
export const fromBits = (f, b) => (f === 's' ? bitsToF32(b) : bitsToF64(b));

/** Packs sign, biased exponent and fraction into the bits of format f. */
function pack(f, sign, e, frac) {
  const F = FMT[f];
  const fb = BigInt(F.p - 1);
  return (BigInt(sign) << BigInt(F.bits - 1)) | (BigInt(e) << fb) | (frac & ((1n << fb) - 1n));
}

// ---- random numbers (xoshiro128**, seeded) -------------------------------------------------

export class Rng {
  constructor(seed) {
    let s = seed >>> 0 || 1;
    const next = () => { s = (s + 0x9e3779b9) >>> 0; let z = s; z = Math.imul(z ^ (z >>> 16), 0x85ebca6b); z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35); return (z ^ (z >>> 16)) >>> 0; };
    this.s = [next(), next(), next(), next()];
  }
  u32() {
    const s = this.s;
    const x = Math.imul(s[1], 5);
    const r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    return r;
  }
  below(n) { return Math.floor((this.u32() / 4294967296) * n); }
  range(lo, hi) { return lo + this.below(hi - lo + 1); }
  bool() { return (this.u32() & 1) === 1; }
  pick(a) { return a[this.below(a.length)]; }
  bits(n) { // random BigInt of n bits
    let r = 0n;
    for (let i = 0; i < n; i += 32) r = (r << 32n) | BigInt(this.u32());
    return r & ((1n << BigInt(n)) - 1n);
  }
}

// ---- corner values -------------------------------------------------------------------------

const num = (f, x) => toBits(f, x);
function specials(f) {
  const F = FMT[f];
  const top = F.emax;
  const fb = F.p - 1;
  const fm = (1n << BigInt(fb)) - 1n;
  const v = [
    pack(f, 0, 0, 0n), pack(f, 1, 0, 0n), // +-0
    pack(f, 0, 0, 1n), pack(f, 1, 0, 1n), // min subnormal
    pack(f, 0, 0, fm), pack(f, 1, 0, fm), // max subnormal
    pack(f, 0, 0, 1n << BigInt(fb - 1)), // half of min normal
    pack(f, 0, 1, 0n), pack(f, 1, 1, 0n), pack(f, 0, 1, 1n), // min normal, +ulp
    pack(f, 0, top - 1, fm), pack(f, 1, top - 1, fm), pack(f, 0, top - 1, fm - 1n), // max finite
    pack(f, 0, top - 1, 0n), // largest power of two
    pack(f, 0, top, 0n), pack(f, 1, top, 0n), // infinities
    pack(f, 0, top, 1n << BigInt(fb - 1)), pack(f, 1, top, (1n << BigInt(fb - 1)) | 1n), // qNaN
    pack(f, 0, top, 1n), pack(f, 1, top, (1n << BigInt(fb - 1)) - 1n), // sNaN
    pack(f, 0, F.bias, 0n), pack(f, 1, F.bias, 0n), pack(f, 0, F.bias, 1n), pack(f, 0, F.bias - 1, fm), // 1, -1, 1+ulp, 1-ulp/2
    pack(f, 0, F.bias - 1, 0n), pack(f, 1, F.bias - 1, 0n), // +-0.5
    num(f, 1.5), num(f, -1.5), num(f, 2), num(f, 2.5), num(f, -2.5), num(f, 3), num(f, 0.75), num(f, -0.25),
    pack(f, 0, F.bias - fb, 0n), pack(f, 0, F.bias - fb - 1, 0n), // ulp(1), ulp(1)/2
    pack(f, 0, F.bias + 1, fm), pack(f, 0, F.bias, fm), // 4-ulp, 2-ulp
  ];
  // integer conversion boundaries: 2^31, 2^32, 2^63, 2^64, each with neighbours
  for (const k of [31, 32, 63, 64]) {
    const p2 = pack(f, 0, F.bias + k, 0n);
    v.push(p2, p2 - 1n, p2 + 1n, p2 | (1n << BigInt(F.bits - 1)), (p2 | (1n << BigInt(F.bits - 1))) + 1n, (p2 | (1n << BigInt(F.bits - 1))) - 1n);
  }
  v.push(num(f, 2147483647), num(f, 2147483647.5), num(f, -2147483648.5), num(f, -2147483649),
    num(f, 4294967295), num(f, 4294967295.5), num(f, 4294967296.5), num(f, -1), num(f, -0.5), num(f, -0.75));
  return [...new Set(v.map((x) => BigInt.asUintN(F.bits, x)))];
}
export const SPECIALS = { s: specials('s'), d: specials('d') };

/** Integer operands (64-bit patterns) for integer -> float conversions. */
function intSpecials() {
  const v = [0n, 1n, 2n, 3n, 0xffffffffffffffffn /* -1 */, 0xfffffffffffffffen];
  for (const k of [24, 25, 31, 32, 53, 54, 63, 64]) {
    const p = 1n << BigInt(k);
    for (const d of [-3n, -2n, -1n, 0n, 1n, 2n, 3n]) {
      v.push(BigInt.asUintN(64, p + d), BigInt.asUintN(64, -(p + d)));
    }
  }
  v.push(0x7fffffffn, 0x80000000n, 0xffffffffn, 0xffffffff80000000n, 0x7fffffffffffffffn, 0x8000000000000000n);
  return [...new Set(v)];
}
export const INT_SPECIALS = intSpecials();

// ---- random values -------------------------------------------------------------------------

/** A fraction pattern: uniform, few top bits, runs of ones, single bits, tie patterns. */
function frac(r, f) {
  const fb = FMT[f].p - 1;
  const m = (1n << BigInt(fb)) - 1n;
  switch (r.below(7)) {
    case 0: case 1: return r.bits(fb);
    case 2: { const k = r.range(0, fb); return k === 0 ? 0n : r.bits(k) << BigInt(fb - k); } // few significant bits
    case 3: return m ^ (r.bits(r.range(0, 6)) << BigInt(r.range(0, fb - 6))); // mostly ones
    case 4: return 1n << BigInt(r.below(fb));
    case 5: { const k = r.range(1, fb); return ((r.bits(fb) >> BigInt(k)) << BigInt(k)) | (1n << BigInt(k - 1)); } // ...1000 halfway-ish
    default: return r.bits(fb) & ~(r.bits(fb) | r.bits(fb)); // sparse
  }
}

/** A random operand of format f from a mixture of families. */
export function randVal(r, f) {
  const F = FMT[f];
  const sign = r.below(2);
  switch (r.below(10)) {
    case 0: return r.pick(SPECIALS[f]);
    case 1: return r.bits(F.bits); // any bit pattern
    case 2: case 3: return pack(f, sign, F.bias + r.range(-12, 12), frac(r, f)); // nice, near 1
    case 4: return pack(f, sign, r.range(1, F.emax - 1), frac(r, f)); // any normal
    case 5: return pack(f, sign, r.pick([0, 0, 1, 2, F.p, F.emax - 1, F.emax - 2]), frac(r, f)); // edges
    case 6: { // integer-ish, for conversions and exact arithmetic
      const x = (r.bool() ? -1 : 1) * (r.below(1 << r.range(1, 30)) + r.pick([0, 0, 0.5, 0.25, 0.75]));
      return toBits(f, x);
    }
    case 7: return pack(f, sign, F.bias + r.range(-F.p - 4, F.p + 70), frac(r, f)); // conversion range
    default: return pack(f, sign, r.range(0, F.emax - 1), frac(r, f));
  }
}

/** b related to a: close exponent (cancellation, alignment), or chosen so that a op b lands
 *  near the overflow or underflow threshold. */
function relatedVal(r, f, a, opName) {
  const F = FMT[f];
  const fb = BigInt(F.p - 1);
  const ea = Number((a >> fb) & BigInt(F.emax));
  const sign = r.below(2);
  let e;
  const mode = r.below(4);
  if (mode === 0 || opName === 'add' || opName === 'sub') e = ea + r.range(-F.p - 3, F.p + 3);
  else if (opName === 'mul') e = r.pick([1, F.emax - 1, 0, 2, F.emax - 2]) - ea + F.bias + r.range(-2, 2) - (mode === 1 ? F.p : 0);
  else if (opName === 'div') e = ea - r.pick([1, F.emax - 1, 0, 2, F.emax - 2]) + F.bias + r.range(-2, 2);
  else e = ea + r.range(-3, 3);
  if (mode === 3) return BigInt.asUintN(F.bits, (a ^ (BigInt(r.below(2)) << BigInt(F.bits - 1))) + BigInt(r.range(-3, 3)));
  e = Math.max(0, Math.min(F.emax - 1, e));
  return pack(f, sign, e, frac(r, f));
}

/** c close to -(a*b) (massive cancellation), or to a*b scaled (alignment), or random. */
function fmaAddend(r, f, a, b) {
  const F = FMT[f];
  const x = fromBits(f, a), y = fromBits(f, b);
  let p = f === 's' ? Math.fround(x * y) : x * y;
  if (!Number.isFinite(p) || r.below(4) === 0) return randVal(r, f);
  const k = r.below(3);
  if (k === 0) p = -p;
  const pb = toBits(f, p);
  if (k === 2) { // shift the exponent
    const fb = BigInt(F.p - 1);
    const e = Number((pb >> fb) & BigInt(F.emax)) + r.range(-F.p - 2, F.p + 2);
    return pack(f, r.below(2), Math.max(0, Math.min(F.emax - 1, e)), frac(r, f));
  }
  return BigInt.asUintN(F.bits, pb + BigInt(r.range(-2, 2)));
}

/**
 * f32 fma operands whose f64 sum a*b + c rounds exactly onto an f32 midpoint of c while the
 * exact sum is just off it (double-rounding traps): a*b = h*(1 + 2^-k)*(1 - 2^-k) = h - h*2^-2k
 * with h half an f32 ulp of c.
 */
function fmaMidpoint32(r) {
  const e = r.range(30, 220); // biased exponent of c
  const c = pack('s', r.below(2), e, frac(r, 's'));
  const k = r.range(12, 23);
  const a = pack('s', r.below(2), e - 24, 1n << BigInt(23 - k)); // h * (1 + 2^-k)
  const b = pack('s', 0, 126, (1n << 23n) - (1n << BigInt(24 - k))); // 1 - 2^-k
  return [a, b, c];
}

/** Random 64-bit integer operands of random bit length, with tie patterns. */
function randInt(r) {
  const n = r.range(1, 64);
  let v = r.bits(n) | (1n << BigInt(n - 1));
  if (r.below(3) === 0 && n > 26) { // make the bits below the rounding point exactly half or near
    const k = BigInt(r.range(1, n - 24));
    v = ((v >> k) << k) | (1n << (k - 1n)) | BigInt(r.below(2));
  }
  if (r.bool()) v = BigInt.asUintN(64, -v);
  if (r.below(4) === 0) v = BigInt.asUintN(64, BigInt.asIntN(32, v)); // a sign-extended 32-bit value
  return v;
}

/** f64 operands for f64 -> f32: f32 thresholds with f64-precision perturbations. */
function randDemote(r) {
  const k = r.below(4);
  if (k === 0) return randVal(r, 'd');
  const f32v = r.below(2) ? r.pick(SPECIALS.s) : randVal(r, 's');
  const w = bitsToF32(f32v);
  if (!Number.isFinite(w)) return f64bits(w);
  let b = f64bits(w);
  if (k === 1) b += BigInt(r.range(-3, 3)); // just around an f32 value
  else if (k === 2) b = (b & ~0x1fffffffn) | 0x10000000n | BigInt(r.range(-1, 1) & 1); // an f32 halfway point
  else b = (b & 0x800fffffffffffffn) | (BigInt(r.pick([0x36a, 0x369, 0x380, 0x37f, 0x381, 0x47e, 0x47f, 0x36b, 0x370])) << 52n);
  return BigInt.asUintN(64, b);
}

// ---- the vector set ------------------------------------------------------------------------

/** Cases that once failed (found by long.mjs), kept in every standard run: [name, rm, a, b, c]. */
export const REGRESSIONS = [
  // TwoSum's s - x overflows next to the largest finite value
  ['f64_add', 3, 0x7fdea75e9af4991fn, 0xffefffffffffffffn],
  ['f64_add', 2, 0xffdea75e9af4991fn, 0x7fefffffffffffffn],
  ['f64_sub', 1, 0x7fefffffffffffffn, 0x7fdea75e9af4991fn],
  // f32 fma: the f64 sum is the midpoint 1 + 3*2^-24, the exact sum just below it
  ['f32_madd', 0, 0x33800020n, 0x3f7fffc0n, 0x3f800001n],
  ['f32_madd', 4, 0x33800020n, 0x3f7fffc0n, 0x3f800001n],
];

/**
 * Generates the input records.
 * @param {{ seed: number, random: number, specials?: boolean, ops?: number[] }} opts
 *   random: random operand tuples per (operation, rounding mode); specials: include the full
 *   corner-value products (all pairs for binary operations, a sample of triples for fma).
 */
export function generate({ seed, random, specials = true, ops }) {
  const r = new Rng(seed);
  /** @type {bigint[][]} */
  const recs = [];
  const push = (op, rm, a, b = 0n, c = 0n) => recs.push([op, rm, a, b, c]);
  for (const op of OPS) {
    if (!op || (ops && !ops.includes(op.id))) continue;
    const f = op.fmt;
    const S = SPECIALS[f];
    const rms = usesRm(op) ? [0, 1, 2, 3, 4] : [0];
    const short = op.name.slice(4);
    for (const rm of rms) {
      if (specials) {
        if (op.kind === 'bin' || op.kind === 'nr2') for (const a of S) for (const b of S) push(op.id, rm, a, b);
        else if (op.kind === 'fma') {
          for (let i = 0; i < 4000; i++) push(op.id, rm, r.pick(S), r.pick(S), r.pick(S));
        } else if (op.kind === 'fromi') for (const a of INT_SPECIALS) push(op.id, rm, a);
        else if (op.id === 65) for (const a of S) { push(op.id, rm, a); for (const s of SPECIALS.s) push(op.id, rm, f64bits(bitsToF32(s))); }
        else for (const a of S) push(op.id, rm, a);
      }
      for (let i = 0; i < random; i++) {
        if (op.kind === 'bin' || op.kind === 'nr2') {
          const a = randVal(r, f);
          push(op.id, rm, a, r.below(2) ? randVal(r, f) : relatedVal(r, f, a, short));
        } else if (op.kind === 'fma' && f === 's' && r.below(6) === 0) {
          push(op.id, rm, ...fmaMidpoint32(r));
        } else if (op.kind === 'fma') {
          const a = randVal(r, f), b = r.below(3) ? randVal(r, f) : relatedVal(r, f, a, 'mul');
          push(op.id, rm, a, b, fmaAddend(r, f, a, b));
        } else if (op.kind === 'fromi') {
          push(op.id, rm, randInt(r));
        } else if (op.id === 65) {
          push(op.id, rm, randDemote(r));
        } else if (op.kind === 'un' && r.below(3) === 0) { // near perfect squares
          const y = fromBits(f, randVal(r, f));
          const sq = f === 's' ? Math.fround(y * y) : y * y;
          push(op.id, rm, BigInt.asUintN(FMT[f].bits, toBits(f, Math.abs(sq)) + BigInt(r.range(-1, 1))));
        } else {
          push(op.id, rm, randVal(r, f));
        }
      }
    }
  }
  if (specials) {
    for (const [name, rm, a, b = 0n, c = 0n] of REGRESSIONS) {
      const op = OPS.find((o) => o && o.name === name);
      if (!ops || ops.includes(op.id)) push(op.id, rm, a, b, c);
    }
  }
  const buf = Buffer.alloc(recs.length * RECORD_IN);
  recs.forEach(([op, rm, a, b, c], i) => {
    const o = i * RECORD_IN;
    buf.writeUInt32LE(op, o);
    buf.writeUInt32LE(rm, o + 4);
    buf.writeBigUInt64LE(a, o + 8);
    buf.writeBigUInt64LE(b, o + 16);
    buf.writeBigUInt64LE(c, o + 24);
  });
  return buf;
}
