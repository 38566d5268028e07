/* mstatus.TVM / TW / TSR: trapping satp accesses and sfence.vma, WFI, and sret in S mode.
   Without the bits, the same instructions run in S. */
#include "test.h"
  .text
  .globl test_main
test_main:
  mv s0, ra
  la t0, s_trap
  csrw stvec, t0
  /* keep an interrupt pending-but-disabled so that WFI returns at once:
     SSIP delegated to S, SIE = 0 */
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrs mie, t0
  csrs mip, t0
  li t0, MSTATUS_SIE
  csrc mstatus, t0

  /* no bits set: everything allowed in S */
  GOTO_MODE PRV_S, s1
s1:
  TEST_NO_TRAP 1, csrr a0, satp
  TEST_NO_TRAP 2, csrw satp, zero
  TEST_NO_TRAP 3, sfence.vma
  TEST_NO_TRAP 4, wfi
  li t0, MSTATUS_SPIE                  /* keep SIE = 0 after sret */
  csrc sstatus, t0
  li t0, MSTATUS_SPP
  csrs sstatus, t0
  la t0, 1f
  csrw sepc, t0
  li gp, 5
  sret                                 /* to S */
1:
  ECALL_TO_M m1
m1:
  li t0, MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
  csrs mstatus, t0
  GOTO_MODE PRV_S, s2
s2:
  TEST_TRAPS 10, CAUSE_ILLEGAL, csrr a0, satp
  li a1, 0x18002573                    /* csrr a0, satp */
  CHECK_TRAP_FIELD 11, RT_TVAL, a1
  TEST_TRAPS 12, CAUSE_ILLEGAL, csrw satp, zero
  TEST_TRAPS 13, CAUSE_ILLEGAL, sfence.vma
  TEST_TRAPS 14, CAUSE_ILLEGAL, sfence.vma a0, zero
  TEST_TRAPS 15, CAUSE_ILLEGAL, wfi
  li a1, 0x10500073                    /* wfi */
  CHECK_TRAP_FIELD 16, RT_TVAL, a1
  TEST_TRAPS 17, CAUSE_ILLEGAL, sret
  li a1, 0x10200073                    /* sret */
  CHECK_TRAP_FIELD 18, RT_TVAL, a1
  li a1, 3
  CHECK_TRAP_FIELD 19, RT_LEVEL, a1    /* these traps go to M */
  TEST_NO_TRAP 20, csrr a0, sstatus
  ECALL_TO_M m2
m2:
  /* in M the bits have no effect */
  TEST_NO_TRAP 30, csrr a0, satp
  TEST_NO_TRAP 31, sfence.vma
  TEST_NO_TRAP 32, wfi
  li gp, 33
  li t0, MSTATUS_SPIE
  csrc mstatus, t0
  li t0, MSTATUS_SPP
  csrs mstatus, t0
  la t0, 1f
  csrw sepc, t0
  sret
1:
  /* sret from M landed in S; TSR still set, so back via ecall */
  TEST_TRAPS 34, CAUSE_ILLEGAL, sret
  ECALL_TO_M m3
m3:
  /* each bit alone */
  li t0, MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
  csrc mstatus, t0
  li t0, MSTATUS_TW
  csrs mstatus, t0
  GOTO_MODE PRV_S, s4
s4:
  TEST_NO_TRAP 40, csrr a0, satp
  TEST_TRAPS 41, CAUSE_ILLEGAL, wfi
  ECALL_TO_M m4
m4:
  li t0, MSTATUS_TW
  csrc mstatus, t0
  li t0, MSTATUS_TSR
  csrs mstatus, t0
  GOTO_MODE PRV_S, s5
s5:
  TEST_NO_TRAP 50, wfi
  TEST_NO_TRAP 51, sfence.vma
  TEST_TRAPS 52, CAUSE_ILLEGAL, sret
  ECALL_TO_M m5
m5:
  li t0, MSTATUS_TSR
  csrc mstatus, t0
  li t0, MIP_SSIP
  csrc mip, t0
  csrc mie, t0
  csrw mideleg, zero
  mv ra, s0
  ret
