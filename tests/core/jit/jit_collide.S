/* Block-table collisions (docs/JIT.md, "The block table"): two hot loops exactly 32 KiB apart,
   so their block starts share a home slot in the core's block table, run in turn ten times.
   Both must stay compiled: before the table was two-way, each loop's first visits evicted the
   other's compiled entry, so every turn compiled a region again (the test counts regions).
   Passes on QEMU, on the interpreter and with the JIT. */
#include "test.h"

  .text
  .globl test_main
test_main:
  mv s0, ra
  li gp, 1
  li s1, 10                         /* turns */
  li s2, 0                          /* checksum */
c_turn:
  li a0, 300
  call loop_a
  add s2, s2, a0
  li a0, 300
  call loop_b
  add s2, s2, a0
  addi s1, s1, -1
  bnez s1, c_turn
  /* loop_a(300) = sum of 3i for i < 300 = 134550; loop_b(300) = sum of (i ^ 5) for i < 300 = 44866 */
  li t6, 1794160
  FAIL_UNLESS_EQ s2, t6
  mv ra, s0
  ret

  .balign 4096
loop_a:
  li t0, 0
  li t1, 0
1:
  slli t2, t0, 1
  add t2, t2, t0
  add t1, t1, t2
  addi t0, t0, 1
  blt t0, a0, 1b
  mv a0, t1
  ret

  /* 32 KiB after loop_a: the same home slot for every block start of both functions. */
  .balign 4096
  .skip 32768 - 4096
loop_b:
  li t0, 0
  li t1, 0
1:
  xori t2, t0, 5
  add t1, t1, t2
  addi t0, t0, 1
  blt t0, a0, 1b
  mv a0, t1
  ret
