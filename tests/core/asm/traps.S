/* Synchronous traps and trap return: ecall from M/S/U (cause, epc, tval 0), ebreak,
   illegal instructions with the instruction bits in mtval, the mstatus stack on trap
   entry (MPIE/MIE/MPP) and on mret/sret (MIE/MPIE/MPP, SIE/SPIE/SPP, MPRV cleared). */
#include "test.h"

.macro CHECK_MSTATUS_FIELD n, mask, val
  li gp, \n
  csrr t5, mstatus
  li t6, \mask
  and t5, t5, t6
  li t6, \val
  FAIL_UNLESS_EQ t5, t6
.endm

  .text
  .globl test_main
test_main:
  mv s0, ra
  /* ecall from M */
  EXPECT_TRAP 2f
1:
  ecall
2:
  CHECK_TRAP 1, CAUSE_ECALL_M
  la a1, 1b
  CHECK_TRAP_FIELD 2, RT_EPC, a1
  CHECK_TRAP_FIELD 3, RT_TVAL, zero
  /* ebreak: mtval is 0 or the pc (both allowed) */
  EXPECT_TRAP 2f
1:
  ebreak
2:
  CHECK_TRAP 4, CAUSE_BREAKPOINT
  la a1, 1b
  CHECK_TRAP_FIELD 5, RT_EPC, a1
  li gp, 6
  la t5, rt_data
  ld t5, RT_TVAL(t5)
  beqz t5, 3f
  FAIL_UNLESS_EQ t5, a1
3:
  /* illegal instructions and their bits in mtval */
  EXPECT_TRAP 2f
1:
  .word 0xffffffff
2:
  CHECK_TRAP 7, CAUSE_ILLEGAL
  la a1, 1b
  CHECK_TRAP_FIELD 8, RT_EPC, a1
  li a1, 0xffffffff
  CHECK_TRAP_FIELD 9, RT_TVAL, a1
  TEST_TRAPS 10, CAUSE_ILLEGAL, .word 0x00000000
  CHECK_TRAP_FIELD 11, RT_TVAL, zero
  TEST_TRAPS 12, CAUSE_ILLEGAL, .word 0x0000107f      /* opcode 0x7f: reserved (>= 80-bit) space */
  TEST_TRAPS 13, CAUSE_ILLEGAL, .word 0x20001033      /* OP funct7=0x10 funct3=1: unassigned */
  TEST_TRAPS 14, CAUSE_ILLEGAL, .word 0x4000503b | (1 << 25) /* sraw with a bad funct7 */
  TEST_TRAPS 15, CAUSE_ILLEGAL, .word 0x0000601b      /* OP-IMM-32 funct3=6: reserved */
  TEST_TRAPS 16, CAUSE_ILLEGAL, .word 0x02051013 | (1 << 31) /* slli with imm[11:6] != 0 */
  TEST_TRAPS 17, CAUSE_ILLEGAL, .word 0x00007003      /* load funct3=7: reserved */
  TEST_TRAPS 18, CAUSE_ILLEGAL, .word 0x00004023      /* store funct3=4: reserved */
  TEST_TRAPS 19, CAUSE_ILLEGAL, .word 0x00002067      /* jalr funct3!=0 */
  TEST_TRAPS 20, CAUSE_ILLEGAL, .word 0x00002063      /* branch funct3=2: reserved */
  TEST_TRAPS 21, CAUSE_ILLEGAL, .word 0x00300073      /* SYSTEM funct3=0 funct12=3: unassigned */
  li a1, 0x00300073
  CHECK_TRAP_FIELD 22, RT_TVAL, a1
  /* trap entry pushes MIE into MPIE and clears MIE; MPP = previous privilege */
  li t0, MSTATUS_MIE
  csrs mstatus, t0
  EXPECT_TRAP 2f
  ecall
2:
  li gp, 30
  la t5, rt_data
  ld t5, RT_STATUS(t5)
  li t6, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
  and t5, t5, t6
  li t6, MSTATUS_MPIE | MSTATUS_MPP
  FAIL_UNLESS_EQ t5, t6
  /* mret restored MIE = MPIE, set MPIE = 1 and MPP = U */
  CHECK_MSTATUS_FIELD 31, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MIE | MSTATUS_MPIE
  li t0, MSTATUS_MIE
  csrc mstatus, t0

  /* ecall from S */
  GOTO_MODE PRV_S, in_s
