// RISC-V F and D arithmetic, exact to IEEE 754-2008 and the unprivileged spec (chapters 11, 12).
//
// Values are raw bits (f32 in a u32, f64 in a u64; NaN-boxing is the hart's job), rm is a
// resolved rounding mode (RNE..RMM), and every operation ORs its exception flags into fpFlags.
// Any NaN result is the canonical NaN.
//
// WebAssembly only rounds to nearest-even and has no flags, so each operation first tries the
// host's native f64 operation and proves the flags cheaply:
//   add/sub   TwoSum gives the exact rounding error, so NX and every rounding mode are cheap;
//   mul/div   (RNE) exactness from the odd parts of the significands;
//   sqrt      exactness from the odd parts, direction from a 128-bit r*r compare;
//   f32 ops   evaluated in f64, where products are exact and double rounding is innocuous
//             (Figueroa 1995: 53 >= 2*24+2), then rounded by one f64 -> f32 step.
// Everything else (NaN/inf/zero operands, overflow, results near the underflow threshold,
// fused multiply-add of f64, directed mul/div of f64) goes to soft.ts.

import { fpFlags, NV, DZ, OF, NX, RNE, RTZ, RDN, RUP, RMM } from "./flags";
import {
  SIGN64, EXP64, FRAC64, QUIET64, NAN64, INF64, MINNORM64,
  SIGN32, EXP32, FRAC32, QUIET32, NAN32, INF32, MINNORM32,
  isNaN64, isSNaN64, isInf64, isZero64, isNaN32, isSNaN32, isInf32, isZero32,
  uSign, uExp, uSig, unpack64, unpack32, unpackU64, roundPack64, roundPack32,
  addSig, mulSig, divSig, fmaSig, mul128, mulHi, mulLo,
  KI32, KU32, KI64, KU64, cvtInvalid, cvtToInt,
} from "./soft";

export { fpFlags, NV, DZ, OF, UF, NX, RNE, RTZ, RDN, RUP, RMM } from "./flags";

// ---- helpers ----------------------------------------------------------------------------

/** Significand of a finite f64 as an integer (implicit bit included for normal numbers). */
@inline function mant64(a: u64): u64 {
  const f = a & FRAC64;
  return (a & EXP64) != 0 ? f | 0x0010000000000000 : f;
}
@inline function oddPart(m: u64): u64 { return m >> ctz<u64>(m); }
@inline function bitLen(m: u64): i32 { return 64 - <i32>clz<u64>(m); }

/**
 * Directed rounding from a round-to-nearest result: r (bits rb, finite, |r| above the
 * smallest normal) is the correctly rounded RNE value, the exact value is above r when up,
 * below otherwise; tieAway says the exact value is a midpoint that r rounded toward zero.
 */
@inline function directed64(rb: u64, up: bool, rm: u32, tieAway: bool): u64 {
  const neg = (rb >> 63) != 0;
  let res = rb;
  if (rm == RTZ) {
    if (up == neg) res = rb - 1;
  } else if (rm == RDN) {
    if (!up) res = neg ? rb + 1 : rb - 1;
  } else if (rm == RUP) {
    if (up) res = neg ? rb - 1 : rb + 1;
  } else if (rm == RMM) {
    if (tieAway) res = rb + 1;
  }
  if ((res & EXP64) == EXP64) fpFlags |= OF;
  return res;
}

@inline function directed32(rb: u32, up: bool, rm: u32, tieAway: bool): u32 {
  const neg = (rb >> 31) != 0;
  let res = rb;
  if (rm == RTZ) {
    if (up == neg) res = rb - 1;
  } else if (rm == RDN) {
    if (!up) res = neg ? rb + 1 : rb - 1;
  } else if (rm == RUP) {
    if (up) res = neg ? rb - 1 : rb + 1;
  } else if (rm == RMM) {
    if (tieAway) res = rb + 1;
  }
  if ((res & EXP32) == EXP32) fpFlags |= OF;
  return res;
}

/** High half (26 bits) of a Veltkamp split: x - hi is exact and fits in 26 bits too. */
@inline function splitHi(x: f64): f64 {
  const t = 134217729.0 * x; // 2^27 + 1
  return t - (t - x);
}

/** Dekker: the exact error x*y - p of p = RN(x*y), when nothing overflows or underflows. */
@inline function productError(x: f64, y: f64, p: f64): f64 {
  const xh = splitHi(x), xl = x - xh, yh = splitHi(y), yl = y - yh;
  return ((xh * yh - p) + xh * yl + xl * yh) + xl * yl;
}

/** Biased exponent field within 2^+-450 (products, quotients and splits stay in range). */
@inline function midRange64(a: u64): bool { return (<u32>(a >> 52) & 0x7ff) - 573 <= 900; }

