/* Loads and stores of every width: sign/zero extension, offsets, misaligned accesses
   (allowed for scalar loads/stores), including accesses that cross a 4 KiB page. */
#include "test.h"

.macro TEST_LD n, op, off, exp
  li gp, \n
  la a1, src
  \op a0, \off(a1)
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
.endm

/* store `val` with `sop` at buf+off, then read the 16 bytes back as two dwords */
.macro TEST_ST n, sop, off, val, exp0, exp1
  li gp, \n
  la a1, buf
  sd zero, 0(a1)
  sd zero, 8(a1)
  li a2, \val
  \sop a2, \off(a1)
  ld a3, 0(a1)
  li t6, \exp0
  FAIL_UNLESS_EQ a3, t6
  ld a3, 8(a1)
  li t6, \exp1
  FAIL_UNLESS_EQ a3, t6
.endm

  .text
  .globl test_main
test_main:
  TEST_LD 1, lb, 0, 0xfffffffffffffff0
  TEST_LD 2, lbu, 0, 0xf0
  TEST_LD 3, lb, 1, 0x0f
  TEST_LD 4, lh, 0, 0x0ff0
  TEST_LD 5, lh, 2, 0xffffffffffff80ff
  TEST_LD 6, lhu, 2, 0x80ff
  TEST_LD 7, lw, 4, 0xffffffff87654321
  TEST_LD 8, lwu, 4, 0x87654321
  TEST_LD 9, lw, 0, 0xffffffff80ff0ff0
  TEST_LD 10, ld, 0, 0x8765432180ff0ff0
  TEST_LD 11, ld, 8, 0x0123456789abcdef
  /* negative offsets */
  li gp, 12
  la a1, src + 8
  ld a0, -8(a1)
  li t6, 0x8765432180ff0ff0
  FAIL_UNLESS_EQ a0, t6
  /* misaligned loads */
  TEST_LD 20, lh, 1, 0xffffffffffffff0f
  TEST_LD 21, lhu, 3, 0x2180
  TEST_LD 22, lw, 1, 0x2180ff0f
  TEST_LD 23, lw, 3, 0x65432180
  TEST_LD 24, lwu, 5, 0xef876543
  TEST_LD 25, ld, 1, 0xef8765432180ff0f
  TEST_LD 26, ld, 7, 0x23456789abcdef87
  /* stores */
  TEST_ST 30, sb, 0, 0x1234567890, 0x90, 0
  TEST_ST 31, sb, 15, 0xab, 0, 0xab00000000000000
  TEST_ST 32, sh, 2, 0xfedcba98, 0x00000000ba980000, 0
  TEST_ST 33, sw, 4, 0xfedcba9876543210, 0x7654321000000000, 0
  TEST_ST 34, sd, 8, 0xfedcba9876543210, 0, 0xfedcba9876543210
  /* misaligned stores */
  TEST_ST 40, sh, 7, 0xbeef, 0xef00000000000000, 0xbe
  TEST_ST 41, sw, 6, 0x11223344, 0x3344000000000000, 0x1122
  TEST_ST 42, sd, 3, 0x0102030405060708, 0x0405060708000000, 0x0000000000010203
  TEST_ST 43, sd, 1, -1, 0xffffffffffffff00, 0xff
  /* load after store to the same address with a different width */
  li gp, 44
  la a1, buf
  li a2, -1
  sd a2, 0(a1)
  sb zero, 3(a1)
  lw a0, 0(a1)
  li t6, 0x0000000000ffffff
  FAIL_UNLESS_EQ a0, t6
  /* rd == base register */
  li gp, 45
  la a0, src
  ld a0, 8(a0)
  li t6, 0x0123456789abcdef
  FAIL_UNLESS_EQ a0, t6
  /* load into x0 is discarded */
  li gp, 46
  la a1, src
  ld x0, 0(a1)
  FAIL_UNLESS_EQ x0, zero
  /* accesses across a page boundary (both pages are RAM) */
  li gp, 50
  la a1, pages + 4096
  li a2, 0x1122334455667788
  sd a2, -3(a1)
  lbu a0, -3(a1)
  li t6, 0x88
  FAIL_UNLESS_EQ a0, t6
  lbu a0, 4(a1)
  li t6, 0x11
  FAIL_UNLESS_EQ a0, t6
  li gp, 51
  ld a0, -3(a1)
  FAIL_UNLESS_EQ a0, a2
  li gp, 52
  lw a0, -2(a1)
  li t6, 0x44556677
  FAIL_UNLESS_EQ a0, t6
  li gp, 53
  lh a0, -1(a1)
  li t6, 0x5566
  FAIL_UNLESS_EQ a0, t6
  li gp, 54
  li a2, 0xa5a5
  sh a2, -1(a1)
  lhu a0, -1(a1)
  FAIL_UNLESS_EQ a0, a2
  li gp, 55
  li a2, 0xdeadbeef
  sw a2, -1(a1)
  lwu a0, -1(a1)
  FAIL_UNLESS_EQ a0, a2
  lbu a0, -1(a1)
  li t6, 0xef
  FAIL_UNLESS_EQ a0, t6
  lbu a0, 2(a1)
  li t6, 0xde
  FAIL_UNLESS_EQ a0, t6
  ret

  .data
  .balign 16
src:
  .byte 0xf0, 0x0f, 0xff, 0x80, 0x21, 0x43, 0x65, 0x87
  .dword 0x0123456789abcdef
  .dword 0
buf:
  .dword 0, 0, 0, 0
  .balign 4096
pages:
  .space 8192