in_s:
  EXPECT_TRAP 2f
1:
  ecall
2:
  CHECK_TRAP 40, CAUSE_ECALL_S
  la a1, 1b
  CHECK_TRAP_FIELD 41, RT_EPC, a1
  li gp, 42                              /* MPP recorded S */
  la t5, rt_data
  ld t5, RT_STATUS(t5)
  li t6, MSTATUS_MPP
  and t5, t5, t6
  li t6, PRV_S << 11
  FAIL_UNLESS_EQ t5, t6
  /* we are back in S: M CSRs trap */
  TEST_TRAPS 43, CAUSE_ILLEGAL, csrr a0, mstatus
  /* sret to U with SPIE=1: SIE becomes 1, SPIE 1, SPP U */
  li t0, MSTATUS_SPP
  csrc sstatus, t0
  li t0, MSTATUS_SPIE
  csrs sstatus, t0
  li t0, MSTATUS_SIE
  csrc sstatus, t0
  la t0, in_u
  csrw sepc, t0
  sret
in_u:
  EXPECT_TRAP 2f
1:
  ecall
2:
  CHECK_TRAP 50, CAUSE_ECALL_U
  la a1, 1b
  CHECK_TRAP_FIELD 51, RT_EPC, a1
  li gp, 52
  la t5, rt_data
  ld t5, RT_STATUS(t5)
  li t6, MSTATUS_MPP | MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
  and t5, t5, t6
  li t6, MSTATUS_SIE | MSTATUS_SPIE      /* MPP = U */
  FAIL_UNLESS_EQ t5, t6
  TEST_TRAPS 53, CAUSE_ILLEGAL, csrr a0, sstatus
  TEST_TRAPS 54, CAUSE_ILLEGAL, sret
  TEST_TRAPS 55, CAUSE_ILLEGAL, mret
  TEST_TRAPS 56, CAUSE_ILLEGAL, wfi     /* WFI in U traps when S exists (QEMU: always) */
  ECALL_TO_M in_m
in_m:
  /* sret with SPP = S returns to S, then SPP = U */
  li t0, MSTATUS_SIE | MSTATUS_SPIE
  csrc mstatus, t0
  li t0, MSTATUS_SPP
  csrs mstatus, t0
  la t0, in_s2
  csrw sepc, t0
  sret                                   /* sret from M is legal */
in_s2:
  TEST_NO_TRAP 60, csrr a0, sstatus
  li gp, 61
  li t6, MSTATUS_SPP | MSTATUS_SIE | MSTATUS_SPIE
  and a0, a0, t6
  li t6, MSTATUS_SPIE                    /* SIE = old SPIE (0), SPIE = 1, SPP = U */
  FAIL_UNLESS_EQ a0, t6
  ECALL_TO_M in_m2
in_m2:
  /* mret to a less-privileged mode clears MPRV */
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  GOTO_MODE PRV_S, in_s3
in_s3:
  ECALL_TO_M in_m3
in_m3:
  li gp, 70
  csrr t5, mstatus
  li t6, MSTATUS_MPRV
  and t5, t5, t6
  beqz t5, 1f
  DEVIATION "mret to S left mstatus.MPRV set, priv 1.12 says xRET to a mode below M clears it"
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
1:
  /* mret to M keeps MPRV */
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  GOTO_MODE PRV_M, in_m4
in_m4:
  CHECK_MSTATUS_FIELD 71, MSTATUS_MPRV, MSTATUS_MPRV
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  /* mepc/sepc are WARL with bit 0 clear; mtvec direct mode base */
  li gp, 72
  li t0, 0x80001235
  csrw sepc, t0
  csrr a0, sepc
  li t6, 0x80001234
  beq a0, t6, 1f
  addi t6, t6, 1
  FAIL_UNLESS_EQ a0, t6
  DEVIATION "sepc kept bit 0, priv 1.12 4.1.7 says sepc bit 0 is always zero"
1:
  /* mcause / mtval are writable */
  li gp, 73
  li t0, 0x8000000000000005
  csrw mcause, t0
  csrr a0, mcause
  FAIL_UNLESS_EQ a0, t0
  li t0, 0x1234
  csrw mtval, t0
  csrr a0, mtval
  FAIL_UNLESS_EQ a0, t0
  mv ra, s0
  ret