/** Sign of an exact zero sum: x + (-x) is +0, except -0 when rounding down (IEEE 754 6.3). */
@inline function zeroSumSign64(a: u64, b: u64, rm: u32): u64 {
  if (((a ^ b) & SIGN64) == 0) return a & SIGN64;
  return rm == RDN ? SIGN64 : 0;
}
@inline function zeroSumSign32(a: u32, b: u32, rm: u32): u32 {
  if (((a ^ b) & SIGN32) == 0) return a & SIGN32;
  return rm == RDN ? SIGN32 : 0;
}

/**
 * Rounds an exactly known finite f64 value v to f32 in mode rm. Native demotion gives the RNE
 * result; comparing it with v gives the direction. Results at or below the smallest normal
 * (where tininess must be judged) and overflow go to roundPack32.
 */
function exactToF32(v: f64, rm: u32): u32 {
  const r = <f32>v;
  const rb = reinterpret<u32>(r);
  const mag = rb & ~SIGN32;
  if (mag > MINNORM32 && mag < INF32) {
    const rd = <f64>r;
    if (rd == v) return rb;
    fpFlags |= NX;
    if (rm == RNE) return rb;
    const up = v > rd;
    const tie = rm == RMM && <f64>reinterpret<f32>(rb + 1) - rd == 2 * (v - rd);
    return directed32(rb, up, rm, tie);
  }
  const vb = reinterpret<u64>(v);
  if (isZero64(vb)) return <u32>(vb >> 32) & SIGN32;
  unpack64(vb);
  return roundPack32(uSign, uExp, uSig, rm);
}

// ======================================================================================
// f64
// ======================================================================================

export function f64_add(a: u64, b: u64, rm: u32): u64 {
  const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
  const s = x + y;
  const sb = reinterpret<u64>(s);
  if ((sb & EXP64) != EXP64) {
    // TwoSum (Knuth): err is the exact rounding error of s. A sum that lands below the
    // smallest normal is always exact, so there is no underflow on this path.
    const z = s - x;
    const err = (x - (s - z)) + (y - z);
    if (err == 0) {
      if (s == 0) return zeroSumSign64(a, b, rm);
      return sb;
    }
    // Near the largest finite value s - x may overflow; err is then inf or NaN.
    if (abs<f64>(err) < Infinity) {
      fpFlags |= NX;
      if (rm == RNE) return sb;
      const up = err > 0;
      const tie = rm == RMM && up == (s > 0) && reinterpret<f64>(sb + 1) - s == 2 * err;
      return directed64(sb, up, rm, tie);
    }
  }
  return addSlow64(a, b, rm);
}

export function f64_sub(a: u64, b: u64, rm: u32): u64 {
  return f64_add(a, b ^ SIGN64, rm);
}

function addSlow64(a: u64, b: u64, rm: u32): u64 {
  if (isNaN64(a) || isNaN64(b)) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= NV;
    return NAN64;
  }
  if (isInf64(a)) {
    if (isInf64(b) && ((a ^ b) & SIGN64) != 0) {
      fpFlags |= NV;
      return NAN64;
    }
    return a;
  }
  if (isInf64(b)) return b;
  if (isZero64(a)) return isZero64(b) ? zeroSumSign64(a, b, rm) : b;
  if (isZero64(b)) return a;
  unpack64(a);
  const aS = uSign, aE = uExp, aSig = uSig;
  unpack64(b);
  if (!addSig(aS, aE, aSig, uSign, uExp, uSig)) return rm == RDN ? SIGN64 : 0;
  return roundPack64(uSign, uExp, uSig, rm);
}

export function f64_mul(a: u64, b: u64, rm: u32): u64 {
  if (rm == RNE) {
    const p = reinterpret<f64>(a) * reinterpret<f64>(b);
    const pb = reinterpret<u64>(p);
    const mag = pb & ~SIGN64;
    if (mag > MINNORM64 && mag < INF64) {
      // Odd parts oa, ob: the product is exact iff oa*ob fits in 53 bits.
      const oa = oddPart(mant64(a)), ob = oddPart(mant64(b));
      const n = bitLen(oa) + bitLen(ob);
      if (n > 54 || (n == 54 && oa * ob >= 0x20000000000000)) fpFlags |= NX;
      return pb;
    }
  } else if (midRange64(a) && midRange64(b)) {
    // Directed modes: Dekker's exact error gives the side of the exact product.
    const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
    const p = x * y;
    const pb = reinterpret<u64>(p);
    const e = productError(x, y, p);
    if (e == 0) return pb;
    fpFlags |= NX;
    const up = e > 0;
    const tie = rm == RMM && up == (p > 0) && reinterpret<f64>(pb + 1) - p == 2 * e;
    return directed64(pb, up, rm, tie);
  }
  return mulSlow64(a, b, rm);
}

