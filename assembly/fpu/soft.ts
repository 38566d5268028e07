// Exact software arithmetic: integer significands, every rounding mode, every flag.
// The fast paths in index.ts fall back to these for special operands, directed rounding
// where no cheap error term exists, fused multiply-add, overflow and underflow.
//
// An unpacked finite nonzero value is (sign, exp, sig) with value = sig * 2^(exp - 62) and
// bit 62 of sig set: exp is the unbiased exponent of the leading bit. Bit 0 may hold a
// sticky bit (the OR of bits shifted away below it).

import { fpFlags, NV, OF, UF, NX, RNE, RDN, RUP, RMM } from "./flags";

export const SIGN64: u64 = 0x8000000000000000;
export const EXP64: u64 = 0x7ff0000000000000;
export const FRAC64: u64 = 0x000fffffffffffff;
export const QUIET64: u64 = 0x0008000000000000;
export const NAN64: u64 = 0x7ff8000000000000;
export const INF64: u64 = 0x7ff0000000000000;
export const MINNORM64: u64 = 0x0010000000000000;

export const SIGN32: u32 = 0x80000000;
export const EXP32: u32 = 0x7f800000;
export const FRAC32: u32 = 0x007fffff;
export const QUIET32: u32 = 0x00400000;
export const NAN32: u32 = 0x7fc00000;
export const INF32: u32 = 0x7f800000;
export const MINNORM32: u32 = 0x00800000;

// Results of unpack*/add/mul/div (AssemblyScript has no tuples; these are plain globals).
export let uSign: u32 = 0;
export let uExp: i32 = 0;
export let uSig: u64 = 0;

// ---- classification -------------------------------------------------------------------

@inline export function isNaN64(a: u64): bool { return (a & ~SIGN64) > INF64; }
@inline export function isSNaN64(a: u64): bool { return isNaN64(a) && (a & QUIET64) == 0; }
@inline export function isInf64(a: u64): bool { return (a & ~SIGN64) == INF64; }
@inline export function isZero64(a: u64): bool { return (a & ~SIGN64) == 0; }
@inline export function isNaN32(a: u32): bool { return (a & ~SIGN32) > INF32; }
@inline export function isSNaN32(a: u32): bool { return isNaN32(a) && (a & QUIET32) == 0; }
@inline export function isInf32(a: u32): bool { return (a & ~SIGN32) == INF32; }
@inline export function isZero32(a: u32): bool { return (a & ~SIGN32) == 0; }

// ---- unpacking --------------------------------------------------------------------------

/** Unpacks a finite nonzero f64 into uSign/uExp/uSig. */
export function unpack64(a: u64): void {
  uSign = <u32>(a >> 63);
  const e = <i32>((a >> 52) & 0x7ff);
  const f = a & FRAC64;
  if (e != 0) {
    uSig = (f | 0x0010000000000000) << 10;
    uExp = e - 1023;
  } else {
    const lz = <i32>clz<u64>(f);
    uSig = f << <u64>(lz - 1);
    uExp = 63 - lz - 1074;
  }
}

/** Unpacks a finite nonzero f32 into uSign/uExp/uSig. */
export function unpack32(a: u32): void {
  uSign = a >> 31;
  const e = <i32>((a >> 23) & 0xff);
  const f = <u64>(a & FRAC32);
  if (e != 0) {
    uSig = (f | 0x800000) << 39;
    uExp = e - 127;
  } else {
    const lz = <i32>clz<u64>(f);
    uSig = f << <u64>(lz - 1);
    uExp = 63 - lz - 149;
  }
}

/** x >> n, with any bit shifted out ORed into bit 0. */
@inline export function shiftRightJam(x: u64, n: i32): u64 {
  if (n <= 0) return x;
  if (n >= 63) return <u64>(x != 0);
  return (x >> <u64>n) | <u64>((x << <u64>(64 - n)) != 0);
}

// ---- rounding ---------------------------------------------------------------------------

