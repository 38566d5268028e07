/* RV64I arithmetic, logic, shifts, compares, LUI/AUIPC and the 32-bit W forms. */
#include "test.h"
  .text
  .globl test_main
test_main:
  TEST_RR 1, add, 0x0000000000000000, 0, 0
  TEST_RR 2, add, 0xffffffff80000000, 0xffffffff80000000, 0
  TEST_RR 3, add, 0x8000000000000000, 0x7fffffffffffffff, 1
  TEST_RR 4, add, 0x0000000000000000, -1, 1
  TEST_RR 5, sub, 0xffffffffffffffff, 0, 1
  TEST_RR 6, sub, 0x7fffffffffffffff, 0x8000000000000000, 1
  TEST_RR 7, and, 0x0f000f0000000000, 0xff00ff0000000000, 0x0f0f0f0f00000000
  TEST_RR 8, or,  0xff0fff0f0f0f0f0f, 0xff00ff0000000000, 0x0f0f0f0f0f0f0f0f
  TEST_RR 9, xor, 0xf00ff00f0f0f0f0f, 0xff00ff0000000000, 0x0f0f0f0f0f0f0f0f
  TEST_RR 10, slt, 1, -1, 0
  TEST_RR 11, slt, 0, 0, -1
  TEST_RR 12, slt, 1, 0x8000000000000000, 0x7fffffffffffffff
  TEST_RR 13, sltu, 0, -1, 0
  TEST_RR 14, sltu, 1, 0, -1
  TEST_RR 15, sltu, 0, 5, 5
  TEST_RR 16, sll, 0x8000000000000000, 1, 63
  TEST_RR 17, sll, 0x0000000000000002, 1, 65        /* only 6 bits of rs2 count */
  TEST_RR 18, srl, 0x0000000000000001, 0x8000000000000000, 63
  TEST_RR 19, srl, 0x4000000000000000, 0x8000000000000000, 0x7fffffffffffff41
  TEST_RR 20, sra, 0xffffffffffffffff, 0x8000000000000000, 63
  TEST_RR 21, sra, 0xc000000000000000, 0x8000000000000000, 1
  TEST_RR 22, sra, 0x0000000000000000, 0x7fffffffffffffff, 63
  TEST_RI 23, addi, 0xfffffffffffff800, 0, -2048
  TEST_RI 24, addi, 0x00000000000007ff, 0, 2047
  TEST_RI 25, addi, 0x8000000000000000, 0x7fffffffffffffff, 1
  TEST_RI 26, slti, 1, -5, -4
  TEST_RI 27, slti, 0, -4, -4
  TEST_RI 28, sltiu, 1, 0, -1                       /* the immediate is sign-extended, then compared unsigned */
  TEST_RI 29, sltiu, 0, -1, -1
  TEST_RI 30, xori, 0xffffffffffffff00, 0xff, -1
  TEST_RI 31, ori,  0xfffffffffffff80f, 0xf, -2048
  TEST_RI 32, andi, 0x0000000000000700, 0xff00, 0x7ff
  TEST_RI 33, slli, 0x8000000000000000, 1, 63
  TEST_RI 34, srli, 0x0000000000000001, 0x8000000000000000, 63
  TEST_RI 35, srai, 0xffffffffffffffff, 0x8000000000000000, 63
  TEST_RI 36, srai, 0xfffffffff8000000, 0xffffffff80000000, 4
  /* W forms: 32-bit result, sign-extended to 64 */
  TEST_RR 40, addw, 0xffffffff80000000, 0x7fffffff, 1
  TEST_RR 41, addw, 0x0000000000000000, 0xffffffff, 1
  TEST_RR 42, addw, 0x0000000000000002, 0x1234567800000001, 0x8765432100000001
  TEST_RR 43, subw, 0x000000007fffffff, 0x80000000, 1
  TEST_RR 44, subw, 0xffffffffffffffff, 0, 1
  TEST_RR 45, sllw, 0xffffffff80000000, 1, 31
  TEST_RR 46, sllw, 0x0000000000000002, 1, 33        /* only 5 bits count */
  TEST_RR 47, srlw, 0x0000000000000001, 0xffffffff80000000, 31
  TEST_RR 48, srlw, 0x000000007fffffff, 0xffffffffffffffff, 1
  TEST_RR 49, sraw, 0xffffffffffffffff, 0x0000000080000000, 31
  TEST_RR 50, sraw, 0x0000000000000001, 0xffffffff00000002, 1
  TEST_RR 51, srlw, 0x0000000012345678, 0xabcdef0012345678, 32
  TEST_RI 52, addiw, 0xffffffff80000000, 0x7fffffff, 1
  TEST_RI 53, addiw, 0x000000007fffffff, 0xffffffff80000000, -1
  TEST_RI 54, addiw, 0x0000000012345678, 0xfedcba9812345678, 0   /* sext.w */
  TEST_RI 55, slliw, 0xffffffff80000000, 1, 31
  TEST_RI 56, srliw, 0x0000000000000001, 0x80000000, 31
  TEST_RI 57, srliw, 0xffffffffffffffff, 0xffffffffffffffff, 0   /* the 32-bit result is sign-extended */
  TEST_RI 58, sraiw, 0xffffffffffffffff, 0x80000000, 31
  TEST_RI 59, sraiw, 0xfffffffff8000000, 0x0000000080000000, 4
  TEST_RI 60, sraiw, 0x0000000000000000, 0xffffffff7fffffff, 31
  TEST_RR_SAME 61, add, 0x2, 1
  TEST_RR_SAME 62, sub, 0, 12345
  TEST_RR_SAME 63, sll, 0x18, 3
  /* x0 is hard-wired */
  li gp, 70
  li a1, 5
  add x0, a1, a1
  FAIL_UNLESS_EQ x0, zero
  addi zero, zero, 1
  bnez x0, fail
  /* LUI / AUIPC */
  li gp, 71
  lui a0, 0x80000
  li t6, 0xffffffff80000000
  FAIL_UNLESS_EQ a0, t6
  li gp, 72
  lui a0, 0x7ffff
  li t6, 0x7ffff000
  FAIL_UNLESS_EQ a0, t6
  li gp, 73
1:
  auipc a0, 0
  la a1, 1b
  FAIL_UNLESS_EQ a0, a1
  li gp, 74
2:
  auipc a0, 0xfffff          /* pc - 4096 */
  la a1, 2b
  li t6, 4096
  sub a1, a1, t6
  FAIL_UNLESS_EQ a0, a1
  ret