function mulSlow64(a: u64, b: u64, rm: u32): u64 {
  const sign = (a ^ b) & SIGN64;
  if (isNaN64(a) || isNaN64(b)) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= NV;
    return NAN64;
  }
  if (isInf64(a) || isInf64(b)) {
    if (isZero64(a) || isZero64(b)) {
      fpFlags |= NV;
      return NAN64;
    }
    return sign | INF64;
  }
  if (isZero64(a) || isZero64(b)) return sign;
  unpack64(a);
  const aS = uSign, aE = uExp, aSig = uSig;
  unpack64(b);
  mulSig(aS, aE, aSig, uSign, uExp, uSig);
  return roundPack64(uSign, uExp, uSig, rm);
}

export function f64_div(a: u64, b: u64, rm: u32): u64 {
  if (rm == RNE) {
    const q = reinterpret<f64>(a) / reinterpret<f64>(b);
    const qb = reinterpret<u64>(q);
    const mag = qb & ~SIGN64;
    if (mag > MINNORM64 && mag < INF64) {
      // Exact iff oq*ob == oa for the odd parts (then oq*ob < 2^54 cannot wrap).
      const oa = oddPart(mant64(a)), ob = oddPart(mant64(b)), oq = oddPart(mant64(qb));
      if (bitLen(oq) + bitLen(ob) > 54 || oq * ob != oa) fpFlags |= NX;
      return qb;
    }
  } else if (midRange64(a) && midRange64(b)) {
    // Directed modes: the sign of the remainder a - q*b (x - qh is exact by Sterbenz, and
    // rounding x - qh - ql keeps its sign) gives the side; a normal quotient is never a tie.
    const x = reinterpret<f64>(a), y = reinterpret<f64>(b);
    const q = x / y;
    const qb = reinterpret<u64>(q);
    const qh = q * y;
    const rem = (x - qh) - productError(q, y, qh);
    if (rem == 0) return qb;
    fpFlags |= NX;
    if (rm == RMM) return qb;
    return directed64(qb, (rem > 0) == (y > 0), rm, false);
  }
  return divSlow64(a, b, rm);
}

function divSlow64(a: u64, b: u64, rm: u32): u64 {
  const sign = (a ^ b) & SIGN64;
  if (isNaN64(a) || isNaN64(b)) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= NV;
    return NAN64;
  }
  if (isInf64(a)) {
    if (isInf64(b)) {
      fpFlags |= NV;
      return NAN64;
    }
    return sign | INF64;
  }
  if (isInf64(b)) return sign;
  if (isZero64(b)) {
    if (isZero64(a)) {
      fpFlags |= NV;
      return NAN64;
    }
    fpFlags |= DZ;
    return sign | INF64;
  }
  if (isZero64(a)) return sign;
  unpack64(a);
  const aS = uSign, aE = uExp, aSig = uSig;
  unpack64(b);
  divSig(aS, aE, aSig, uSign, uExp, uSig);
  return roundPack64(uSign, uExp, uSig, rm);
}

export function f64_sqrt(a: u64, rm: u32): u64 {
  if (a - 1 < INF64 - 1) {
    // Positive, finite, nonzero: the result is always normal and never a tie, so the native
    // RNE root plus the sign of a - r*r decide every rounding mode.
    const rb = reinterpret<u64>(sqrt<f64>(reinterpret<f64>(a)));
    const mr = mant64(rb), ma = mant64(a);
    const or = oddPart(mr);
    if (bitLen(or) <= 27 && or * or == oddPart(ma)) return rb;
    fpFlags |= NX;
    if (rm == RNE || rm == RMM) return rb;
    // Compare r*r = mr^2 * 2^(2er) with a = ma * 2^ea, as 128-bit integers.
    const er = <i32>(rb >> 52) - 1075;
    const eaf = <i32>(a >> 52);
    const ea = (eaf == 0 ? 1 : eaf) - 1075;
    const k = ea - 2 * er; // between 51 and 105
    let xh: u64, xl: u64;
    if (k >= 64) {
      xh = ma << <u64>(k - 64);
      xl = 0;
    } else {
      xh = ma >> <u64>(64 - k);
      xl = ma << <u64>k;
    }
    mul128(mr, mr);
    const up = xh > mulHi || (xh == mulHi && xl > mulLo); // a > r*r: the root is above r
    if (up) return rm == RUP ? rb + 1 : rb;
    return rm == RUP ? rb : rb - 1;
  }
  if (isNaN64(a)) {
    if (isSNaN64(a)) fpFlags |= NV;
    return NAN64;
  }
  if (isZero64(a) || a == INF64) return a;
  fpFlags |= NV; // negative
  return NAN64;
}

