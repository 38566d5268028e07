/* Region cases (docs/JIT.md, "Regions"): a hot page is compiled as one function with its own
   control flow. They pass on QEMU, on the interpreter and with every block compiled.
   1: nested loops with if/else inside one region (branches between the region's blocks)
   2: exits: a call to a function on another page and back, indirect jumps (jalr) to two
      blocks of the region
   3: a store from one block of the running region into another block of it, reached next
      by a jump inside the region (QEMU needs the fence.i; jit_regions_nofence.S leaves it
      out and runs only on our core)
   4: a trap in the second block of a region after a taken branch: exact epc, the first
      block's and the second block's earlier writes kept, later ones not
   Case numbers are in gp. */
#include "test.h"

  .text
  .globl test_main
test_main:
  mv s0, ra

  /* ---- 1: nested loops and if/else in one region ---- */
  li gp, 1
  li s1, 0
  li s2, 0
  li s3, 300
r1_outer:
  andi t0, s1, 3
  beqz t0, r1_even4
  addi s2, s2, 3
  j r1_join
r1_even4:
  slli t1, s1, 1
  add s2, s2, t1
r1_join:
  li t2, 0
r1_inner:
  add s2, s2, t2
  addi t2, t2, 1
  blt t2, t0, r1_inner
  addi s1, s1, 1
  blt s1, s3, r1_outer
  li t6, 23175
  FAIL_UNLESS_EQ s2, t6

  /* ---- 2: calls out of the region and indirect jumps back into it ---- */
  li gp, 2
  li a0, 5
  li s1, 200
  li s2, 0                          /* i % 3 */
  la s4, r2_xor
  la s5, r2_add
r2_loop:
  call far_fn
  mv t3, s5
  bnez s2, 1f
  mv t3, s4
1:
  jr t3
r2_xor:
  xori a0, a0, 0x55
  j r2_join
r2_add:
  addi a0, a0, 7
r2_join:
  addi s2, s2, 1
  li t0, 3
  bne s2, t0, 2f
  li s2, 0
2:
  addi s1, s1, -1
  bnez s1, r2_loop
  li t6, 0x48a5e416891f88d7
  FAIL_UNLESS_EQ a0, t6

  /* ---- 3: a block of the running region rewrites another block of it ---- */
  li gp, 3
  la a1, r3_site
  li a3, 0x00100513                 /* addi a0, zero, 1 */
  li a4, 0x00200513                 /* addi a0, zero, 2 */
  li s1, 100
  li s2, 0
  .option push
  .option norvc
r3_loop:
  andi t0, s1, 1
  sub t1, zero, t0                  /* all ones when s1 is odd */
  xor t2, a3, a4
  and t2, t2, t1
  xor a2, a3, t2                    /* odd: a4, even: a3 */
  sw a2, 0(a1)
#ifndef SMC_NO_FENCE
  fence.i
#endif
  j r3_site
  nop
  nop
r3_site:
  addi a0, zero, 1
  add s2, s2, a0
  addi s1, s1, -1
  bnez s1, r3_loop
  .option pop
  li t6, 150
  FAIL_UNLESS_EQ s2, t6

  /* ---- 4: a trap in the second block of a region ---- */
  li s1, 20
r4_loop:
  li gp, 4
  li t0, 0
  li t1, 0
  li t2, 0
  EXPECT_TRAP r4_back
  .option push
  .option norvc
  li t3, 0x08000000                 /* unmapped: load access fault */
  addi t0, zero, 11
  bnez t0, r4_second
  addi t0, zero, 99
r4_second:
  addi t1, zero, 33
r4_insn:
  ld t4, 0(t3)
  addi t2, zero, 22
  .option pop
  j fail
r4_back:
  CHECK_TRAP 5, CAUSE_LOAD_ACCESS
  li gp, 6
  la t5, rt_data
  ld t4, RT_EPC(t5)
  la t6, r4_insn
  FAIL_UNLESS_EQ t4, t6
  ld t4, RT_TVAL(t5)
  li t6, 0x08000000
  FAIL_UNLESS_EQ t4, t6
  li t6, 11
  FAIL_UNLESS_EQ t0, t6
  li t6, 33
  FAIL_UNLESS_EQ t1, t6
  FAIL_UNLESS_EQ t2, zero
  addi s1, s1, -1
  bnez s1, r4_loop

  mv ra, s0
  ret

  .balign 4096
far_fn:
  slli t0, a0, 1
  add a0, a0, t0
  addi a0, a0, 1
  ret
