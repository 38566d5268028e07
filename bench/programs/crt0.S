/* Start-up for the bare-metal benchmark programs: stack, FPU on, bss cleared, main(),
   then poweroff through the virt test device (pass) or fail with main's return value. */
  .section .text.init
  .globl _start
_start:
  la sp, _stack_top
  li t0, (1 << 13)          /* mstatus.FS = Initial */
  csrs mstatus, t0
  csrw fcsr, zero
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  call main
  li t0, 0x100000
  li t1, 0x5555
  beqz a0, 3f
  slli a0, a0, 16
  li t1, 0x3333
  or t1, t1, a0
3:
  sw t1, 0(t0)
4:
  j 4b
