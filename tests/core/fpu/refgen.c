/*
 * Reference oracle for the FPU tests: a freestanding static RV64 Linux program, run under
 * qemu-riscv64 (user mode). It reads 32-byte records {u32 op, u32 rm, u64 a, u64 b, u64 c}
 * from stdin and writes 16-byte records {u64 result, u64 fflags} to stdout. Each operation is
 * one instruction with a static rounding mode, bracketed by fsflags/frflags in one asm block.
 * Operation numbers are the indexes of OPS in ops.mjs (f32 ops 0..22, f64 ops 32..54, 64, 65).
 */
typedef unsigned long u64;
typedef unsigned int u32;

static long sys3(long n, long a, long b, long c) {
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  register long a2 __asm__("a2") = c;
  register long a7 __asm__("a7") = n;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
  return a0;
}

static float CVT_float(u64 x) { union { u32 u; float f; } v; v.u = (u32)x; return v.f; }
static double CVT_double(u64 x) { union { u64 u; double f; } v; v.u = x; return v.f; }
static u64 BITS_float(float f) { union { u32 u; float f; } v; v.f = f; return v.u; }
static u64 BITS_double(double f) { union { u64 u; double f; } v; v.f = f; return v.u; }

#define PRE "fsflags zero\n\t"
#define POST "\n\tfrflags %1"

/* One asm statement per static rounding mode; ASM(rmstring) expands to the statement. */
#define SW_RM(ASM) switch (rm) { \
    case 0: ASM("rne"); break; case 1: ASM("rtz"); break; case 2: ASM("rdn"); break; \
    case 3: ASM("rup"); break; default: ASM("rmm"); break; }

/* two floats -> float, with rm */
#define GEN_BIN(N, I, S) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { S r, x = CVT_##S(a), y = CVT_##S(b); (void)c; \
    switch (rm) { \
      case 0: __asm__ volatile(PRE I " %0,%2,%3,rne" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y)); break; \
      case 1: __asm__ volatile(PRE I " %0,%2,%3,rtz" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y)); break; \
      case 2: __asm__ volatile(PRE I " %0,%2,%3,rdn" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y)); break; \
      case 3: __asm__ volatile(PRE I " %0,%2,%3,rup" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y)); break; \
      default: __asm__ volatile(PRE I " %0,%2,%3,rmm" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y)); break; \
    } return BITS_##S(r); }

/* one float -> float (sqrt, f64->f32), with rm */
#define GEN_UN(N, I, S, D) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { D r; S x = CVT_##S(a); (void)b; (void)c; \
    switch (rm) { \
      case 0: __asm__ volatile(PRE I " %0,%2,rne" POST : "=f"(r), "=r"(*fl) : "f"(x)); break; \
      case 1: __asm__ volatile(PRE I " %0,%2,rtz" POST : "=f"(r), "=r"(*fl) : "f"(x)); break; \
      case 2: __asm__ volatile(PRE I " %0,%2,rdn" POST : "=f"(r), "=r"(*fl) : "f"(x)); break; \
      case 3: __asm__ volatile(PRE I " %0,%2,rup" POST : "=f"(r), "=r"(*fl) : "f"(x)); break; \
      default: __asm__ volatile(PRE I " %0,%2,rmm" POST : "=f"(r), "=r"(*fl) : "f"(x)); break; \
    } return BITS_##D(r); }

/* three floats -> float (fused multiply-add family), with rm */
#define GEN_F3(N, I, S) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { S r, x = CVT_##S(a), y = CVT_##S(b), z = CVT_##S(c); \
    switch (rm) { \
      case 0: __asm__ volatile(PRE I " %0,%2,%3,%4,rne" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y), "f"(z)); break; \
      case 1: __asm__ volatile(PRE I " %0,%2,%3,%4,rtz" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y), "f"(z)); break; \
      case 2: __asm__ volatile(PRE I " %0,%2,%3,%4,rdn" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y), "f"(z)); break; \
      case 3: __asm__ volatile(PRE I " %0,%2,%3,%4,rup" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y), "f"(z)); break; \
      default: __asm__ volatile(PRE I " %0,%2,%3,%4,rmm" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y), "f"(z)); break; \
    } return BITS_##S(r); }