// ---- fused multiply-add -----------------------------------------------------------------

/**
 * a*b + c with one rounding; negP negates the product, negC negates c (unpriv spec, 11.6).
 * Fast path, for operands well inside the exponent range (a, b within 2^+-450, c below 2^1001)
 * and results of at least 2^-959: Dekker's exact product ph + pl, then the emulated FMA of
 * Boldo and Melquiond (IEEE TC 2008): th + tl = c + ph exactly, v = pl + tl rounded to odd,
 * result = RN(th + v). The last TwoSum's error, or failing that the tail's sign, tells the
 * side of the exact value, which gives the flags and the directed modes.
 */
function fma64(a: u64, b: u64, c: u64, rm: u32, negP: bool, negC: bool): u64 {
  const ea = <u32>(a >> 52) & 0x7ff, eb = <u32>(b >> 52) & 0x7ff, ec = <u32>(c >> 52) & 0x7ff;
  if (ea - 573 <= 900 && eb - 573 <= 900 && ec <= 2023) {
    let x = reinterpret<f64>(a);
    if (negP) x = -x;
    const y = reinterpret<f64>(b);
    let z = reinterpret<f64>(c);
    if (negC) z = -z;
    const ph = x * y;
    const pl = productError(x, y, ph);
    const th = z + ph;
    const t1 = th - z;
    const tl = (z - (th - t1)) + (ph - t1);
    const vh = tl + pl;
    const t2 = vh - tl;
    const vl = (tl - (vh - t2)) + (pl - t2);
    let v = vh;
    if (vl != 0) {
      const vb = reinterpret<u64>(vh);
      if ((vb & 1) == 0) v = reinterpret<f64>((vl > 0) == (vh > 0) ? vb + 1 : vb - 1); // to odd
    }
    const r = th + v;
    const rb = reinterpret<u64>(r);
    const er = <u32>(rb >> 52) & 0x7ff;
    if (er - 64 <= 1982) {
      const t3 = r - th;
      const e2 = (th - (r - t3)) + (v - t3);
      if (e2 == 0 && vl == 0) return rb;
      fpFlags |= NX;
      if (rm == RNE) return rb;
      // e2 is a multiple of v's granularity while v is within one unit of the exact tail, so
      // e2 gives the side. (e2 is never 0 here: with vl != 0, v ends in an odd bit far below
      // th's ulp, so th + v cannot be exact.)
      const up = e2 > 0;
      const tie = rm == RMM && vl == 0 && up == (r > 0) && reinterpret<f64>(rb + 1) - r == 2 * e2;
      return directed64(rb, up, rm, tie);
    }
  }
  return fmaSlow64(a, b, c, rm, negP, negC);
}

function fmaSlow64(a: u64, b: u64, c: u64, rm: u32, negP: bool, negC: bool): u64 {
  if (isNaN64(a) || isNaN64(b) || isNaN64(c)) {
    // RISC-V raises NV for inf*0 even when c is a quiet NaN.
    if (isSNaN64(a) || isSNaN64(b) || isSNaN64(c) ||
        (isInf64(a) && isZero64(b)) || (isZero64(a) && isInf64(b))) fpFlags |= NV;
    return NAN64;
  }
  if (negC) c ^= SIGN64;
  const pS = ((a ^ b) >> 63) ^ <u64>negP;
  if (isInf64(a) || isInf64(b)) {
    if (isZero64(a) || isZero64(b) || (isInf64(c) && (c >> 63) != pS)) {
      fpFlags |= NV;
      return NAN64;
    }
    return (pS << 63) | INF64;
  }
  if (isInf64(c)) return c;
  if (isZero64(a) || isZero64(b)) {
    if (isZero64(c)) return zeroSumSign64(pS << 63, c, rm);
    return c;
  }
  unpack64(a);
  const aE = uExp, aSig = uSig;
  unpack64(b);
  const bE = uExp, bSig = uSig;
  if (isZero64(c)) {
    mulSig(0, aE, aSig, 0, bE, bSig);
    return roundPack64(<u32>pS, uExp, uSig, rm);
  }
  unpack64(c);
  if (!fmaSig(<u32>pS, aE, aSig, bE, bSig, uSign, uExp, uSig)) return rm == RDN ? SIGN64 : 0;
  return roundPack64(uSign, uExp, uSig, rm);
}

