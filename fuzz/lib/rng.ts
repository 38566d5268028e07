// Seeded randomness for the fuzzers: every input is a pure function of (seed, index), so one
// failing input is re-run alone with `npm run fuzz -- NAME --seed S --from I --count 1`.

/** splitmix64 over two 32-bit halves (no BigInt in the hot path). */
export class Rng {
  private a: number;
  private b: number;

  constructor(seed: number, index = 0) {
    this.a = mix32((seed >>> 0) ^ 0x9e3779b9);
    this.b = mix32(((index >>> 0) + Math.floor(index / 2 ** 32)) ^ mix32(seed + 0x7f4a7c15));
    if (this.a === 0 && this.b === 0) this.a = 1;
    for (let i = 0; i < 4; i++) this.u32();
  }

  /** xorshift64 on (a, b). */
  u32(): number {
    let { a, b } = this;
    let t = a;
    const s = b;
    a = s;
    t ^= t << 23;
    t ^= t >>> 17;
    t ^= s ^ (s >>> 26);
    this.a = a >>> 0;
    this.b = t >>> 0;
    return (this.b + s) >>> 0;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    if (n <= 0) return 0;
    if (n <= 2 ** 32) return Math.floor((this.u32() / 2 ** 32) * n);
    return Math.floor((this.u32() * 2 ** 21 + (this.u32() >>> 11)) / 2 ** 53 * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Picks a key by weight: { a: 3, b: 1 } gives 'a' three times in four. */
  weighted<K extends string>(weights: Record<K, number>): K {
    const entries = Object.entries(weights) as [K, number][];
    let r = this.int(entries.reduce((n, [, w]) => n + w, 0));
    for (const [k, w] of entries) {
      if (r < w) return k;
      r -= w;
    }
    return entries[0]![0];
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
    }
    return out;
  }

  /** A value that hits edges: 0, 1, powers of two and their neighbours, all ones, or random. */
  edgy32(): number {
    switch (this.int(6)) {
      case 0: return this.pick([0, 1, 2, 0xff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]);
      case 1: { const p = 2 ** this.int(32); return (p + this.pick([-1, 0, 1])) >>> 0; }
      case 2: return this.int(16);
      case 3: return this.int(4096);
      default: return this.u32();
    }
  }

  edgy64(): bigint {
    switch (this.int(5)) {
      case 0: return this.pick([0n, 1n, 0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0x7fff_ffff_ffff_ffffn]);
      case 1: return BigInt.asUintN(64, (1n << BigInt(this.int(64))) + BigInt(this.pick([-1, 0, 1])));
      case 2: return BigInt(this.edgy32());
      default: return this.u64();
    }
  }
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