/* float -> integer register, with rm */
#define GEN_TOI(N, I, S) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { u64 r; S x = CVT_##S(a); (void)b; (void)c; \
    switch (rm) { \
      case 0: __asm__ volatile(PRE I " %0,%2,rne" POST : "=r"(r), "=r"(*fl) : "f"(x)); break; \
      case 1: __asm__ volatile(PRE I " %0,%2,rtz" POST : "=r"(r), "=r"(*fl) : "f"(x)); break; \
      case 2: __asm__ volatile(PRE I " %0,%2,rdn" POST : "=r"(r), "=r"(*fl) : "f"(x)); break; \
      case 3: __asm__ volatile(PRE I " %0,%2,rup" POST : "=r"(r), "=r"(*fl) : "f"(x)); break; \
      default: __asm__ volatile(PRE I " %0,%2,rmm" POST : "=r"(r), "=r"(*fl) : "f"(x)); break; \
    } return r; }

/* integer register -> float, with rm */
#define GEN_FROMI(N, I, D) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { D r; (void)b; (void)c; \
    switch (rm) { \
      case 0: __asm__ volatile(PRE I " %0,%2,rne" POST : "=f"(r), "=r"(*fl) : "r"(a)); break; \
      case 1: __asm__ volatile(PRE I " %0,%2,rtz" POST : "=f"(r), "=r"(*fl) : "r"(a)); break; \
      case 2: __asm__ volatile(PRE I " %0,%2,rdn" POST : "=f"(r), "=r"(*fl) : "r"(a)); break; \
      case 3: __asm__ volatile(PRE I " %0,%2,rup" POST : "=f"(r), "=r"(*fl) : "r"(a)); break; \
      default: __asm__ volatile(PRE I " %0,%2,rmm" POST : "=f"(r), "=r"(*fl) : "r"(a)); break; \
    } return BITS_##D(r); }

/* no rounding mode */
#define GEN_NR2F(N, I, S) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { S r, x = CVT_##S(a), y = CVT_##S(b); (void)c; (void)rm; \
    __asm__ volatile(PRE I " %0,%2,%3" POST : "=f"(r), "=r"(*fl) : "f"(x), "f"(y)); return BITS_##S(r); }
#define GEN_NR2I(N, I, S) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { u64 r; S x = CVT_##S(a), y = CVT_##S(b); (void)c; (void)rm; \
    __asm__ volatile(PRE I " %0,%2,%3" POST : "=r"(r), "=r"(*fl) : "f"(x), "f"(y)); return r; }
#define GEN_NR1I(N, I, S) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { u64 r; S x = CVT_##S(a); (void)b; (void)c; (void)rm; \
    __asm__ volatile(PRE I " %0,%2" POST : "=r"(r), "=r"(*fl) : "f"(x)); return r; }
#define GEN_NR1F(N, I, S, D) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { D r; S x = CVT_##S(a); (void)b; (void)c; (void)rm; \
    __asm__ volatile(PRE I " %0,%2" POST : "=f"(r), "=r"(*fl) : "f"(x)); return BITS_##D(r); }