export function f64_madd(a: u64, b: u64, c: u64, rm: u32): u64 { return fma64(a, b, c, rm, false, false); }
export function f64_msub(a: u64, b: u64, c: u64, rm: u32): u64 { return fma64(a, b, c, rm, false, true); }
export function f64_nmsub(a: u64, b: u64, c: u64, rm: u32): u64 { return fma64(a, b, c, rm, true, false); }
export function f64_nmadd(a: u64, b: u64, c: u64, rm: u32): u64 { return fma64(a, b, c, rm, true, true); }

// ---- min/max, compares, class -----------------------------------------------------------

/** Maps f64 bits to an unsigned key that orders like the values, with -0 below +0. */
@inline function key64(a: u64): u64 { return (a & SIGN64) != 0 ? ~a : a | SIGN64; }
@inline function key32(a: u32): u32 { return (a & SIGN32) != 0 ? ~a : a | SIGN32; }

export function f64_min(a: u64, b: u64): u64 {
  const an = isNaN64(a), bn = isNaN64(b);
  if (an || bn) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= NV;
    return an && bn ? NAN64 : an ? b : a;
  }
  return key64(a) < key64(b) ? a : b;
}

export function f64_max(a: u64, b: u64): u64 {
  const an = isNaN64(a), bn = isNaN64(b);
  if (an || bn) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= NV;
    return an && bn ? NAN64 : an ? b : a;
  }
  return key64(a) > key64(b) ? a : b;
}

export function f64_eq(a: u64, b: u64): u32 {
  if (isNaN64(a) || isNaN64(b)) {
    if (isSNaN64(a) || isSNaN64(b)) fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f64>(a) == reinterpret<f64>(b));
}

export function f64_lt(a: u64, b: u64): u32 {
  if (isNaN64(a) || isNaN64(b)) {
    fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f64>(a) < reinterpret<f64>(b));
}

export function f64_le(a: u64, b: u64): u32 {
  if (isNaN64(a) || isNaN64(b)) {
    fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f64>(a) <= reinterpret<f64>(b));
}

