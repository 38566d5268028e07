/* Zifencei: code that rewrites itself takes effect after fence.i. The patched routine runs
   many times first, so a translation cache (JIT) has certainly seen the old code. */
#include "test.h"
  .text
  .globl test_main
test_main:
  mv s0, ra
  li gp, 1
  li s1, 200
1:
  call patched
  addi s1, s1, -1
  bnez s1, 1b
  li t6, 1
  FAIL_UNLESS_EQ a0, t6
  /* rewrite `li a0, 1` (addi a0, x0, 1) into `li a0, 2` */
  li gp, 2
  la a1, patch_site
  li a2, 0x00200513               /* addi a0, zero, 2 */
  sw a2, 0(a1)
  fence.i
  call patched
  li t6, 2
  FAIL_UNLESS_EQ a0, t6
  /* again, in a loop, with a different value each time */
  li gp, 3
  li s1, 3
2:
  slli a2, s1, 20
  li t6, 0x00000513
  or a2, a2, t6                   /* addi a0, zero, s1 */
  sw a2, 0(a1)
  fence.i
  call patched
  FAIL_UNLESS_EQ a0, s1
  addi s1, s1, 1
  li t6, 40
  blt s1, t6, 2b
  /* patch a compressed instruction (16-bit store into code) */
  li gp, 4
  call patched16
  li t6, 5
  FAIL_UNLESS_EQ a0, t6
  la a1, patch16_site
  li a2, 0x4525                   /* c.li a0, 9 */
  sh a2, 0(a1)
  fence.i
  call patched16
  li t6, 9
  FAIL_UNLESS_EQ a0, t6
  /* code written to a fresh buffer and executed */
  li gp, 5
  la a1, codebuf
  li a2, 0x02a00513               /* li a0, 42 */
  sw a2, 0(a1)
  li a2, 0x00008067               /* ret */
  sw a2, 4(a1)
  fence.i
  jalr a1
  li t6, 42
  FAIL_UNLESS_EQ a0, t6
  li gp, 6
  li a2, 0x02b00513               /* li a0, 43 */
  sw a2, 0(a1)
  fence.i
  jalr a1
  li t6, 43
  FAIL_UNLESS_EQ a0, t6
  mv ra, s0
  ret

  .option push
  .option norvc
  .balign 4
patched:
patch_site:
  addi a0, zero, 1
  ret
  .option pop

  .option push
  .option rvc
  .balign 4
patched16:
patch16_site:
  c.li a0, 5
  c.jr ra
  .option pop

  .data
  .balign 64
codebuf:
  .space 64
