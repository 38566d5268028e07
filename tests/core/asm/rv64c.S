/* C extension: every RV64C instruction, written with explicit c.* mnemonics so the
   assembler cannot pick a 32-bit form, plus c.illegal (0x0000) trapping with tval 0. */
#include "test.h"

  .text
  .globl test_main
test_main:
  addi sp, sp, -64
  sd ra, 56(sp)
  sd s0, 48(sp)
  sd s1, 40(sp)
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  .option push
  .option rvc

  /* CI / CR / CA / CB arithmetic */
  li gp, 1
  li a0, 0
  c.li a0, -32
  li t6, -32
  FAIL_UNLESS_EQ a0, t6
  li gp, 2
  c.li a1, 31
  c.addi a1, -1
  li t6, 30
  FAIL_UNLESS_EQ a1, t6
  li gp, 3
  li a2, 0x7fffffff
  c.addiw a2, 1
  li t6, 0xffffffff80000000
  FAIL_UNLESS_EQ a2, t6
  li gp, 4
  li a2, 0x123456789
  c.addiw a2, 0               /* sext.w */
  li t6, 0x23456789
  FAIL_UNLESS_EQ a2, t6
  li gp, 5
  c.lui a3, 0xfffff            /* imm[17:12] = 0x3f -> -4096 */
  li t6, -4096
  FAIL_UNLESS_EQ a3, t6
  li gp, 6
  c.lui a3, 1
  li t6, 0x1000
  FAIL_UNLESS_EQ a3, t6
  li gp, 7
  mv s1, sp
  c.addi16sp sp, -64
  addi t6, s1, -64
  FAIL_UNLESS_EQ sp, t6
  c.addi16sp sp, 64
  FAIL_UNLESS_EQ sp, s1
  li gp, 8
  c.addi4spn a4, sp, 12
  addi t6, sp, 12
  FAIL_UNLESS_EQ a4, t6
  li gp, 9
  li s0, 0x8000000000000001
  c.srli s0, 63
  li t6, 1
  FAIL_UNLESS_EQ s0, t6
  li gp, 10
  li s0, 0x8000000000000001
  c.srai s0, 1
  li t6, 0xc000000000000000
  FAIL_UNLESS_EQ s0, t6
  li gp, 11
  li s0, 0xff
  c.andi s0, -16
  li t6, 0xf0
  FAIL_UNLESS_EQ s0, t6
  li gp, 12
  li s0, 3
  c.slli s0, 62
  li t6, 0xc000000000000000
  FAIL_UNLESS_EQ s0, t6
  li gp, 13
  li s0, 10
  li s1, 3
  c.sub s0, s1
  li t6, 7
  FAIL_UNLESS_EQ s0, t6
  li gp, 14
  li s0, 0xf0f0
  li s1, 0xff00
  c.xor s0, s1
  li t6, 0x0ff0
  FAIL_UNLESS_EQ s0, t6
  li gp, 15
  li s0, 0xf0f0
  c.or s0, s1
  li t6, 0xfff0
  FAIL_UNLESS_EQ s0, t6
  li gp, 16
  li s0, 0xf0f0
  c.and s0, s1
  li t6, 0xf000
  FAIL_UNLESS_EQ s0, t6
  li gp, 17
  li s0, 0x80000000
  li s1, 1
  c.subw s0, s1
  li t6, 0x7fffffff
  FAIL_UNLESS_EQ s0, t6
  li gp, 18
  li s0, 0x7fffffff
  c.addw s0, s1
  li t6, 0xffffffff80000000
  FAIL_UNLESS_EQ s0, t6
  li gp, 19
  li a5, 123
  c.mv a0, a5
  FAIL_UNLESS_EQ a0, a5
  li gp, 20
  li a0, 100
  li t0, 23
  c.add a0, t0
  li t6, 123
  FAIL_UNLESS_EQ a0, t6
  li gp, 21
  li a0, 5
  c.nop
  c.addi a0, 0x1f
  li t6, 36
  FAIL_UNLESS_EQ a0, t6

  /* loads and stores (CL/CS and stack-relative CI/CSS) */
  la s1, cdata
  li gp, 30
  c.lw a0, 4(s1)
  li t6, 0xffffffff89abcdef
  FAIL_UNLESS_EQ a0, t6
  li gp, 31
  c.ld a0, 8(s1)
  li t6, 0x0123456789abcdef
  FAIL_UNLESS_EQ a0, t6
  li gp, 32
  li a1, 0x1122334455667788
  c.sw a1, 16(s1)
  c.sd a1, 24(s1)
  ld a2, 16(s1)
  li t6, 0x55667788
  FAIL_UNLESS_EQ a2, t6
  ld a2, 24(s1)
  FAIL_UNLESS_EQ a2, a1
  li gp, 33
  c.fld fa0, 8(s1)
  c.fsd fa0, 32(s1)
  ld a2, 32(s1)
  li t6, 0x0123456789abcdef
  FAIL_UNLESS_EQ a2, t6
  li gp, 34
  li a1, 0xaabbccddeeff0011
  c.sdsp a1, 8(sp)
  c.swsp a1, 16(sp)
  c.ldsp a2, 8(sp)
  FAIL_UNLESS_EQ a2, a1
  c.lwsp a3, 16(sp)
  li t6, 0xffffffffeeff0011
  FAIL_UNLESS_EQ a3, t6
  li gp, 35
  c.fsdsp fa0, 24(sp)
  c.fldsp fa1, 24(sp)
  fmv.x.d a2, fa1
  li t6, 0x0123456789abcdef
  FAIL_UNLESS_EQ a2, t6

  /* control transfer */
  li gp, 40
  li a0, 0
  c.j 1f
  li a0, 1
