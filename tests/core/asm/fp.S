/* F and D: arithmetic, fused multiply-add, conversions with saturation, comparisons and
   fclass, min/max with NaNs and signed zeros, every rounding mode (static and dynamic,
   and the reserved ones trapping), exception flags, NaN-boxing of single values, fcsr
   layout, and mstatus.FS: Off makes FP illegal, writes make it Dirty (and SD = 1). */
#include "test.h"

#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

/* rd(f) = op(a, b) on doubles given as bit patterns; check bits and fflags */
.macro TEST_D2 n, op, exp, a, b, flags
  li gp, \n
  li t0, \a
  fmv.d.x fa1, t0
  li t0, \b
  fmv.d.x fa2, t0
  fsflags zero
  \op fa0, fa1, fa2
  fmv.x.d a0, fa0
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

.macro TEST_D1 n, op, exp, a, flags
  li gp, \n
  li t0, \a
  fmv.d.x fa1, t0
  fsflags zero
  \op fa0, fa1
  fmv.x.d a0, fa0
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

.macro TEST_D3 n, op, exp, a, b, c, flags
  li gp, \n
  li t0, \a
  fmv.d.x fa1, t0
  li t0, \b
  fmv.d.x fa2, t0
  li t0, \c
  fmv.d.x fa3, t0
  fsflags zero
  \op fa0, fa1, fa2, fa3
  fmv.x.d a0, fa0
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

/* singles: inputs NaN-boxed by fmv.w.x; the 64-bit result must be NaN-boxed too */
.macro TEST_S2 n, op, exp, a, b, flags
  li gp, \n
  li t0, \a
  fmv.w.x fa1, t0
  li t0, \b
  fmv.w.x fa2, t0
  fsflags zero
  \op fa0, fa1, fa2
  fmv.x.d a0, fa0
  li t6, 0xffffffff00000000 | \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

.macro TEST_S3 n, op, exp, a, b, c, flags
  li gp, \n
  li t0, \a
  fmv.w.x fa1, t0
  li t0, \b
  fmv.w.x fa2, t0
  li t0, \c
  fmv.w.x fa3, t0
  fsflags zero
  \op fa0, fa1, fa2, fa3
  fmv.x.d a0, fa0
  li t6, 0xffffffff00000000 | \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

/* integer result from a double operation (compare, class, convert); `args` after the op */
.macro TEST_DX n, op, exp, a, b, flags, rm=
  li gp, \n
  li t0, \a
  fmv.d.x fa1, t0
  li t0, \b
  fmv.d.x fa2, t0
  fsflags zero
  .ifc \op, fclass.d
  \op a0, fa1
  .else
  \op a0, fa1, fa2
  .endif
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

.macro TEST_CVT_DI n, op, exp, a, rm, flags
  li gp, \n
  li t0, \a
  fmv.d.x fa1, t0
  fsflags zero
  \op a0, fa1, \rm
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

.macro TEST_CVT_SI n, op, exp, a, rm, flags
  li gp, \n
  li t0, \a
  fmv.w.x fa1, t0
  fsflags zero
  \op a0, fa1, \rm
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

.macro TEST_CVT_ID n, op, exp, a, rm, flags
  li gp, \n
  li a1, \a
  fsflags zero
  .ifb \rm
  \op fa0, a1
  .else
  \op fa0, a1, \rm
  .endif
  fmv.x.d a0, fa0
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, \flags
  FAIL_UNLESS_EQ a0, t6
.endm