/** fclass.d: one bit of 10 (unpriv spec, table 11.5). */
export function f64_class(a: u64): u32 {
  const neg = (a >> 63) != 0;
  const e = (a >> 52) & 0x7ff, f = a & FRAC64;
  if (e == 0x7ff) {
    if (f == 0) return neg ? 1 : 1 << 7;
    return (f & QUIET64) != 0 ? 1 << 9 : 1 << 8;
  }
  if (e == 0) {
    if (f == 0) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

// ---- conversions to integers ------------------------------------------------------------

/**
 * Rounds x to an integer natively (nearest-even, trunc, floor, ceil) when the result is in
 * range; RMM, NaN, infinities and out-of-range values take the exact integer path.
 */
@inline function f64ToInt(a: u64, x: f64, rm: u32, kind: i32): i64 {
  if (rm != RMM) {
    const t = rm == RNE ? nearest<f64>(x) : rm == RTZ ? trunc<f64>(x) : rm == RDN ? floor<f64>(x) : ceil<f64>(x);
    if (kind == KI32) {
      if (t >= -2147483648.0 && t <= 2147483647.0) {
        if (t != x) fpFlags |= NX;
        return <i64><i32>t;
      }
    } else if (kind == KU32) {
      if (t >= 0.0 && t <= 4294967295.0) {
        if (t != x) fpFlags |= NX;
        return <i64><i32><u32>t;
      }
    } else if (kind == KI64) {
      if (t >= -9223372036854775808.0 && t < 9223372036854775808.0) {
        if (t != x) fpFlags |= NX;
        return <i64>t;
      }
    } else {
      if (t >= 0.0 && t < 18446744073709551616.0) {
        if (t != x) fpFlags |= NX;
        return <i64><u64>t;
      }
    }
  }
  if (isNaN64(a)) return cvtInvalid(false, kind);
  if (isInf64(a)) return cvtInvalid((a >> 63) != 0, kind);
  if (isZero64(a)) return 0;
  unpack64(a);
  return cvtToInt(uSign, uExp, uSig, rm, kind);
}

export function f64_to_i32(a: u64, rm: u32): i64 { return f64ToInt(a, reinterpret<f64>(a), rm, KI32); }
export function f64_to_u32(a: u64, rm: u32): i64 { return f64ToInt(a, reinterpret<f64>(a), rm, KU32); }
export function f64_to_i64(a: u64, rm: u32): i64 { return f64ToInt(a, reinterpret<f64>(a), rm, KI64); }
export function f64_to_u64(a: u64, rm: u32): i64 { return f64ToInt(a, reinterpret<f64>(a), rm, KU64); }

// ---- conversions from integers ----------------------------------------------------------

export function i32_to_f64(x: i32, rm: u32): u64 { return reinterpret<u64>(<f64>x); }
export function u32_to_f64(x: u32, rm: u32): u64 { return reinterpret<u64>(<f64>x); }

export function i64_to_f64(x: i64, rm: u32): u64 {
  const neg = x < 0;
  const mag: u64 = neg ? <u64>-x : <u64>x;
  if (mag <= 0x20000000000000) return reinterpret<u64>(<f64>x);
  return fromMag64(neg, mag, rm, reinterpret<u64>(<f64>x));
}

export function u64_to_f64(x: u64, rm: u32): u64 {
  if (x <= 0x20000000000000) return reinterpret<u64>(<f64>x);
  return fromMag64(false, x, rm, reinterpret<u64>(<f64>x));
}

/** Rounds a magnitude above 2^53 to f64; native is the RNE result. */
function fromMag64(neg: bool, mag: u64, rm: u32, native: u64): u64 {
  if (64 - <i32>clz<u64>(mag) - <i32>ctz<u64>(mag) <= 53) return native;
  if (rm == RNE) {
    fpFlags |= NX;
    return native;
  }
  unpackU64(mag);
  return roundPack64(<u32>neg, uExp, uSig, rm);
}

// ======================================================================================
// f32 (evaluated in f64 where that is exact or innocuous)
// ======================================================================================

@inline function wide(a: u32): f64 { return <f64>reinterpret<f32>(a); }

export function f32_add(a: u32, b: u32, rm: u32): u32 {
  const x = wide(a), y = wide(b);
  const s = x + y;
  const r = <f32>s;
  const rb = reinterpret<u32>(r);
  if ((rb & EXP32) != EXP32) {
    // s is exact unless the exponents differ by more than 29; Fast2Sum gives the error then.
    let big = x, small = y;
    if (abs<f64>(x) < abs<f64>(y)) {
      big = y;
      small = x;
    }
    const err = small - (s - big);
    const rd = <f64>r;
    if (err == 0 && rd == s) {
      if (s == 0) return zeroSumSign32(a, b, rm);
      return rb;
    }
    fpFlags |= NX;
    if (rm == RNE) return rb;
    // The exact value is s + err with |err| below half an f64 ulp of s, so unless s == r
    // the side of r is the side of s.
    const up = rd != s ? s > rd : err > 0;
    const tie = rm == RMM && err == 0 && <f64>reinterpret<f32>(rb + 1) - rd == 2 * (s - rd);
    return directed32(rb, up, rm, tie);
  }
  return addSlow32(a, b, rm);
}

export function f32_sub(a: u32, b: u32, rm: u32): u32 {
  return f32_add(a, b ^ SIGN32, rm);
}

function addSlow32(a: u32, b: u32, rm: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) {
    if (isSNaN32(a) || isSNaN32(b)) fpFlags |= NV;
    return NAN32;
  }
  if (isInf32(a)) {
    if (isInf32(b) && ((a ^ b) & SIGN32) != 0) {
      fpFlags |= NV;
      return NAN32;
    }
    return a;
  }
  if (isInf32(b)) return b;
  // Finite operands whose sum overflowed: round the exact f64 sum.
  return exactToF32(wide(a) + wide(b), rm);
}

export function f32_mul(a: u32, b: u32, rm: u32): u32 {
  if ((a & EXP32) != EXP32 && (b & EXP32) != EXP32) {
    return exactToF32(wide(a) * wide(b), rm); // 24x24-bit product: exact in f64
  }
  const sign = (a ^ b) & SIGN32;
  if (isNaN32(a) || isNaN32(b)) {
    if (isSNaN32(a) || isSNaN32(b)) fpFlags |= NV;
    return NAN32;
  }
  if (isZero32(a) || isZero32(b)) {
    fpFlags |= NV; // inf * 0
    return NAN32;
  }
  return sign | INF32;
}

export function f32_div(a: u32, b: u32, rm: u32): u32 {
  const sign = (a ^ b) & SIGN32;
  if ((a & EXP32) != EXP32 && (b & EXP32) != EXP32 && !isZero32(a) && !isZero32(b)) {
    const x = wide(a), y = wide(b);
    const r = <f32>(x / y);
    const rb = reinterpret<u32>(r);
    const mag = rb & ~SIGN32;
    if (mag > MINNORM32 && mag < INF32) {
      const ry = <f64>r * y; // exact: 24x24 bits
      if (ry == x) return rb;
      fpFlags |= NX;
      if (rm == RNE || rm == RMM) return rb; // a quotient of normal size is never a tie
      const up = (x > ry) == (y > 0);
      return directed32(rb, up, rm, false);
    }
    unpack32(a);
    const aS = uSign, aE = uExp, aSig = uSig;
    unpack32(b);
    divSig(aS, aE, aSig, uSign, uExp, uSig);
    return roundPack32(uSign, uExp, uSig, rm);
  }
  if (isNaN32(a) || isNaN32(b)) {
    if (isSNaN32(a) || isSNaN32(b)) fpFlags |= NV;
    return NAN32;
  }
  if (isInf32(a)) {
    if (isInf32(b)) {
      fpFlags |= NV;
      return NAN32;
    }
    return sign | INF32;
  }
  if (isInf32(b)) return sign;
  if (isZero32(b)) {
    if (isZero32(a)) {
      fpFlags |= NV;
      return NAN32;
    }
    fpFlags |= DZ;
    return sign | INF32;
  }
  return sign; // 0 / finite
}

export function f32_sqrt(a: u32, rm: u32): u32 {
  if (a - 1 < INF32 - 1) {
    const x = wide(a);
    const r = <f32>sqrt<f64>(x);
    const rb = reinterpret<u32>(r);
    const rd = <f64>r;
    const sq = rd * rd; // exact
    if (sq == x) return rb;
    fpFlags |= NX;
    if (rm == RNE || rm == RMM) return rb;
    const up = x > sq;
    if (up) return rm == RUP ? rb + 1 : rb;
    return rm == RUP ? rb : rb - 1;
  }
  if (isNaN32(a)) {
    if (isSNaN32(a)) fpFlags |= NV;
    return NAN32;
  }
  if (isZero32(a) || a == INF32) return a;
  fpFlags |= NV;
  return NAN32;
}

function fma32(a: u32, b: u32, c: u32, rm: u32, negP: bool, negC: bool): u32 {
  if (negC) c ^= SIGN32;
  if ((a & EXP32) != EXP32 && (b & EXP32) != EXP32 && (c & EXP32) != EXP32) {
    let p = wide(a) * wide(b); // exact
    if (negP) p = -p;
    const z = wide(c);
    const s = p + z;
    const t = s - p;
    const err = (p - (s - t)) + (z - t);
    if (err == 0) {
      if (s == 0) {
        const sb = ((reinterpret<u64>(p) | reinterpret<u64>(z)) >> 32);
        if (rm == RDN) return <u32>sb & SIGN32;
        return <u32>(reinterpret<u64>(s) >> 32);
      }
      return exactToF32(s, rm);
    }
    // s is inexact, the exact value is s + err with |err| under half an f64 ulp of s. The f32
    // grid and its midpoints are f64 numbers, so rounding s rounds the exact value the same
    // way, except when s is itself an f32 midpoint; the exact value is never a tie.
    const r = <f32>s;
    const rb = reinterpret<u32>(r);
    const mag = rb & ~SIGN32;
    if (mag > MINNORM32 && mag < INF32 && abs<f64>(err) < Infinity) {
      const rd = <f64>r;
      const up = rd != s ? s > rd : err > 0;
      // The f32 neighbour of r on the side of s; s is a midpoint iff it lies halfway to it.
      const nb = up != (rb >> 31 != 0) ? rb + 1 : rb - 1;
      if (rd == s || <f64>reinterpret<f32>(nb) - rd != 2 * (s - rd)) {
        fpFlags |= NX;
        if (rm == RNE) return rb;
        return directed32(rb, up, rm, false);
      }
    }
    // Midpoints, tiny results and overflow: sum the exact product and c with integers.
    unpack32(a);
    const aE = uExp, aSig = uSig;
    unpack32(b);
    const bE = uExp, bSig = uSig;
    unpack32(c);
    const pS = ((a ^ b) >> 31) ^ <u32>negP;
    if (!fmaSig(pS, aE, aSig, bE, bSig, uSign, uExp, uSig)) return rm == RDN ? SIGN32 : 0;
    return roundPack32(uSign, uExp, uSig, rm);
  }
  if (isNaN32(a) || isNaN32(b) || isNaN32(c)) {
    if (isSNaN32(a) || isSNaN32(b) || isSNaN32(c) ||
        (isInf32(a) && isZero32(b)) || (isZero32(a) && isInf32(b))) fpFlags |= NV;
    return NAN32;
  }
  const pS = ((a ^ b) >> 31) ^ <u32>negP;
  if (isInf32(a) || isInf32(b)) {
    if (isZero32(a) || isZero32(b) || (isInf32(c) && (c >> 31) != pS)) {
      fpFlags |= NV;
      return NAN32;
    }
    return (pS << 31) | INF32;
  }
  return c; // c is infinite, the product finite
}

export function f32_madd(a: u32, b: u32, c: u32, rm: u32): u32 { return fma32(a, b, c, rm, false, false); }
export function f32_msub(a: u32, b: u32, c: u32, rm: u32): u32 { return fma32(a, b, c, rm, false, true); }
export function f32_nmsub(a: u32, b: u32, c: u32, rm: u32): u32 { return fma32(a, b, c, rm, true, false); }
export function f32_nmadd(a: u32, b: u32, c: u32, rm: u32): u32 { return fma32(a, b, c, rm, true, true); }

export function f32_min(a: u32, b: u32): u32 {
  const an = isNaN32(a), bn = isNaN32(b);
  if (an || bn) {
    if (isSNaN32(a) || isSNaN32(b)) fpFlags |= NV;
    return an && bn ? NAN32 : an ? b : a;
  }
  return key32(a) < key32(b) ? a : b;
}

export function f32_max(a: u32, b: u32): u32 {
  const an = isNaN32(a), bn = isNaN32(b);
  if (an || bn) {
    if (isSNaN32(a) || isSNaN32(b)) fpFlags |= NV;
    return an && bn ? NAN32 : an ? b : a;
  }
  return key32(a) > key32(b) ? a : b;
}

export function f32_eq(a: u32, b: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) {
    if (isSNaN32(a) || isSNaN32(b)) fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f32>(a) == reinterpret<f32>(b));
}

