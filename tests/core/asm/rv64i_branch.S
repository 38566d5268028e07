/* Branches (taken / not taken, signed vs unsigned), JAL/JALR links, JALR clearing bit 0,
   and the IALIGN=16 rules: with C, 2-byte-aligned targets are legal and never trap. */
#include "test.h"

.macro TEST_BR n, op, a, b, taken
  li gp, \n
  li a1, \a
  li a2, \b
  li a0, 0
  \op a1, a2, .Lt\@
  li a0, 1          /* not taken */
.Lt\@:
  li t6, !\taken
  FAIL_UNLESS_EQ a0, t6
.endm

  .text
  .globl test_main
test_main:
  mv s0, ra
  TEST_BR 1, beq, 5, 5, 1
  TEST_BR 2, beq, 5, 6, 0
  TEST_BR 3, bne, 5, 6, 1
  TEST_BR 4, bne, -1, -1, 0
  TEST_BR 5, blt, -1, 0, 1
  TEST_BR 6, blt, 0, -1, 0
  TEST_BR 7, blt, 3, 3, 0
  TEST_BR 8, bge, 3, 3, 1
  TEST_BR 9, bge, -1, 0, 0
  TEST_BR 10, bge, 0x7fffffffffffffff, 0x8000000000000000, 1
  TEST_BR 11, bltu, 0, -1, 1
  TEST_BR 12, bltu, -1, 0, 0
  TEST_BR 13, bgeu, -1, 0, 1
  TEST_BR 14, bgeu, 0, -1, 0
  TEST_BR 15, bgeu, 7, 7, 1
  TEST_BR 16, bltu, 0x8000000000000000, 0x7fffffffffffffff, 0
  /* backward branch loop */
  li gp, 17
  li a0, 10
  li a1, 0
1:
  addi a1, a1, 3
  addi a0, a0, -1
  bnez a0, 1b
  li t6, 30
  FAIL_UNLESS_EQ a1, t6

  /* JAL writes pc+4 */
  li gp, 20
  jal a0, 2f
3:
  j fail
2:
  la a1, 3b
  FAIL_UNLESS_EQ a0, a1
  /* JAL with rd = x0 does not write */
  li gp, 21
  jal x0, 4f
  j fail
4:
  /* JALR: target = (rs1 + imm) & ~1, link = pc + 4 */
  li gp, 22
  la a1, 5f
  addi a1, a1, -8
  jalr a0, 8(a1)
6:
  j fail
5:
  la t6, 6b
  FAIL_UNLESS_EQ a0, t6
  li gp, 23
  la a1, 7f
  addi a1, a1, 1          /* odd target: bit 0 is cleared, no trap */
  jalr a0, 0(a1)
  j fail
7:
  /* JALR with rd == rs1: the target uses the old rs1 */
  li gp, 24
  la a0, 8f
  jalr a0, 0(a0)
9:
  j fail
8:
  la t6, 9b
  FAIL_UNLESS_EQ a0, t6
  /* Jump to a target that is 2-byte but not 4-byte aligned (legal with C). */
  li gp, 25
  la a1, target16
  andi t6, a1, 3
  li t5, 2
  FAIL_UNLESS_EQ t6, t5
  jalr a0, 0(a1)
  li t6, 0x1234
  FAIL_UNLESS_EQ a2, t6
  /* Branch to a 2-byte aligned target */
  li gp, 26
  li a2, 0
  beqz zero, target16b
back26:
  li t6, 0x99
  FAIL_UNLESS_EQ a2, t6
  /* mepc bit 0 is always zero (IALIGN=16); mret to a 2-aligned address works */
  li gp, 27
  la a1, target16c
  ori a1, a1, 1
  csrw mepc, a1
  csrr a2, mepc
  andi a3, a2, 1
  FAIL_UNLESS_EQ a3, zero
  li t6, MSTATUS_MPP
  csrs mstatus, t6        /* stay in M */
  li a2, 0
  mret
back27:
  li t6, 0x77
  FAIL_UNLESS_EQ a2, t6
  /* Link register for compressed jumps is pc + 2 */
  li gp, 28
  la a1, 10f
  .option push
  .option rvc
  c.jalr a1
11:
  .option pop
  j fail
10:
  la t6, 11b
  FAIL_UNLESS_EQ ra, t6
  mv ra, s0
  ret

  .balign 4
  .option push
  .option rvc
  c.nop
target16:
  .option norvc
  li a2, 0x1234
  ret
  .option rvc
  c.nop
target16b:
  .option norvc
  li a2, 0x99
  j back26
  .balign 4
  .option rvc
  c.nop
target16c:
  .option norvc
  li a2, 0x77
  j back27
  .option pop
