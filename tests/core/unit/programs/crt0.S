/* Minimal bare-metal start for the C test programs: stack, bss, main, syscon poweroff/fail. */
  .section .text.init, "ax"
  .globl _start
_start:
  la sp, __stack_top
  la t0, __bss_start
  la t1, __bss_end
1: bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2: call main
  li t0, 0x100000
  bnez a0, 3f
  li t1, 0x5555
  sw t1, 0(t0)
  j .
3: slli a0, a0, 16
  li t1, 0x3333
  or a0, a0, t1
  sw a0, 0(t0)
  j .