export function f32_lt(a: u32, b: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) {
    fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f32>(a) < reinterpret<f32>(b));
}

export function f32_le(a: u32, b: u32): u32 {
  if (isNaN32(a) || isNaN32(b)) {
    fpFlags |= NV;
    return 0;
  }
  return <u32>(reinterpret<f32>(a) <= reinterpret<f32>(b));
}

export function f32_class(a: u32): u32 {
  const neg = (a >> 31) != 0;
  const e = (a >> 23) & 0xff, f = a & FRAC32;
  if (e == 0xff) {
    if (f == 0) return neg ? 1 : 1 << 7;
    return (f & QUIET32) != 0 ? 1 << 9 : 1 << 8;
  }
  if (e == 0) {
    if (f == 0) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

export function f32_to_i32(a: u32, rm: u32): i64 { return f64ToInt(f32_to_f64_bits(a), wide(a), rm, KI32); }
export function f32_to_u32(a: u32, rm: u32): i64 { return f64ToInt(f32_to_f64_bits(a), wide(a), rm, KU32); }
export function f32_to_i64(a: u32, rm: u32): i64 { return f64ToInt(f32_to_f64_bits(a), wide(a), rm, KI64); }
export function f32_to_u64(a: u32, rm: u32): i64 { return f64ToInt(f32_to_f64_bits(a), wide(a), rm, KU64); }

/** Bits of the f64 with the same value (NaNs stay NaNs; only the NaN test looks at them). */
@inline function f32_to_f64_bits(a: u32): u64 { return reinterpret<u64>(wide(a)); }

export function i32_to_f32(x: i32, rm: u32): u32 {
  const neg = x < 0;
  const mag: u64 = neg ? <u64>(-<i64>x) : <u64>x;
  return fromMag32(neg, mag, rm, reinterpret<u32>(<f32>x));
}
export function u32_to_f32(x: u32, rm: u32): u32 {
  return fromMag32(false, <u64>x, rm, reinterpret<u32>(<f32>x));
}
export function i64_to_f32(x: i64, rm: u32): u32 {
  const neg = x < 0;
  const mag: u64 = neg ? <u64>-x : <u64>x;
  return fromMag32(neg, mag, rm, reinterpret<u32>(<f32>x));
}
export function u64_to_f32(x: u64, rm: u32): u32 {
  return fromMag32(false, x, rm, reinterpret<u32>(<f32>x));
}

/** Rounds a magnitude to f32; native is the (correctly rounded) RNE result. */
@inline function fromMag32(neg: bool, mag: u64, rm: u32, native: u32): u32 {
  if (mag <= 0x1000000 || 64 - <i32>clz<u64>(mag) - <i32>ctz<u64>(mag) <= 24) return native;
  if (rm == RNE) {
    fpFlags |= NX;
    return native;
  }
  unpackU64(mag);
  return roundPack32(<u32>neg, uExp, uSig, rm);
}

// ---- f32 <-> f64 --------------------------------------------------------------------------

export function f32_to_f64(a: u32): u64 {
  if (isNaN32(a)) {
    if (isSNaN32(a)) fpFlags |= NV;
    return NAN64;
  }
  return reinterpret<u64>(wide(a));
}

export function f64_to_f32(a: u64, rm: u32): u32 {
  if ((a & EXP64) == EXP64) {
    if (isNaN64(a)) {
      if (isSNaN64(a)) fpFlags |= NV;
      return NAN32;
    }
    return <u32>(a >> 32) & SIGN32 | INF32;
  }
  return exactToF32(reinterpret<f64>(a), rm);
}