/** Whether to add one unit to m, given the nonzero bits r below it (half = value of one half unit). */
@inline function roundsUp(sign: u32, m: u64, r: u64, half: u64, rm: u32): bool {
  if (rm == RNE) return r > half || (r == half && (m & 1) != 0);
  if (rm == RDN) return sign != 0;
  if (rm == RUP) return sign == 0;
  if (rm == RMM) return r >= half;
  return false; // RTZ
}

/**
 * Rounds (sign, exp, sig) to a format with P significand bits and exponent range
 * [EMIN, EMAX], raising NX/UF/OF, and returns the packed bits (an f32 in the low half).
 * Tininess is detected after rounding, as RISC-V requires (unpriv spec, 11.2; IEEE 754 7.5).
 */
@inline function roundPackBits(sign: u32, exp: i32, sig: u64, rm: u32, P: i32, EMIN: i32, EMAX: i32): u64 {
  const drop = 63 - P;
  const mask: u64 = (<u64>1 << <u64>drop) - 1;
  const half: u64 = <u64>1 << <u64>(drop - 1);
  let tiny = false;
  if (exp < EMIN) {
    tiny = true;
    if (exp == EMIN - 1) {
      // Rounded to P bits with an unbounded exponent, does it reach 2^EMIN?
      const r = sig & mask;
      const m = sig >> <u64>drop;
      if (r != 0 && roundsUp(sign, m, r, half, rm) && m + 1 == (<u64>1 << <u64>P)) tiny = false;
    }
    sig = shiftRightJam(sig, EMIN - exp);
    exp = EMIN;
  }
  const r = sig & mask;
  let m = sig >> <u64>drop;
  let flags: u32 = 0;
  if (r != 0) {
    flags = tiny ? NX | UF : NX;
    if (roundsUp(sign, m, r, half, rm)) {
      m++;
      if (m == (<u64>1 << <u64>P)) {
        m >>= 1;
        exp++;
      }
    }
  }
  const expShift = <u64>(P - 1);
  const total: u64 = <u64>(EMAX == 1023 ? 63 : 31);
  if (exp > EMAX) {
    fpFlags |= OF | NX;
    const inf: u64 = <u64>(2 * EMAX + 1) << expShift;
    let toInf = rm == RNE || rm == RMM || (rm == RUP && sign == 0) || (rm == RDN && sign != 0);
    return (<u64>sign << total) | (toInf ? inf : inf - 1);
  }
  fpFlags |= flags;
  // Adding m (with its leading bit) to the exponent field minus one packs normal numbers,
  // subnormals (exp == EMIN, no leading bit) and a subnormal that rounded up to normal.
  return ((<u64>sign << total) | (<u64>(exp + EMAX - 1) << expShift)) + m;
}

/** Rounds an unpacked value to f64 bits. */
export function roundPack64(sign: u32, exp: i32, sig: u64, rm: u32): u64 {
  return roundPackBits(sign, exp, sig, rm, 53, -1022, 1023);
}

/** Rounds an unpacked value to f32 bits. */
export function roundPack32(sign: u32, exp: i32, sig: u64, rm: u32): u32 {
  return <u32>roundPackBits(sign, exp, sig, rm, 24, -126, 127);
}

// ---- add --------------------------------------------------------------------------------

/**
 * Exact sum of two finite nonzero unpacked values into uSign/uExp/uSig (sticky in bit 0).
 * Returns false when the sum is exactly zero (the caller picks the zero's sign).
 */
export function addSig(aS: u32, aE: i32, aSig: u64, bS: u32, bE: i32, bSig: u64): bool {
  if (bE > aE || (bE == aE && bSig > aSig)) {
    const ts = aS; aS = bS; bS = ts;
    const te = aE; aE = bE; bE = te;
    const tg = aSig; aSig = bSig; bSig = tg;
  }
  // Leading bits at 61 leave room for a carry; two or more guard bits keep the sticky exact.
  aSig >>= 1;
  bSig = shiftRightJam(bSig >> 1, aE - bE);
  let s: u64;
  if (aS == bS) {
    s = aSig + bSig;
  } else {
    s = aSig - bSig;
    if (s == 0) return false;
  }
  const lz = <i32>clz<u64>(s);
  uSign = aS;
  uSig = s << <u64>(lz - 1);
  uExp = aE + 2 - lz;
  return true;
}

