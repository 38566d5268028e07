/* Zicsr: the six CSR instructions on a read/write CSR, the rules for x0 / uimm=0 (no
   write, so no trap on read-only CSRs), read-only and unknown CSRs trapping as illegal
   instructions with the instruction bits in mtval, and privilege checks from S and U. */
#include "test.h"
  .text
  .globl test_main
test_main:
  mv s0, ra
  li gp, 1
  li a1, 0x123456789abcdef0
  csrw mscratch, a1
  csrr a0, mscratch
  FAIL_UNLESS_EQ a0, a1
  li gp, 2
  li a2, 0xff
  csrrw a0, mscratch, a2          /* returns the old value */
  FAIL_UNLESS_EQ a0, a1
  csrr a0, mscratch
  FAIL_UNLESS_EQ a0, a2
  li gp, 3
  li a2, 0xf00
  csrrs a0, mscratch, a2
  li t6, 0xff
  FAIL_UNLESS_EQ a0, t6
  csrr a0, mscratch
  li t6, 0xfff
  FAIL_UNLESS_EQ a0, t6
  li gp, 4
  li a2, 0x0f0
  csrrc a0, mscratch, a2
  li t6, 0xfff
  FAIL_UNLESS_EQ a0, t6
  csrr a0, mscratch
  li t6, 0xf0f
  FAIL_UNLESS_EQ a0, t6
  li gp, 5
  csrrwi a0, mscratch, 0x1f
  li t6, 0xf0f
  FAIL_UNLESS_EQ a0, t6
  csrr a0, mscratch
  li t6, 0x1f
  FAIL_UNLESS_EQ a0, t6
  li gp, 6
  csrrsi a0, mscratch, 0x0
  csrrci a0, mscratch, 0x3
  li t6, 0x1f
  FAIL_UNLESS_EQ a0, t6
  csrrsi a0, mscratch, 0x20 & 0x1f | 0x10
  li t6, 0x1c
  FAIL_UNLESS_EQ a0, t6
  li gp, 7                        /* rd == rs1 */
  li a0, 0x55
  csrrw a0, mscratch, a0
  li t6, 0x1c
  FAIL_UNLESS_EQ a0, t6
  csrr a0, mscratch
  li t6, 0x55
  FAIL_UNLESS_EQ a0, t6
  li gp, 8                        /* csrrw with rd = x0 still writes */
  li a1, 77
  csrw mscratch, a1
  csrr a0, mscratch
  FAIL_UNLESS_EQ a0, a1

  /* read-only CSRs: reads are fine, csrrs/csrrc with x0 and csrrsi/csrrci with 0 don't write */
  TEST_NO_TRAP 10, csrr a0, mvendorid
  TEST_NO_TRAP 11, csrr a0, marchid
  TEST_NO_TRAP 12, csrr a0, mimpid
  TEST_NO_TRAP 13, csrr a0, mhartid
  li gp, 14
  FAIL_UNLESS_EQ a0, zero         /* single hart 0 */
  TEST_NO_TRAP 15, csrrc a0, mhartid, x0
  TEST_NO_TRAP 16, csrrsi a0, mhartid, 0
  TEST_NO_TRAP 17, csrrci a0, mvendorid, 0
  TEST_NO_TRAP 18, csrr a0, cycle
  TEST_NO_TRAP 19, csrr a0, instret
  TEST_NO_TRAP 20, csrr a0, time
  /* writes to read-only CSRs trap, even when the value would not change */
  li a1, 0
  TEST_TRAPS 21, CAUSE_ILLEGAL, csrw mvendorid, a1
  TEST_TRAPS 22, CAUSE_ILLEGAL, csrrw zero, mhartid, zero
  li a1, 1
  TEST_TRAPS 23, CAUSE_ILLEGAL, csrrs a0, mhartid, a1
  TEST_TRAPS 24, CAUSE_ILLEGAL, csrrsi a0, mimpid, 1
  TEST_TRAPS 25, CAUSE_ILLEGAL, csrrwi a0, cycle, 0
  TEST_TRAPS 26, CAUSE_ILLEGAL, csrrc a0, instret, a1
  /* mtval holds the faulting instruction */
  li gp, 27
  la t5, rt_data
  ld a0, RT_TVAL(t5)
  li t6, 0xc025b573               /* csrrc a0, instret, a1 */
  FAIL_UNLESS_EQ a0, t6
  li gp, 28
  ld a0, RT_EPC(t5)
  la a1, 1f
  EXPECT_TRAP 2f
1:
  csrw mvendorid, zero
2:
  CHECK_TRAP 28, CAUSE_ILLEGAL
  CHECK_TRAP_FIELD 29, RT_EPC, a1
  /* unknown CSRs trap (reads too) */
  TEST_TRAPS 30, CAUSE_ILLEGAL, csrr a0, 0x7ff
  TEST_TRAPS 31, CAUSE_ILLEGAL, csrr a0, 0x5ff
  TEST_TRAPS 32, CAUSE_ILLEGAL, csrw 0x8ff, a1
  TEST_TRAPS 33, CAUSE_ILLEGAL, csrr a0, 0xfff
  li gp, 34
  la t5, rt_data
  ld a0, RT_TVAL(t5)
  li t6, 0xfff02573               /* csrr a0, 0xfff */
  FAIL_UNLESS_EQ a0, t6
  /* the traps did not disturb mscratch */
  li gp, 35
  csrr a0, mscratch
  li t6, 1
  FAIL_UNLESS_NE a0, t6

  /* From S: S CSRs are accessible, M CSRs are not */
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  GOTO_MODE PRV_S, in_s
in_s:
  li gp, 40
  li a1, 0x5a5a
  csrw sscratch, a1
  csrr a0, sscratch
  FAIL_UNLESS_EQ a0, a1
  TEST_TRAPS 41, CAUSE_ILLEGAL, csrr a0, mscratch
  TEST_TRAPS 42, CAUSE_ILLEGAL, csrr a0, mstatus
  TEST_TRAPS 43, CAUSE_ILLEGAL, csrr a0, mhartid
  TEST_TRAPS 44, CAUSE_ILLEGAL, mret
  TEST_NO_TRAP 45, csrr a0, sstatus
  TEST_NO_TRAP 46, csrr a0, fcsr
  ECALL_TO_M 1f
1:
  /* From U: S CSRs trap; fcsr does not */
  GOTO_MODE PRV_U, in_u
in_u:
  TEST_TRAPS 50, CAUSE_ILLEGAL, csrr a0, sscratch
  TEST_TRAPS 51, CAUSE_ILLEGAL, csrr a0, sstatus
  TEST_TRAPS 52, CAUSE_ILLEGAL, csrw satp, zero
  TEST_TRAPS 53, CAUSE_ILLEGAL, sret
  TEST_NO_TRAP 54, csrr a0, fcsr
  TEST_NO_TRAP 55, frcsr a0
  ECALL_TO_M 2f
2:
  li gp, 56
  la t5, rt_data
  ld a0, RT_CAUSE(t5)
  li t6, CAUSE_ECALL_U
  FAIL_UNLESS_EQ a0, t6
  mv ra, s0
  ret