1:
  FAIL_UNLESS_EQ a0, zero
  li gp, 41
  li s0, 0
  c.beqz s0, 2f
  j fail
2:
  c.bnez s0, 3f
  li s0, 1
  c.bnez s0, 4f
3:
  j fail
4:
  li gp, 42
  c.beqz s0, 3b             /* not taken, backwards */
  la a1, 5f
  c.jr a1
  j fail
5:
  li gp, 43
  la a1, 6f
  c.jalr a1
7:
  j fail
6:
  la t6, 7b
  FAIL_UNLESS_EQ ra, t6
  li gp, 44                 /* c.ebreak: breakpoint, epc at the 2-byte instruction */
  EXPECT_TRAP 8f
9:
  c.ebreak
8:
  CHECK_TRAP 44, CAUSE_BREAKPOINT
  la a1, 9b
  CHECK_TRAP_FIELD 45, RT_EPC, a1
  li gp, 46                 /* c.illegal (all zeros) is an illegal instruction */
  EXPECT_TRAP 10f
11:
  .2byte 0
10:
  CHECK_TRAP 46, CAUSE_ILLEGAL
  la a1, 11b
  CHECK_TRAP_FIELD 47, RT_EPC, a1
  CHECK_TRAP_FIELD 48, RT_TVAL, zero
  /* reserved encodings: c.addi4spn with imm 0, c.lui with imm 0, c.addi16sp with imm 0 */
  TEST_TRAPS 49, CAUSE_ILLEGAL, .2byte 0x0010
  TEST_TRAPS 50, CAUSE_ILLEGAL, .2byte 0x6181
  TEST_TRAPS 51, CAUSE_ILLEGAL, .2byte 0x6101
  li gp, 52                 /* c.lwsp with rd=x0 is reserved */
  TEST_TRAPS 52, CAUSE_ILLEGAL, .2byte 0x4002
  .option pop
  /* compressed encodings really are 2 bytes */
  li gp, 60
  la a0, 12f
  la a1, 13f
  sub a0, a1, a0
  li t6, 6
  FAIL_UNLESS_EQ a0, t6
  ld ra, 56(sp)
  ld s0, 48(sp)
  ld s1, 40(sp)
  addi sp, sp, 64
  ret
  .option push
  .option rvc
12:
  c.nop
  c.nop
  c.nop
13:
  .option pop

  .data
  .balign 8
cdata:
  .word 0x76543210, 0x89abcdef
  .dword 0x0123456789abcdef
  .dword 0, 0, 0
