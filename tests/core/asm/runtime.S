/* Runtime shared by the hand-written core tests: start-up, pass/fail reporting over the UART
   and the virt test device, and M/S trap handlers that record expected traps (see test.h). */
#include "test.h"

  .section .text.init
  .globl _start
_start:
  la sp, _stack_top
  la t0, m_trap
  csrw mtvec, t0
  csrw mie, zero
  /* Open PMP for S/U (QEMU denies S/U accesses when no entry matches). A core without
     PMP may trap on these CSRs: the temporary vector just skips ahead. */
  la t0, 1f
  csrw mtvec, t0
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f          /* NAPOT, R W X */
  csrw pmpcfg0, t0
  .balign 4
1:
  la t0, m_trap
  csrw mtvec, t0
  la t0, __bss_start
  la t1, __bss_end
2:
  bgeu t0, t1, 3f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 2b
3:
  li gp, 0
  call test_main
  j pass

  .text
  .globl pass
pass:
  la a0, msg_pass
  call uart_puts
  li t0, SYSCON_BASE
  li t1, 0x5555
  sw t1, 0(t0)
1:
  j 1b

  .globl fail
fail:
  /* Get to M mode first, from whatever mode the failure happened in. */
  li a7, RT_GOTO_M
  la a6, fail_m
  ecall
fail_m:
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  mv s11, gp
  la a0, msg_fail
  call uart_puts
  mv a0, s11
  call uart_dec
  li a0, '\n'
  call uart_putc
  bnez s11, 1f
  li s11, 0xfff
1:
  li t0, SYSCON_BASE
  slli t1, s11, 16
  li t2, 0x3333
  or t1, t1, t2
  sw t1, 0(t0)
2:
  j 2b

/* uart_putc(a0): waits for LSR.THRE then writes THR. Clobbers t0, t1. */
  .globl uart_putc
uart_putc:
  li t0, UART_BASE
1:
  lbu t1, 5(t0)
  andi t1, t1, 0x20
  beqz t1, 1b
  sb a0, 0(t0)
  ret

/* uart_puts(a0 = NUL-terminated string). Clobbers a0, t0-t2. */
  .globl uart_puts
uart_puts:
  mv t2, a0
  mv a1, ra
1:
  lbu a0, 0(t2)
  beqz a0, 2f
  call uart_putc
  addi t2, t2, 1
  j 1b
2:
  mv ra, a1
  ret

/* uart_hex(a0): 16 hex digits. Clobbers a0-a3, t0, t1. */
  .globl uart_hex
uart_hex:
  mv a2, a0
  mv a3, ra
  li a1, 60
1:
  srl a0, a2, a1
  andi a0, a0, 15
  addi a0, a0, '0'
  li t0, '9'
  ble a0, t0, 2f
  addi a0, a0, 'a' - '9' - 1
2:
  call uart_putc
  addi a1, a1, -4
  bgez a1, 1b
  mv ra, a3
  ret

/* uart_dec(a0): unsigned decimal. Clobbers a0-a4, t0, t1. */
uart_dec:
  mv a4, ra
  addi sp, sp, -32
  mv a2, sp
  li a3, 10
1:
  remu t0, a0, a3
  addi t0, t0, '0'
  sb t0, 0(a2)
  addi a2, a2, 1
  divu a0, a0, a3
  bnez a0, 1b
2:
  addi a2, a2, -1
  lbu a0, 0(a2)
  call uart_putc
  bne a2, sp, 2b
  addi sp, sp, 32
  mv ra, a4
  ret

/* ---- M-mode trap handler ---- */
  .balign 4
  .globl m_trap
m_trap:
  csrw mscratch, t0
  la t0, rt_data
  sd t1, RT_SAVE1(t0)
  sd t2, RT_SAVE2(t0)
  csrr t1, mcause
  sd t1, RT_CAUSE(t0)
  csrr t1, mepc
  sd t1, RT_EPC(t0)
  csrr t1, mtval
  sd t1, RT_TVAL(t0)
  csrr t1, mstatus
  sd t1, RT_STATUS(t0)
  ld t1, RT_COUNT(t0)
  addi t1, t1, 1
  sd t1, RT_COUNT(t0)
  li t1, 3
  sd t1, RT_LEVEL(t0)
  csrr t1, mcause
  bltz t1, m_irq
  /* ecall asking to continue in M or S (a7 = RT_GOTO_M / RT_GOTO_S, a6 = target) */
  li t2, CAUSE_ECALL_M
  beq t1, t2, 0f
  addi t2, t1, -CAUSE_ECALL_U
  bltz t2, 1f
  addi t2, t1, -CAUSE_ECALL_S
  bgtz t2, 1f
0:
  li t2, RT_GOTO_M
  beq a7, t2, m_goto_m
  li t2, RT_GOTO_S
  beq a7, t2, m_goto_s
