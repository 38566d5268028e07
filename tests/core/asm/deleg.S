/* Trap delegation: medeleg sends U/S exceptions to S (never M's own), mideleg sends the
   supervisor software interrupt to S; sstatus SPP/SPIE/SIE on S-level traps; which
   interrupt bits can be delegated; S interrupts are always enabled in U. */
#include "test.h"
  .text
  .globl test_main
test_main:
  mv s0, ra
  la t0, s_trap
  csrw stvec, t0
  /* only S-level interrupt bits are delegable */
  li gp, 1
  li t0, -1
  csrw mideleg, t0
  csrr a0, mideleg
  li t6, MIP_SSIP | MIP_STIP | (1 << 9)
  and a1, a0, t6
  FAIL_UNLESS_EQ a1, t6
  li t6, MIP_MSIP | MIP_MTIP | (1 << 11)
  and a1, a0, t6
  FAIL_UNLESS_EQ a1, zero
  csrw mideleg, zero
  li gp, 2                       /* the ecall-from-U bit can be delegated */
  li t0, 1 << CAUSE_ECALL_U
  csrw medeleg, t0
  csrr a0, medeleg
  FAIL_UNLESS_EQ a0, t0
  csrw medeleg, zero

  li t0, (1 << CAUSE_ECALL_U) | (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT)
  csrw medeleg, t0
  /* exceptions raised in M are never delegated */
  TEST_TRAPS 3, CAUSE_ILLEGAL, .word 0
  li a1, 3
  CHECK_TRAP_FIELD 4, RT_LEVEL, a1

  /* U ecall goes to S; sstatus.SPP = U, SPIE = old SIE */
  li t0, MSTATUS_SIE
  csrs mstatus, t0
  GOTO_MODE PRV_U, in_u
in_u:
  EXPECT_TRAP 2f
1:
  ecall
2:
  CHECK_TRAP 10, CAUSE_ECALL_U
  li a1, 1
  CHECK_TRAP_FIELD 11, RT_LEVEL, a1
  la a1, 1b
  CHECK_TRAP_FIELD 12, RT_EPC, a1
  li gp, 13
  la t5, rt_data
  ld t5, RT_STATUS(t5)
  li t6, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
  and t5, t5, t6
  li t6, MSTATUS_SPIE
  FAIL_UNLESS_EQ t5, t6
  /* illegal instruction in U also to S, with the bits in stval */
  TEST_TRAPS 14, CAUSE_ILLEGAL, .word 0xffffffff
  li a1, 0xffffffff
  CHECK_TRAP_FIELD 15, RT_TVAL, a1
  li a1, 1
  CHECK_TRAP_FIELD 16, RT_LEVEL, a1
  /* breakpoint too */
  TEST_TRAPS 17, CAUSE_BREAKPOINT, ebreak
  ECALL_TO_S in_s
in_s:
  /* after an S trap from U (ECALL_TO_S), SPP was set to S by the handler; now in S */
  TEST_NO_TRAP 20, csrr a0, sstatus
  /* illegal in S, delegated: handled in S with SPP = S */
  li t0, MSTATUS_SIE
  csrs sstatus, t0
  TEST_TRAPS 21, CAUSE_ILLEGAL, csrr a0, mstatus
  li a1, 1
  CHECK_TRAP_FIELD 22, RT_LEVEL, a1
  li gp, 23
  la t5, rt_data
  ld t5, RT_STATUS(t5)
  li t6, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
  and t5, t5, t6
  li t6, MSTATUS_SPP | MSTATUS_SPIE
  FAIL_UNLESS_EQ t5, t6
  li gp, 24                      /* sret restored SIE */
  csrr a0, sstatus
  andi a0, a0, MSTATUS_SIE
  li t6, MSTATUS_SIE
  FAIL_UNLESS_EQ a0, t6
  li t0, MSTATUS_SIE
  csrc sstatus, t0
  /* ecall from S is not delegated (bit 9 clear): goes to M */
  TEST_TRAPS 25, CAUSE_ECALL_S, ecall
  li a1, 3
  CHECK_TRAP_FIELD 26, RT_LEVEL, a1
  ECALL_TO_M in_m
in_m:
  csrw medeleg, zero

  /* --- interrupts --- */
  la t5, rt_data
  li t6, 1
  sd t6, RT_IRQ_ACK(t5)
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrs mie, t0                   /* SSIE */
  /* SSIP pending, delegated, S with SIE=0: not taken; sip shows it */
  csrs mip, t0
  li t0, MSTATUS_SIE
  csrc mstatus, t0
  GOTO_MODE PRV_S, in_s2
in_s2:
  li gp, 30
  csrr a0, sip
  andi a0, a0, MIP_SSIP
  li t6, MIP_SSIP
  FAIL_UNLESS_EQ a0, t6
  li gp, 31
  la t5, rt_data
  ld s1, RT_COUNT(t5)
  /* enabling SIE takes it at once, in S */
  EXPECT_TRAP 2f
  csrsi sstatus, MSTATUS_SIE
1:
  j fail
