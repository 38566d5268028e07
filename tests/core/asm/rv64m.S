/* M extension: products (all four high-part flavours), division and remainder, including
   division by zero and the signed overflow case, and the W forms. */
#include "test.h"
  .text
  .globl test_main
test_main:
  TEST_RR 1, mul, 0x0000000000000000, 0, 0
  TEST_RR 2, mul, 0xfffffffffffffffe, 2, -1
  TEST_RR 3, mul, 0x2236d88fe5618cf0, 0x123456789abcdef0, 0x0fedcba987654321
  TEST_RR 4, mulh, 0x0000000000000000, 2, 3
  TEST_RR 5, mulh, 0xffffffffffffffff, -1, 1
  TEST_RR 6, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 7, mulhu, 0xfffffffffffffffe, -1, -1
  TEST_RR 8, mulhu, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 9, mulhsu, 0xffffffffffffffff, -1, -1
  TEST_RR 10, mulhsu, 0xc000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 11, mulhsu, 0x0000000000000000, 1, -1
  TEST_RR 12, mulh, 0xfff56f29db8cb53e, 0x0123456789abcdef, 0xf6b6b3c9f6ab4c00
  TEST_RR 20, div, 3, 20, 6
  TEST_RR 21, div, -3, -20, 6
  TEST_RR 22, div, -3, 20, -6
  TEST_RR 23, div, 3, -20, -6
  TEST_RR 24, div, -1, 1, 0                        /* divide by zero: all ones */
  TEST_RR 25, div, 0x8000000000000000, 0x8000000000000000, -1   /* overflow: dividend */
  TEST_RR 26, divu, 0x0aaaaaaaaaaaaaaa, -4, 24
  TEST_RR 27, divu, -1, 5, 0
  TEST_RR 28, rem, 2, 20, 6
  TEST_RR 29, rem, -2, -20, 6
  TEST_RR 30, rem, 2, 20, -6
  TEST_RR 31, rem, -7, -7, 0                       /* remainder by zero: dividend */
  TEST_RR 32, rem, 0, 0x8000000000000000, -1       /* overflow: 0 */
  TEST_RR 33, remu, 20, 20, 0
  TEST_RR 34, remu, 4, -4, 8
  TEST_RR 35, remu, 0xfffffffffffffffb, -5, -1
  /* W forms use the low 32 bits and sign-extend the 32-bit result */
  TEST_RR 40, mulw, 0xffffffff80000000, 0x40000000, 2
  TEST_RR 41, mulw, 0x0000000000000001, 0xffffffffffffffff, 0xffffffff
  TEST_RR 42, mulw, 0x0000000000000006, 0xabcd000000000002, 0x1234000000000003
  TEST_RR 43, divw, 0xffffffff80000000, 0x80000000, -1   /* overflow */
  TEST_RR 44, divw, -1, 7, 0x100000000                    /* low word of divisor is 0 */
  TEST_RR 45, divw, -3, 0x00000000fffffff4, 4
  TEST_RR 46, divuw, 0x000000003ffffffd, 0x00000000fffffff4, 4
  TEST_RR 47, divuw, 0xffffffffffffffff, 1, 0
  TEST_RR 48, divuw, 0xffffffff80000000, 0xffffffff80000000, 1  /* result sign-extended */
  TEST_RR 49, remw, 0, 0x80000000, -1
  TEST_RR 50, remw, 0xffffffff80000000, 0x80000000, 0    /* rem by zero: sext(dividend) */
  TEST_RR 51, remw, -1, 0xffffffff, 2
  TEST_RR 52, remuw, 1, 0xffffffff, 2
  TEST_RR 53, remuw, 0xfffffffffffffff0, 0x12345678fffffff0, 0
  TEST_RR_SAME 60, mul, 0x0000000000000009, 3
  TEST_RR_SAME 61, div, 1, -9
  TEST_RR_SAME 62, mulhu, 0xfffffffffffffffe, -1
  ret