1:
  ld t1, RT_RESUME(t0)
  beqz t1, m_unexpected
  sd zero, RT_RESUME(t0)
  csrw mepc, t1
m_return:
  ld t1, RT_SAVE1(t0)
  ld t2, RT_SAVE2(t0)
  csrr t0, mscratch
  mret
m_goto_m:
  li t1, MSTATUS_MPP
  csrs mstatus, t1
  csrw mepc, a6
  li a7, 0              /* a stale a7 must not turn a later test ecall into a jump */
  j m_return
m_goto_s:
  li t1, MSTATUS_MPP
  csrc mstatus, t1
  li t1, (PRV_S << 11)
  csrs mstatus, t1
  csrw mepc, a6
  li a7, 0
  j m_return
m_irq:
  /* Expected interrupts: the test sets RT_IRQ_ACK; the handler masks the source. */
  ld t2, RT_IRQ_ACK(t0)
  beqz t2, m_unexpected
  slli t1, t1, 1
  srli t1, t1, 1
  li t2, IRQ_M_TIMER
  bne t1, t2, 2f
  li t1, CLINT_MTIMECMP
  li t2, -1
  sd t2, 0(t1)
  j 9f
2:
  li t2, IRQ_M_SOFT
  bne t1, t2, 3f
  li t1, CLINT_MSIP
  sw zero, 0(t1)
  j 9f
3:
  /* S-level interrupt taken in M (not delegated): clear the pending bit. */
  li t2, 1
  sll t2, t2, t1
  csrc mip, t2
9:
  ld t1, RT_RESUME(t0)
  beqz t1, m_return
  sd zero, RT_RESUME(t0)
  csrw mepc, t1
  j m_return

m_unexpected:
  la a0, msg_trap
  call uart_puts
  csrr a0, mcause
  call uart_hex
  la a0, msg_epc
  call uart_puts
  csrr a0, mepc
  call uart_hex
  la a0, msg_tval
  call uart_puts
  csrr a0, mtval
  call uart_hex
  li a0, '\n'
  call uart_putc
  j fail

/* ---- S-mode trap handler (install with `la t0, s_trap; csrw stvec, t0`) ---- */
  .balign 4
  .globl s_trap
s_trap:
  csrw sscratch, t0
  la t0, rt_data
  sd t1, RT_SAVE1(t0)
  sd t2, RT_SAVE2(t0)
  csrr t1, scause
  sd t1, RT_CAUSE(t0)
  csrr t1, sepc
  sd t1, RT_EPC(t0)
  csrr t1, stval
  sd t1, RT_TVAL(t0)
  csrr t1, sstatus
  sd t1, RT_STATUS(t0)
  ld t1, RT_COUNT(t0)
  addi t1, t1, 1
  sd t1, RT_COUNT(t0)
  li t1, 1
  sd t1, RT_LEVEL(t0)
  csrr t1, scause
  bltz t1, s_irq
  li t2, CAUSE_ECALL_U
  bne t1, t2, 1f
  li t2, RT_GOTO_M
  bne a7, t2, 0f
  ecall                 /* forward to M (ecall from S is never delegated in these tests) */
0:
  li t2, RT_GOTO_S
  bne a7, t2, 1f
  li t1, MSTATUS_SPP
  csrs sstatus, t1
  csrw sepc, a6
  li a7, 0
  j s_return
1:
  ld t1, RT_RESUME(t0)
  beqz t1, s_unexpected
  sd zero, RT_RESUME(t0)
  csrw sepc, t1
s_return:
  ld t1, RT_SAVE1(t0)
  ld t2, RT_SAVE2(t0)
  csrr t0, sscratch
  sret
s_irq:
  ld t2, RT_IRQ_ACK(t0)
  beqz t2, s_unexpected
  slli t1, t1, 1
  srli t1, t1, 1
  li t2, 1
  sll t2, t2, t1
  csrc sip, t2
  ld t1, RT_RESUME(t0)
  beqz t1, s_return
  sd zero, RT_RESUME(t0)
  csrw sepc, t1
  j s_return
s_unexpected:
  /* Report through M: an ecall from S would be recorded as a trap, so print directly
     (the UART is reachable while satp is bare or identity-mapped). */
  la a0, msg_strap
  call uart_puts
  csrr a0, scause
  call uart_hex
  la a0, msg_epc
  call uart_puts
  csrr a0, sepc
  call uart_hex
  la a0, msg_tval
  call uart_puts
  csrr a0, stval
  call uart_hex
  li a0, '\n'
  call uart_putc
  j fail

  .section .rodata
msg_pass: .asciz "PASS\n"
msg_fail: .asciz "FAIL "
msg_trap: .asciz "unexpected M trap: mcause="
msg_strap: .asciz "unexpected S trap: scause="
msg_epc: .asciz " epc="
msg_tval: .asciz " tval="

  .data
  .balign 64
  .globl rt_data
rt_data:
  .dword 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