// ---- multiply ---------------------------------------------------------------------------

export let mulHi: u64 = 0;
export let mulLo: u64 = 0;

/** Full 128-bit product of two u64 into mulHi:mulLo. */
export function mul128(a: u64, b: u64): void {
  const a0 = a & 0xffffffff, a1 = a >> 32;
  const b0 = b & 0xffffffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  mulLo = (mid << 32) | (p00 & 0xffffffff);
  mulHi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/** Product of two finite nonzero unpacked values into uSign/uExp/uSig (sticky in bit 0). */
export function mulSig(aS: u32, aE: i32, aSig: u64, bS: u32, bE: i32, bSig: u64): void {
  mul128(aSig, bSig); // leading bit at 125 or 124
  const hi = mulHi, lo = mulLo;
  uSign = aS ^ bS;
  if ((hi >> 61) != 0) {
    uSig = (hi << 1) | (lo >> 63) | <u64>((lo << 1) != 0);
    uExp = aE + bE + 1;
  } else {
    uSig = (hi << 2) | (lo >> 62) | <u64>((lo << 2) != 0);
    uExp = aE + bE;
  }
}

// ---- divide -----------------------------------------------------------------------------

/** Quotient of two finite nonzero unpacked values into uSign/uExp/uSig (sticky in bit 0). */
export function divSig(aS: u32, aE: i32, aSig: u64, bS: u32, bE: i32, bSig: u64): void {
  let ma = aSig >> 10; // 53-bit integers with the leading bit at 52
  const mb = bSig >> 10;
  let e = aE - bE;
  if (ma < mb) {
    ma <<= 1;
    e--;
  }
  // Long division, ten quotient bits per step: the remainder stays below mb < 2^53.
  let q: u64 = 1;
  let r = ma - mb;
  for (let i = 0; i < 6; i++) {
    r <<= 10;
    q = (q << 10) | (r / mb);
    r = r % mb;
  }
  uSign = aS ^ bS;
  uExp = e;
  uSig = (q << 2) | <u64>(r != 0); // q has 61 bits
}

// ---- fused multiply-add -----------------------------------------------------------------

/**
 * Exact a*b + c for finite nonzero unpacked operands into uSign/uExp/uSig (sticky in bit 0),
 * using a 128-bit sum. Returns false when the sum is exactly zero.
 */
export function fmaSig(
  pS: u32, aE: i32, aSig: u64, bE: i32, bSig: u64, cS: u32, cE: i32, cSig: u64,
): bool {
  mul128(aSig, bSig);
  // Both addends as 128-bit values with the leading bit at 125: value = X * 2^(E - 125).
  let pHi = mulHi, pLo = mulLo;
  let pE = aE + bE + 1;
  if ((pHi >> 61) == 0) {
    pHi = (pHi << 1) | (pLo >> 63);
    pLo <<= 1;
    pE--;
  }
  let cHi = cSig >> 1, cLo = cSig << 63;
  // x is the larger magnitude, y the smaller.
  let xS = pS, xE = pE, xHi = pHi, xLo = pLo;
  let yS = cS, yE = cE, yHi = cHi, yLo = cLo;
  if (cE > pE || (cE == pE && (cHi > pHi || (cHi == pHi && cLo > pLo)))) {
    xS = cS; xE = cE; xHi = cHi; xLo = cLo;
    yS = pS; yE = pE; yHi = pHi; yLo = pLo;
  }
  // Align y with a sticky bit.
  const d = xE - yE;
  if (d > 0) {
    if (d >= 127) {
      yLo = <u64>((yHi | yLo) != 0);
      yHi = 0;
    } else if (d >= 64) {
      const n = d - 64;
      const lost = n == 0 ? yLo : (yLo | (yHi << <u64>(64 - n)));
      yLo = (n == 0 ? yHi : yHi >> <u64>n) | <u64>(lost != 0);
      yHi = 0;
    } else {
      const lost = yLo << <u64>(64 - d);
      yLo = (yLo >> <u64>d) | (yHi << <u64>(64 - d)) | <u64>(lost != 0);
      yHi >>= <u64>d;
    }
  }
  let sHi: u64, sLo: u64;
  if (xS == yS) {
    sLo = xLo + yLo;
    sHi = xHi + yHi + <u64>(sLo < xLo);
  } else {
    sLo = xLo - yLo;
    sHi = xHi - yHi - <u64>(xLo < yLo);
    if ((sHi | sLo) == 0) return false;
  }
  // Normalize so the leading bit lands at 126, then fold the low word into a sticky bit.
  let lz: i32;
  if (sHi != 0) lz = <i32>clz<u64>(sHi);
  else lz = 64 + <i32>clz<u64>(sLo);
  const sh = lz - 1; // left shift, 0..126
  if (sh >= 64) {
    sHi = sLo << <u64>(sh - 64);
    sLo = 0;
  } else if (sh > 0) {
    sHi = (sHi << <u64>sh) | (sLo >> <u64>(64 - sh));
    sLo <<= <u64>sh;
  }
  uSign = xS;
  uExp = xE + 2 - lz;
  uSig = sHi | <u64>(sLo != 0);
  return true;
}

// ---- conversions to integers ------------------------------------------------------------

export const KI32: i32 = 0;
export const KU32: i32 = 1;
export const KI64: i32 = 2;
export const KU64: i32 = 3;

/** The saturated result of an invalid conversion (unpriv spec, table 11.4). */
export function cvtInvalid(neg: bool, kind: i32): i64 {
  fpFlags |= NV;
  if (kind == KI32) return neg ? -2147483648 : 2147483647;
  if (kind == KU32) return neg ? 0 : -1; // 0xffffffff sign-extended
  if (kind == KI64) return neg ? <i64>0x8000000000000000 : 0x7fffffffffffffff;
  return neg ? 0 : -1;
}

/** Converts a finite nonzero unpacked value to an integer of the given kind. */
export function cvtToInt(sign: u32, exp: i32, sig: u64, rm: u32, kind: i32): i64 {
  if (exp >= 64) return cvtInvalid(sign != 0, kind);
  let mag: u64;
  let inexact = false;
  if (exp == 63) {
    mag = sig << 1; // an integer at or above 2^63
  } else {
    const sh = 62 - exp;
    let ip: u64, frac: u64; // integer part; fraction bits left-aligned (half = bit 63)
    if (sh == 0) {
      ip = sig;
      frac = 0;
    } else if (sh < 64) {
      ip = sig >> <u64>sh;
      frac = sig << <u64>(64 - sh);
    } else {
      ip = 0;
      frac = 1; // below one half
    }
    mag = ip;
    if (frac != 0) {
      inexact = true;
      if (roundsUp(sign, ip, frac, 0x8000000000000000, rm)) mag++;
    }
  }
  const neg = sign != 0;
  let ok: bool;
  if (kind == KI32) ok = neg ? mag <= 0x80000000 : mag <= 0x7fffffff;
  else if (kind == KU32) ok = neg ? mag == 0 : mag <= 0xffffffff;
  else if (kind == KI64) ok = neg ? mag <= 0x8000000000000000 : mag <= 0x7fffffffffffffff;
  else ok = neg ? mag == 0 : true;
  if (!ok) return cvtInvalid(neg, kind);
  if (inexact) fpFlags |= NX;
  const v: i64 = neg ? -<i64>mag : <i64>mag;
  if (kind == KU32) return <i64><i32><u32>v;
  return v;
}

// ---- conversions from integers ----------------------------------------------------------

/** Unpacks a nonzero magnitude into uExp/uSig (uSign untouched). */
export function unpackU64(mag: u64): void {
  const lz = <i32>clz<u64>(mag);
  if (lz == 0) {
    uSig = (mag >> 1) | (mag & 1);
    uExp = 63;
  } else {
    uSig = mag << <u64>(lz - 1);
    uExp = 63 - lz;
  }
}