#define D_ONE   0x3ff0000000000000
#define D_TWO   0x4000000000000000
#define D_THREE 0x4008000000000000
#define D_HALF  0x3fe0000000000000
#define D_M1    0xbff0000000000000
#define D_2_5   0x4004000000000000
#define D_M2_5  0xc004000000000000
#define D_INF   0x7ff0000000000000
#define D_MINF  0xfff0000000000000
#define D_QNAN  0x7ff8000000000000
#define D_SNAN  0x7ff0000000000001
#define D_MAX   0x7fefffffffffffff
#define D_MINSUB 0x0000000000000001
#define D_MINNORM 0x0010000000000000
#define D_MZERO 0x8000000000000000
#define S_ONE   0x3f800000
#define S_TWO   0x40000000
#define S_THREE 0x40400000
#define S_QNAN  0x7fc00000
#define S_SNAN  0x7f800001
#define S_INF   0x7f800000
#define S_MAX   0x7f7fffff

  .text
  .globl test_main
test_main:
  mv s0, ra
  /* FS = Off: FP instructions and fcsr are illegal */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  TEST_TRAPS 1, CAUSE_ILLEGAL, fadd.d fa0, fa1, fa2
  TEST_TRAPS 2, CAUSE_ILLEGAL, csrr a0, fcsr
  TEST_TRAPS 3, CAUSE_ILLEGAL, fmv.x.d a0, fa0
  TEST_TRAPS 4, CAUSE_ILLEGAL, fld fa0, 0(sp)
  TEST_TRAPS 5, CAUSE_ILLEGAL, csrw fflags, zero
  /* FS = Initial; an FP write makes it Dirty and sets SD */
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  li gp, 6
  csrr a0, mstatus
  bltz a0, fail_far                  /* SD = 0 */
  fmv.d.x fa0, zero
  li gp, 7
  csrr a0, mstatus
  li t6, MSTATUS_FS
  and a1, a0, t6
  FAIL_UNLESS_EQ a1, t6
  li gp, 8
  bgez a0, fail_far                  /* SD = 1 */
  li gp, 9                           /* Clean, then an fcsr write: Dirty */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, MSTATUS_FS_CLEAN
  csrs mstatus, t0
  csrr a0, mstatus
  bltz a0, fail_far
  csrwi fflags, 1
  csrr a0, mstatus
  li t6, MSTATUS_FS
  and a1, a0, t6
  FAIL_UNLESS_EQ a1, t6
  /* sstatus shows FS and SD too */
  li gp, 10
  csrr a0, sstatus
  bgez a0, fail_far
  li t6, MSTATUS_FS
  and a1, a0, t6
  FAIL_UNLESS_EQ a1, t6

  /* fcsr layout and aliases */
  li gp, 11
  li t0, 0xff
  csrw fcsr, t0
  frrm a0
  li t6, 7
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, 0x1f
  FAIL_UNLESS_EQ a0, t6
  li gp, 12
  li t0, -1
  csrw fcsr, t0
  csrr a0, fcsr
  li t6, 0xff
  FAIL_UNLESS_EQ a0, t6
  li gp, 13
  fsrmi a0, 2                        /* returns old frm */
  li t6, 7
  FAIL_UNLESS_EQ a0, t6
  csrr a0, fcsr
  li t6, 0x5f
  FAIL_UNLESS_EQ a0, t6
  csrw fcsr, zero

  /* arithmetic */
  TEST_D2 20, fadd.d, D_THREE, D_ONE, D_TWO, 0
  TEST_D2 21, fsub.d, D_M1, D_ONE, D_TWO, 0
  TEST_D2 22, fmul.d, 0x4018000000000000, D_TWO, D_THREE, 0
  TEST_D2 23, fdiv.d, 0x3fd5555555555555, D_ONE, D_THREE, NX
  TEST_D2 24, fdiv.d, D_INF, D_ONE, 0, DZ
  TEST_D2 25, fdiv.d, D_QNAN, 0, 0, NV
  TEST_D2 26, fmul.d, D_INF, D_MAX, D_TWO, OF | NX
  TEST_D2 27, fmul.d, 0, D_MINSUB, D_HALF, UF | NX
  TEST_D2 28, fadd.d, D_QNAN, D_INF, D_MINF, NV
  TEST_D2 29, fadd.d, D_QNAN, D_SNAN, D_ONE, NV          /* sNaN in: canonical NaN out */
  TEST_D2 30, fadd.d, D_QNAN, 0x7ff8000000001234, D_ONE, 0   /* NaN payloads are not propagated */
  TEST_D1 31, fsqrt.d, 0x3ff6a09e667f3bcd, D_TWO, NX
  TEST_D1 32, fsqrt.d, D_QNAN, D_M1, NV
  TEST_D1 33, fsqrt.d, D_MZERO, D_MZERO, 0
  TEST_D2 34, fadd.d, 0, D_ONE, D_M1, 0                  /* x - x = +0 in RNE */
  TEST_S2 35, fadd.s, S_THREE, S_ONE, S_TWO, 0
  TEST_S2 36, fdiv.s, 0x3eaaaaab, S_ONE, S_THREE, NX
  TEST_S2 37, fmul.s, S_INF, S_MAX, S_TWO, OF | NX
  TEST_S2 38, fsub.s, S_QNAN, S_SNAN, S_ONE, NV
  TEST_S2 39, fdiv.s, 0xff800000, 0xbf800000, 0, DZ
  /* fused multiply-add: one rounding */
  TEST_D3 40, fmadd.d, 0x3c9ffffffffffffe, 0x3ff0000000000001, 0x3fefffffffffffff, D_M1, 0
  TEST_D3 41, fmsub.d, 0x4014000000000000, D_TWO, D_THREE, D_ONE, 0
  TEST_D3 42, fnmadd.d, 0xc01c000000000000, D_TWO, D_THREE, D_ONE, 0
  TEST_D3 43, fnmsub.d, 0xc014000000000000, D_TWO, D_THREE, D_ONE, 0
  TEST_D3 44, fmadd.d, D_QNAN, D_INF, 0, D_QNAN, NV       /* inf * 0 is invalid even with a qNaN addend */
  TEST_S3 45, fmadd.s, 0x40e00000, S_TWO, S_THREE, S_ONE, 0
  TEST_S3 46, fnmsub.s, 0xc0a00000, S_TWO, S_THREE, S_ONE, 0
  /* sign injection */
  TEST_D2 50, fsgnj.d, D_M1, D_ONE, D_MZERO, 0
  TEST_D2 51, fsgnjn.d, D_M1, D_ONE, 0, 0
  TEST_D2 52, fsgnjx.d, D_ONE, D_M1, D_M1, 0
  TEST_D2 53, fsgnj.d, 0x7ff0000000000001, 0xfff0000000000001, 0, 0   /* no canonicalisation, no flags */
  TEST_S2 54, fsgnjn.s, 0xbf800000, S_ONE, S_ONE, 0
  /* min / max */
  TEST_D2 60, fmin.d, D_MZERO, 0, D_MZERO, 0
  TEST_D2 61, fmax.d, 0, D_MZERO, 0, 0
  TEST_D2 62, fmin.d, D_ONE, D_QNAN, D_ONE, 0
  TEST_D2 63, fmax.d, D_ONE, D_SNAN, D_ONE, NV
  TEST_D2 64, fmin.d, D_QNAN, D_QNAN, D_SNAN, NV
  TEST_S2 65, fmax.s, S_TWO, S_ONE, S_TWO, 0
  TEST_S2 66, fmin.s, S_QNAN, S_QNAN, S_QNAN, 0
  /* compares: feq quiet, flt/fle signaling */
  TEST_DX 70, feq.d, 1, D_ONE, D_ONE, 0
  TEST_DX 71, feq.d, 0, D_QNAN, D_ONE, 0
  TEST_DX 72, feq.d, 0, D_SNAN, D_ONE, NV
  TEST_DX 73, flt.d, 0, D_QNAN, D_ONE, NV
  TEST_DX 74, fle.d, 1, D_MZERO, 0, 0
  TEST_DX 75, flt.d, 0, D_MZERO, 0, 0
  TEST_DX 76, flt.d, 1, D_MINF, D_M1, 0
  TEST_DX 77, feq.d, 1, D_MZERO, 0, 0
  /* fclass */
  TEST_DX 80, fclass.d, 1 << 0, D_MINF, 0, 0
  TEST_DX 81, fclass.d, 1 << 1, D_M1, 0, 0
  TEST_DX 82, fclass.d, 1 << 2, 0x800fffffffffffff, 0, 0
  TEST_DX 83, fclass.d, 1 << 3, D_MZERO, 0, 0
  TEST_DX 84, fclass.d, 1 << 4, 0, 0, 0
  TEST_DX 85, fclass.d, 1 << 5, D_MINSUB, 0, 0
  TEST_DX 86, fclass.d, 1 << 6, D_ONE, 0, 0
  TEST_DX 87, fclass.d, 1 << 7, D_INF, 0, 0
  TEST_DX 88, fclass.d, 1 << 8, D_SNAN, 0, 0
  TEST_DX 89, fclass.d, 1 << 9, D_QNAN, 0, 0

  /* conversions, each rounding mode statically */
  TEST_CVT_DI 100, fcvt.w.d, 2, D_2_5, rne, NX
  TEST_CVT_DI 101, fcvt.w.d, 2, D_2_5, rtz, NX
  TEST_CVT_DI 102, fcvt.w.d, 2, D_2_5, rdn, NX
  TEST_CVT_DI 103, fcvt.w.d, 3, D_2_5, rup, NX
  TEST_CVT_DI 104, fcvt.w.d, 3, D_2_5, rmm, NX
  TEST_CVT_DI 105, fcvt.w.d, -2, D_M2_5, rne, NX
  TEST_CVT_DI 106, fcvt.w.d, -2, D_M2_5, rtz, NX
  TEST_CVT_DI 107, fcvt.w.d, -3, D_M2_5, rdn, NX
  TEST_CVT_DI 108, fcvt.w.d, -2, D_M2_5, rup, NX
  TEST_CVT_DI 109, fcvt.w.d, -3, D_M2_5, rmm, NX
  TEST_CVT_DI 110, fcvt.w.d, 3, D_THREE, rtz, 0
  /* saturation and invalid */
  TEST_CVT_DI 111, fcvt.w.d, 0x7fffffff, 0x41e0000000000000, rtz, NV     /* 2^31 */
  TEST_CVT_DI 112, fcvt.w.d, 0xffffffff80000000, 0xc1e0000000000000, rtz, 0  /* -2^31 exact */
  TEST_CVT_DI 113, fcvt.w.d, 0x7fffffff, D_QNAN, rtz, NV
  TEST_CVT_DI 114, fcvt.w.d, 0xffffffff80000000, D_MINF, rtz, NV
  TEST_CVT_DI 115, fcvt.wu.d, 0, D_M1, rtz, NV
  TEST_CVT_DI 116, fcvt.wu.d, 0, 0xbfe0000000000000, rtz, NX             /* -0.5 -> 0, inexact only */
  TEST_CVT_DI 117, fcvt.wu.d, 0xffffffffffffffff, D_INF, rtz, NV          /* UINT32_MAX, sign-extended */
  TEST_CVT_DI 118, fcvt.wu.d, 0xffffffff80000000, 0x41e0000000000000, rtz, 0  /* 2^31 fits, result sign-extended */
  TEST_CVT_DI 119, fcvt.l.d, 0x7fffffffffffffff, D_QNAN, rtz, NV
  TEST_CVT_DI 120, fcvt.l.d, 0x8000000000000000, 0xc3e0000000000000, rtz, 0
  TEST_CVT_DI 121, fcvt.lu.d, 0xffffffffffffffff, 0x43f0000000000000, rtz, NV  /* 2^64 */
  TEST_CVT_DI 122, fcvt.lu.d, 0x8000000000000000, 0x43e0000000000000, rtz, 0
  TEST_CVT_SI 123, fcvt.w.s, 0x7fffffff, S_QNAN, rtz, NV
  TEST_CVT_SI 124, fcvt.l.s, -1, 0xbf800000, rtz, 0
  TEST_CVT_SI 125, fcvt.wu.s, 2, 0x40200000, rne, NX                      /* 2.5f */
  TEST_CVT_ID 126, fcvt.d.w, 0xc1e0000000000000, 0xffffffff80000000, , 0
  TEST_CVT_ID 127, fcvt.d.wu, 0x41efffffffe00000, 0xffffffff, , 0
  TEST_CVT_ID 128, fcvt.d.l, 0x43e0000000000000, 0x7fffffffffffffff, rne, NX
  TEST_CVT_ID 129, fcvt.d.l, 0x43dfffffffffffff, 0x7fffffffffffffff, rtz, NX
  TEST_CVT_ID 130, fcvt.d.lu, 0x43f0000000000000, 0xffffffffffffffff, rne, NX
  TEST_CVT_ID 131, fcvt.s.l, 0xffffffffdf000000, 0x8000000000000000, rne, 0
  TEST_CVT_ID 132, fcvt.s.w, 0xffffffff4b800001, 16777217, rup, NX   /* 2^24+1 rounds up */
  TEST_CVT_ID 133, fcvt.s.w, 0xffffffff4b800000, 16777217, rne, NX
  /* double <-> single */
  TEST_D1 140, fcvt.s.d, 0xffffffff3eaaaaab, 0x3fd5555555555555, NX
  TEST_D1 141, fcvt.s.d, 0xffffffff7f800000, D_MAX, OF | NX
  TEST_D1 142, fcvt.s.d, 0xffffffff7fc00000, D_SNAN, NV
  TEST_D1 143, fcvt.s.d, 0xffffffff00000000, D_MINSUB, UF | NX
  li gp, 144
  li t0, S_SNAN
  fmv.w.x fa1, t0
  fsflags zero
  fcvt.d.s fa0, fa1
  fmv.x.d a0, fa0
  li t6, D_QNAN
  FAIL_UNLESS_EQ a0, t6
  frflags a0
  li t6, NV
  FAIL_UNLESS_EQ a0, t6

  /* dynamic rounding mode from frm */
  li gp, 150
  li t0, D_2_5
  fmv.d.x fa1, t0
  fsrmi 3                            /* rup */
  fcvt.w.d a0, fa1
  li t6, 3
  FAIL_UNLESS_EQ a0, t6
  li gp, 151
  fsrmi 2                            /* rdn */
  fcvt.w.d a0, fa1, dyn
  li t6, 2
  FAIL_UNLESS_EQ a0, t6
  li gp, 152                         /* dynamic mode in arithmetic: 1/3 rounded up vs down */
  li t0, D_ONE
  fmv.d.x fa1, t0
  li t0, D_THREE
  fmv.d.x fa2, t0
  fsrmi 3
  fdiv.d fa0, fa1, fa2
  fmv.x.d a0, fa0
  li t6, 0x3fd5555555555556
  FAIL_UNLESS_EQ a0, t6
  li gp, 153
  fsrmi 1                            /* rtz */
  fdiv.d fa0, fa1, fa2
  fmv.x.d a0, fa0
  li t6, 0x3fd5555555555555
  FAIL_UNLESS_EQ a0, t6
  li gp, 154                         /* a static mode overrides frm */
  fdiv.d fa0, fa1, fa2, rup
  fmv.x.d a0, fa0
  li t6, 0x3fd5555555555556
  FAIL_UNLESS_EQ a0, t6
  li gp, 155                         /* rtz overflow gives the largest finite value */
  li t0, D_MAX
  fmv.d.x fa1, t0
  li t0, D_TWO
  fmv.d.x fa2, t0
  fmul.d fa0, fa1, fa2
  fmv.x.d a0, fa0
  li t6, D_MAX
  FAIL_UNLESS_EQ a0, t6
  /* reserved rounding modes: frm 5..7 with dyn, static 5/6 */
  fsrmi 5
  TEST_TRAPS 160, CAUSE_ILLEGAL, fadd.d fa0, fa1, fa2
  fsrmi 7
  TEST_TRAPS 161, CAUSE_ILLEGAL, fcvt.w.d a0, fa1
  fsrmi 0
  TEST_TRAPS 162, CAUSE_ILLEGAL, .word 0x02c5f553 & ~(7 << 12) | (5 << 12)  /* fadd.d fa0, fa1, fa2, rm=5 */
  TEST_TRAPS 163, CAUSE_ILLEGAL, .word 0x02c5f553 & ~(7 << 12) | (6 << 12)
  TEST_NO_TRAP 164, .word 0x02c5f553 & ~(7 << 12) | (4 << 12)  /* rmm is fine */
  fsrmi 5                            /* ... and modes that ignore rm still work */
  TEST_NO_TRAP 165, fsgnj.d fa0, fa1, fa2
  TEST_NO_TRAP 166, fmv.x.d a0, fa1
  fsrmi 0

  /* NaN-boxing */
  fsflags zero
  li gp, 170                         /* a non-boxed single reads as the canonical NaN */
  li t0, S_ONE
  fmv.d.x fa1, t0                    /* upper 32 bits zero: not boxed */
  li t0, S_ONE
  fmv.w.x fa2, t0
  fadd.s fa0, fa1, fa2
  fmv.x.d a0, fa0
  li t6, 0xffffffff7fc00000
  FAIL_UNLESS_EQ a0, t6
  li gp, 171                         /* fmv.x.w ignores boxing: low 32 bits, sign-extended */
  li t0, 0x00000000bf800000
  fmv.d.x fa1, t0
  fmv.x.w a0, fa1
  li t6, 0xffffffffbf800000
  FAIL_UNLESS_EQ a0, t6
  li gp, 172                         /* flw boxes */
  la a1, fdata
  flw fa0, 0(a1)
  fmv.x.d a0, fa0
  li t6, 0xffffffff40490fdb
  FAIL_UNLESS_EQ a0, t6
  li gp, 173                         /* fsw stores the low 32 bits as they are */
  li t0, 0x1234567887654321
  fmv.d.x fa0, t0
  fsw fa0, 8(a1)
  lwu a0, 8(a1)
  li t6, 0x87654321
  FAIL_UNLESS_EQ a0, t6
  li gp, 174                         /* fsgnj.s of a non-boxed input: canonical NaN sign-injected */
  li t0, 0x3f800000
  fmv.d.x fa1, t0
  fsgnj.s fa0, fa1, fa1
  fmv.x.d a0, fa0
  li t6, 0xffffffff7fc00000
  FAIL_UNLESS_EQ a0, t6
  li gp, 175                         /* fclass.s of a non-boxed value: quiet NaN */
  fclass.s a0, fa1
  li t6, 1 << 9
  FAIL_UNLESS_EQ a0, t6
  li gp, 176                         /* fld / fsd move 64 bits unchanged, even sNaNs */
  li t0, D_SNAN
  sd t0, 16(a1)
  fld fa0, 16(a1)
  fsd fa0, 24(a1)
  ld a0, 24(a1)
  FAIL_UNLESS_EQ a0, t0
  li gp, 177                         /* loads/stores and moves raise no flags */
  frflags a0
  FAIL_UNLESS_EQ a0, zero
  /* flags accumulate */
  li gp, 178
  fsflags zero
  li t0, D_ONE
  fmv.d.x fa1, t0
  fmv.d.x fa2, zero
  fdiv.d fa0, fa1, fa2
  li t0, D_THREE
  fmv.d.x fa2, t0
  fdiv.d fa0, fa1, fa2
  frflags a0
  li t6, DZ | NX
  FAIL_UNLESS_EQ a0, t6
  mv ra, s0
  ret
fail_far:
  j fail

  .data
  .balign 8
fdata:
  .word 0x40490fdb, 0
  .dword 0, 0, 0