#define GEN_NRFROMI(N, I, D) \
  static u64 N(u64 a, u64 b, u64 c, u64 rm, u64 *fl) { D r; (void)b; (void)c; (void)rm; \
    __asm__ volatile(PRE I " %0,%2" POST : "=f"(r), "=r"(*fl) : "r"(a)); return BITS_##D(r); }

#define GEN_ALL(P, S, X) \
  GEN_BIN(P##add, "fadd." X, S) GEN_BIN(P##sub, "fsub." X, S) \
  GEN_BIN(P##mul, "fmul." X, S) GEN_BIN(P##div, "fdiv." X, S) \
  GEN_UN(P##sqrt, "fsqrt." X, S, S) \
  GEN_F3(P##madd, "fmadd." X, S) GEN_F3(P##msub, "fmsub." X, S) \
  GEN_F3(P##nmsub, "fnmsub." X, S) GEN_F3(P##nmadd, "fnmadd." X, S) \
  GEN_NR2F(P##min, "fmin." X, S) GEN_NR2F(P##max, "fmax." X, S) \
  GEN_NR2I(P##eq, "feq." X, S) GEN_NR2I(P##lt, "flt." X, S) GEN_NR2I(P##le, "fle." X, S) \
  GEN_NR1I(P##class, "fclass." X, S) \
  GEN_TOI(P##toi32, "fcvt.w." X, S) GEN_TOI(P##tou32, "fcvt.wu." X, S) \
  GEN_TOI(P##toi64, "fcvt.l." X, S) GEN_TOI(P##tou64, "fcvt.lu." X, S)

GEN_ALL(s_, float, "s")
GEN_ALL(d_, double, "d")
GEN_FROMI(s_fromi32, "fcvt.s.w", float)
GEN_FROMI(s_fromu32, "fcvt.s.wu", float)
GEN_FROMI(s_fromi64, "fcvt.s.l", float)
GEN_FROMI(s_fromu64, "fcvt.s.lu", float)
GEN_NRFROMI(d_fromi32, "fcvt.d.w", double)
GEN_NRFROMI(d_fromu32, "fcvt.d.wu", double)
GEN_FROMI(d_fromi64, "fcvt.d.l", double)
GEN_FROMI(d_fromu64, "fcvt.d.lu", double)
GEN_NR1F(s_tod, "fcvt.d.s", float, double)
GEN_UN(d_tos, "fcvt.s.d", double, float)

typedef u64 (*opfn)(u64, u64, u64, u64, u64 *);
#define ROW(P) P##add, P##sub, P##mul, P##div, P##sqrt, P##madd, P##msub, P##nmsub, P##nmadd, \
  P##min, P##max, P##eq, P##lt, P##le, P##class, P##toi32, P##tou32, P##toi64, P##tou64, \
  P##fromi32, P##fromu32, P##fromi64, P##fromu64
static const opfn table[66] = {
  ROW(s_), 0, 0, 0, 0, 0, 0, 0, 0, 0,
  ROW(d_), 0, 0, 0, 0, 0, 0, 0, 0, 0,
  s_tod, d_tos,
};

struct in { u32 op, rm; u64 a, b, c; };
struct out { u64 r, fl; };

#define N 4096
static struct in ibuf[N];
static struct out obuf[N];

static void write_all(const char *p, long n) {
  while (n > 0) {
    long w = sys3(64, 1, (long)p, n);
    if (w <= 0) sys3(93, 3, 0, 0);
    p += w; n -= w;
  }
}

int cmain(void) {
  for (;;) {
    long have = 0;
    char *p = (char *)ibuf;
    /* fill the buffer, or stop at end of input */
    while (have < (long)sizeof ibuf) {
      long r = sys3(63, 0, (long)(p + have), (long)sizeof ibuf - have);
      if (r < 0) return 2;
      if (r == 0) break;
      have += r;
    }
    if (have % sizeof(struct in)) return 4;
    long n = have / sizeof(struct in);
    for (long i = 0; i < n; i++) {
      u32 op = ibuf[i].op;
      opfn f = op < 66 ? table[op] : 0;
      if (!f) return 5;
      u64 fl = 0;
      obuf[i].r = f(ibuf[i].a, ibuf[i].b, ibuf[i].c, ibuf[i].rm, &fl);
      obuf[i].fl = fl;
    }
    write_all((const char *)obuf, n * (long)sizeof(struct out));
    if (have < (long)sizeof ibuf) return 0;
  }
}

__asm__(".globl _start\n_start:\n\tcall cmain\n\tli a7, 93\n\tecall\n");
