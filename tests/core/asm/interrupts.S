/* Machine interrupts from the CLINT: mtime/time advancing, mtimecmp driving mip.MTIP,
   a timer interrupt taken with MIE, WFI waking on a pending-but-disabled interrupt,
   msip software interrupts, vectored mtvec, and MSI-before-MTI priority. */
#include "test.h"

#define SPIN_LIMIT 20000000

  .text
  .globl test_main
test_main:
  mv s0, ra
  li s2, CLINT_MTIME
  li s3, CLINT_MTIMECMP
  li s4, CLINT_MSIP
  li t0, -1
  sd t0, 0(s3)
  /* mtime advances */
  li gp, 1
  ld a0, 0(s2)
  li t0, SPIN_LIMIT
1:
  ld a1, 0(s2)
  bne a1, a0, 2f
  addi t0, t0, -1
  bnez t0, 1b
  j fail
2:
  li gp, 2
  bltu a1, a0, fail_far
  /* the time CSR reads mtime */
  li gp, 3
  rdtime a0
  ld a1, 0(s2)
  rdtime a2
  bltu a1, a0, fail_far
  bltu a2, a1, fail_far
  /* mtimecmp <= mtime makes MTIP pending; no trap while mie.MTIE = 0 */
  li gp, 4
  sd zero, 0(s3)
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  li t6, MIP_MTIP
  FAIL_UNLESS_EQ a0, t6
  li gp, 5
  li t0, -1
  sd t0, 0(s3)
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  FAIL_UNLESS_EQ a0, zero
  /* mip.MTIP is read-only: csrs does not set it */
  li gp, 6
  li t0, MIP_MTIP
  csrs mip, t0
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  FAIL_UNLESS_EQ a0, zero

  la t5, rt_data
  li t6, 1
  sd t6, RT_IRQ_ACK(t5)
  /* timer interrupt with MIE = 1: the handler sets mtimecmp back to -1 */
  li gp, 10
  la t5, rt_data
  ld s1, RT_COUNT(t5)
  li t0, MIP_MTIP
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  ld a0, 0(s2)
  addi a0, a0, 200
  sd a0, 0(s3)
  li t0, SPIN_LIMIT
1:
  ld a1, RT_COUNT(t5)
  bne a1, s1, 2f
  addi t0, t0, -1
  bnez t0, 1b
  j fail
2:
  csrci mstatus, MSTATUS_MIE
  li gp, 11
  ld a0, RT_CAUSE(t5)
  li t6, INT_BIT | IRQ_M_TIMER
  FAIL_UNLESS_EQ a0, t6
  li gp, 12                         /* MPIE held the old MIE */
  ld a0, RT_STATUS(t5)
  andi a0, a0, MSTATUS_MPIE | MSTATUS_MIE
  li t6, MSTATUS_MPIE
  FAIL_UNLESS_EQ a0, t6
  li gp, 13                         /* the interrupt happened after mtime reached mtimecmp */
  ld a0, 0(s2)
  ld a1, 0(s3)
  li t6, -1
  FAIL_UNLESS_EQ a1, t6

  /* WFI with MIE = 0 wakes on the pending enabled (mie) interrupt, takes no trap */
  li gp, 20
  ld s1, RT_COUNT(t5)
  ld a0, 0(s2)
  addi a0, a0, 500
  sd a0, 0(s3)
  wfi
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  bnez a0, 3f
  /* WFI may return early (it is a hint): wait for MTIP by polling */
  li t0, SPIN_LIMIT
4:
  csrr a0, mip
  andi a0, a0, MIP_MTIP
  bnez a0, 3f
  addi t0, t0, -1
  bnez t0, 4b
  j fail
3:
  li gp, 21
  ld a1, RT_COUNT(t5)
  FAIL_UNLESS_EQ a1, s1
  li gp, 22                         /* mtime >= mtimecmp once MTIP is seen */
  ld a0, 0(s2)
  ld a1, 0(s3)
  bltu a0, a1, fail_far
  /* WFI with MIE = 1: the interrupt is taken, mepc is after the wfi */
  li gp, 23
  li t0, -1
  sd t0, 0(s3)
  ld a0, 0(s2)
  addi a0, a0, 500
  sd a0, 0(s3)
  EXPECT_TRAP 6f
  csrsi mstatus, MSTATUS_MIE
  ld a0, 0(s3)                      /* the trap may already come here */
  ld a0, 0(s3)