2:
  CHECK_TRAP 32, INT_BIT | IRQ_S_SOFT
  li a1, 1
  CHECK_TRAP_FIELD 33, RT_LEVEL, a1
  la a1, 1b
  CHECK_TRAP_FIELD 34, RT_EPC, a1    /* epc = the instruction after the csrsi */
  li gp, 35
  csrr a0, sip
  andi a0, a0, MIP_SSIP
  FAIL_UNLESS_EQ a0, zero            /* the handler cleared it */
  /* S software interrupt raised by S itself via sip (writable SSIP) */
  EXPECT_TRAP 2f
  csrsi sip, MIP_SSIP
  j fail
2:
  CHECK_TRAP 36, INT_BIT | IRQ_S_SOFT
  csrci sstatus, MSTATUS_SIE
  ECALL_TO_M in_m2
in_m2:
  /* in U, S interrupts are enabled whatever SIE says */
  li t0, MSTATUS_SIE
  csrc mstatus, t0
  GOTO_MODE PRV_U, in_u2
in_u2:
  li gp, 40
  la t5, rt_data
  la t6, 2f
  sd t6, RT_RESUME(t5)
  li t6, -1
  sd t6, RT_CAUSE(t5)
  li a7, 0
  ECALL_TO_M raise_ssip              /* M sets SSIP and comes back to U at 1f */
1:
  j fail
2:
  CHECK_TRAP 41, INT_BIT | IRQ_S_SOFT
  li a1, 1
  CHECK_TRAP_FIELD 42, RT_LEVEL, a1
  la a1, 1b
  CHECK_TRAP_FIELD 43, RT_EPC, a1
  ECALL_TO_M in_m3
in_m3:
  /* not delegated: SSIP pending while in S goes to M even with MIE = 0 */
  csrw mideleg, zero
  li t0, MSTATUS_MIE | MSTATUS_SIE
  csrc mstatus, t0
  GOTO_MODE PRV_S, in_s4
in_s4:
  li gp, 50
  la t5, rt_data
  la t6, 2f
  sd t6, RT_RESUME(t5)
  li t6, -1
  sd t6, RT_CAUSE(t5)
  ECALL_TO_M raise_ssip_s
1:
  j fail
2:
  CHECK_TRAP 51, INT_BIT | IRQ_S_SOFT
  li a1, 3
  CHECK_TRAP_FIELD 52, RT_LEVEL, a1
  ECALL_TO_M in_m4
in_m4:
  la t5, rt_data
  sd zero, RT_IRQ_ACK(t5)
  /* vectored stvec: an S interrupt enters at base + 4 * cause, an exception at base */
  li t0, MIP_SSIP
  csrc mip, t0
  csrw mideleg, t0
  li t0, 1 << CAUSE_ILLEGAL
  csrw medeleg, t0
  la t0, s_vec
  ori t0, t0, 1
  csrw stvec, t0
  li t0, MSTATUS_SIE
  csrc mstatus, t0
  GOTO_MODE PRV_S, in_s5
in_s5:
  li gp, 60
  csrr a0, stvec
  la t6, s_vec
  ori t6, t6, 1
  FAIL_UNLESS_EQ a0, t6
  li gp, 61
  la s1, s_vec_log
  sd zero, 0(s1)
  csrsi sip, MIP_SSIP
  csrsi sstatus, MSTATUS_SIE
  li t0, 100000
1:
  ld a0, 0(s1)
  bnez a0, 2f
  addi t0, t0, -1
  bnez t0, 1b
2:
  csrci sstatus, MSTATUS_SIE
  li t6, 1                           /* entry 1: supervisor software interrupt */
  FAIL_UNLESS_EQ a0, t6
  li gp, 62
  sd zero, 0(s1)
  .word 0                            /* illegal: exception, enters at base */
  ld a0, 0(s1)
  li t6, 100
  FAIL_UNLESS_EQ a0, t6
  ECALL_TO_M in_m5
in_m5:
  la t0, s_trap
  csrw stvec, t0
  csrw medeleg, zero
  csrw mideleg, zero
  li t0, MIP_SSIP
  csrc mie, t0
  csrc mip, t0
  mv ra, s0
  ret

  .balign 256
  .option push
  .option norvc
s_vec:
  j s_vec_exc
  j s_vec_ssi
  j s_vec_bad
  j s_vec_bad
  j s_vec_bad
  j s_vec_bad
  .option pop
s_vec_bad:
  j fail
s_vec_exc:
  csrr t0, sepc
  addi t0, t0, 4
  csrw sepc, t0
  li t1, 100
  j 1f
s_vec_ssi:
  csrci sip, MIP_SSIP
  li t1, 1
1:
  la t0, s_vec_log
  sd t1, 0(t0)
  sret

  .data
  .balign 8
s_vec_log: .dword 0
  .text

/* M: set mip.SSIP and return to U at label 1b of the caller (mepc of the ecall + 4 is
   not used: the caller's resume label is in a6's neighbourhood, so go to the ecall's
   successor). */
raise_ssip:
  li t0, MIP_SSIP
  csrs mip, t0
  la t0, rt_data
  ld t0, RT_EPC(t0)
  addi t0, t0, 4
  csrw mepc, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0               /* back to U */
  mret
raise_ssip_s:
  li t0, MIP_SSIP
  csrs mip, t0
  la t0, rt_data
  ld t0, RT_EPC(t0)
  addi t0, t0, 4
  csrw mepc, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, PRV_S << 11
  csrs mstatus, t0               /* back to S */
  mret
