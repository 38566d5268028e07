/* Counters: instret counts retired instructions exactly, a write to minstret replaces the
   value the next instruction reads (the writing instruction's own increment is suppressed),
   mcycle is writable and counts up, and mcounteren / scounteren gate cycle/time/instret
   for S and U. QEMU runs this with -icount shift=0 so that its instret is exact. */
#include "test.h"
  .text
  .globl test_main
test_main:
  mv s0, ra
  li gp, 1
  li t0, 1000
  csrw minstret, t0
  csrr a0, minstret
  beq a0, t0, 1f
  addi t0, t0, 1
  FAIL_UNLESS_EQ a0, t0
  DEVIATION "csrw minstret then csrr read the written value plus 1, the write should suppress the increment"
1:
  li gp, 2
  csrr s1, minstret
  nop
  nop
  nop
  csrr a0, minstret
  sub a0, a0, s1
  li t6, 4
  FAIL_UNLESS_EQ a0, t6
  li gp, 3                       /* instret is the user view of minstret */
  csrr s1, minstret
  csrr a0, instret
  sub a0, a0, s1
  li t6, 1
  FAIL_UNLESS_EQ a0, t6
  li gp, 4                       /* a loop of known length */
  li t1, 100
  csrr s1, instret
2:
  addi t1, t1, -1
  bnez t1, 2b
  csrr a0, instret
  sub a0, a0, s1
  li t6, 201
  FAIL_UNLESS_EQ a0, t6
  li gp, 5                       /* trapping instructions do not retire */
  csrr s1, minstret
  EXPECT_TRAP 3f
  .word 0
3:
  csrr a0, minstret
  sub a0, a0, s1                 /* everything between is the handler + EXPECT_TRAP setup */
  csrr s2, minstret
  EXPECT_TRAP 4f
  nop
4:
  csrr a1, minstret
  sub a1, a1, s2                 /* same path without a trap: one retired nop more than */
  la t5, rt_data
  sd zero, RT_RESUME(t5)
  /* the trap path runs the handler, so it is longer; only check it is not shorter */
  bltu a0, a1, fail_far
  li gp, 6                       /* mcycle is writable and counts up */
  li t0, 5000
  csrw mcycle, t0
  csrr a0, mcycle
  bltu a0, t0, fail_far
  csrr a1, cycle
  bltu a1, a0, fail_far
  li gp, 7
  csrr a0, instret
  csrr a1, instret
  bgeu a0, a1, fail_far

  /* counter-enable gating */
  csrw mcounteren, zero
  csrw scounteren, zero
  GOTO_MODE PRV_S, s1
s1:
  TEST_TRAPS 10, CAUSE_ILLEGAL, rdcycle a0
  TEST_TRAPS 11, CAUSE_ILLEGAL, rdtime a0
  TEST_TRAPS 12, CAUSE_ILLEGAL, rdinstret a0
  ECALL_TO_M m1
m1:
  li t0, 1                       /* CY only */
  csrw mcounteren, t0
  GOTO_MODE PRV_S, s2
s2:
  TEST_NO_TRAP 20, rdcycle a0
  TEST_TRAPS 21, CAUSE_ILLEGAL, rdtime a0
  TEST_TRAPS 22, CAUSE_ILLEGAL, rdinstret a0
  ECALL_TO_M m2
m2:
  li t0, 7
  csrw mcounteren, t0
  GOTO_MODE PRV_S, s3
s3:
  TEST_NO_TRAP 30, rdcycle a0
  TEST_NO_TRAP 31, rdtime a0
  TEST_NO_TRAP 32, rdinstret a0
  ECALL_TO_M m3
m3:
  GOTO_MODE PRV_U, u1           /* scounteren = 0: U is gated */
u1:
  TEST_TRAPS 40, CAUSE_ILLEGAL, rdcycle a0
  TEST_TRAPS 41, CAUSE_ILLEGAL, rdtime a0
  TEST_TRAPS 42, CAUSE_ILLEGAL, rdinstret a0
  ECALL_TO_M m4
m4:
  li t0, 4                       /* IR only */
  csrw scounteren, t0
  GOTO_MODE PRV_U, u2
u2:
  TEST_TRAPS 50, CAUSE_ILLEGAL, rdcycle a0
  TEST_NO_TRAP 51, rdinstret a0
  ECALL_TO_M m5
m5:
  li t0, 7
  csrw scounteren, t0
  csrw mcounteren, zero          /* mcounteren gates U too */
  GOTO_MODE PRV_U, u3
u3:
  TEST_TRAPS 60, CAUSE_ILLEGAL, rdcycle a0
  TEST_TRAPS 61, CAUSE_ILLEGAL, rdinstret a0
  ECALL_TO_M m6
m6:
  li t0, 7
  csrw mcounteren, t0
  GOTO_MODE PRV_U, u4
u4:
  TEST_NO_TRAP 70, rdcycle a0
  TEST_NO_TRAP 71, rdtime a0
  TEST_NO_TRAP 72, rdinstret a0
  ECALL_TO_M m7
m7:
  /* M-mode counters are not accessible from S even with mcounteren */
  GOTO_MODE PRV_S, s8
s8:
  TEST_TRAPS 80, CAUSE_ILLEGAL, csrr a0, minstret
  TEST_TRAPS 81, CAUSE_ILLEGAL, csrr a0, mcycle
  TEST_TRAPS 82, CAUSE_ILLEGAL, csrw mcounteren, zero
  TEST_NO_TRAP 83, csrw scounteren, zero
  ECALL_TO_M m8
m8:
  mv ra, s0
  ret
fail_far:
  j fail