5:
  wfi
  j 5b
6:
  csrci mstatus, MSTATUS_MIE
  CHECK_TRAP 24, INT_BIT | IRQ_M_TIMER
  li t0, MIP_MTIP
  csrc mie, t0

  /* software interrupt through msip */
  li gp, 30
  li t0, 1
  sw t0, 0(s4)
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  li t6, MIP_MSIP
  FAIL_UNLESS_EQ a0, t6
  li t0, MIP_MSIP
  csrs mie, t0
  EXPECT_TRAP 2f
  csrsi mstatus, MSTATUS_MIE
1:
  j fail
2:
  CHECK_TRAP 31, INT_BIT | IRQ_M_SOFT
  la a1, 1b
  CHECK_TRAP_FIELD 32, RT_EPC, a1
  CHECK_TRAP_FIELD 33, RT_TVAL, zero
  li gp, 34
  csrr a0, mip
  andi a0, a0, MIP_MSIP
  FAIL_UNLESS_EQ a0, zero
  csrci mstatus, MSTATUS_MIE
  li t0, MIP_MSIP
  csrc mie, t0

  /* vectored mtvec: interrupts at base + 4 * cause, exceptions at base */
  la t5, rt_data
  sd zero, RT_IRQ_ACK(t5)
  la t0, vec_table
  ori t0, t0, 1
  csrw mtvec, t0
  li gp, 40
  csrr a0, mtvec
  FAIL_UNLESS_EQ a0, t0
  li gp, 41
  la s5, vec_log
  sd zero, 0(s5)
  sd zero, 8(s5)
  sd zero, 16(s5)
  li a7, 0
  ecall                             /* exception: entry 0 */
  ld a0, 0(s5)
  li t6, 1
  FAIL_UNLESS_EQ a0, t6
  ld a0, 8(s5)
  li t6, 100
  FAIL_UNLESS_EQ a0, t6
  /* both MSIP and MTIP pending: MSI is taken first (priority MEI > MSI > MTI) */
  li gp, 42
  sd zero, 0(s5)
  sd zero, 8(s5)
  li t0, 1
  sw t0, 0(s4)
  sd zero, 0(s3)
  li t0, MIP_MSIP | MIP_MTIP
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  li t0, SPIN_LIMIT
1:
  ld a0, 0(s5)
  li t6, 2
  beq a0, t6, 2f
  addi t0, t0, -1
  bnez t0, 1b
2:
  csrci mstatus, MSTATUS_MIE
  ld a0, 0(s5)
  li t6, 2
  FAIL_UNLESS_EQ a0, t6
  ld a0, 8(s5)
  li t6, 3
  FAIL_UNLESS_EQ a0, t6
  ld a0, 16(s5)
  li t6, 7
  FAIL_UNLESS_EQ a0, t6
  li t0, MIP_MSIP | MIP_MTIP
  csrc mie, t0
  la t0, m_trap
  csrw mtvec, t0
  mv ra, s0
  ret
fail_far:
  j fail

/* vector table: each entry logs its cause number in vec_log[1 + count] */
  .balign 256
  .option push
  .option norvc            /* entries must be 4 bytes */
vec_table:
  j vec_exc
  j vec_bad
  j vec_bad
  j vec_msi
  j vec_bad
  j vec_bad
  j vec_bad
  j vec_mti
  j vec_bad
  j vec_bad
  j vec_bad
  j vec_bad
  .option pop
vec_bad:
  la t0, m_trap
  csrw mtvec, t0
  j fail
vec_exc:
  li t1, 100
  csrr t0, mepc
  addi t0, t0, 4
  csrw mepc, t0
  j vec_log_it
vec_msi:
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  li t1, 3
  j vec_log_it
vec_mti:
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  li t1, 7
vec_log_it:
  la t0, vec_log
  ld t2, 0(t0)
  addi t2, t2, 1
  sd t2, 0(t0)
  slli t2, t2, 3
  add t0, t0, t2
  sd t1, 0(t0)
  mret

  .data
  .balign 8
vec_log: .dword 0, 0, 0, 0
