/* Instructions compiled code calls instead of inlining (A, F/D, Zicsr: jit 'call' in
   src/isa/instructions.ts): the block goes on after them. They pass on QEMU, on the
   interpreter and with every block compiled. Case numbers are in gp.
   1-4:   FP, AMO and CSR calls inside a compiled loop, registers written inline just before
          a call that reads them (spill) and read inline right after a call wrote them (reload)
   5-7:   rounding mode changed by a called CSR write, then used by called conversions; fflags
   8-10:  a trap in a called instruction mid-block (FS off: illegal; misaligned LR): exact
          epc, earlier writes kept, later ones not
   12-15: LR/SC with a block exit between them
   16-18: a called CSR write enabling interrupts: the interrupt is taken right after it
   19-20: a timer interrupt during a long compiled loop of called FP instructions
   21:    a called AMO rewrites an instruction later in the running block (QEMU needs the
          fence.i after it; jit_calls_nofence.S leaves it out and runs only on our core) */
#include "test.h"

  .text
  .globl test_main
test_main:
  mv s0, ra
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0

  /* ---- 1-4: calls inside a compiled loop ---- */
  li gp, 1
  la a1, amo_word
  sd zero, 0(a1)
  la a2, swap_word
  sd zero, 0(a2)
  li s1, 100
  fcvt.d.l fs0, zero
  li t0, 1
  fcvt.d.l fs1, t0
  li s2, 0
1:
  fadd.d fs0, fs0, fs1
  li t1, 3
  amoadd.d t2, t1, (a1)
  add s2, s2, t2
  addi t4, s1, 7
  amoswap.d t4, t4, (a2)
  csrr t3, fflags
  addi s1, s1, -1
  bnez s1, 1b
  fcvt.l.d t0, fs0
  CHECK 2, t0, 100
  ld t0, 0(a1)
  CHECK 3, t0, 300
  CHECK 4, s2, 14850                  /* 3 * (0 + 1 + ... + 99) */
  ld t0, 0(a2)
  CHECK 4, t0, 8                      /* last swap stored 1 + 7 */
  CHECK 4, t4, 9                      /* and got back 2 + 7 */

  /* ---- 5-7: rounding mode and flags ---- */
  li gp, 5
  csrw fflags, zero
  li t0, 5
  fcvt.d.l fa0, t0
  li t0, 2
  fcvt.d.l fa1, t0
  fdiv.d fa0, fa0, fa1                /* 2.5, exact */
  fsrmi 3                             /* RUP */
  fcvt.l.d a3, fa0
  fsrmi 2                             /* RDN */
  fcvt.l.d a4, fa0
  fsrmi 0                             /* RNE */
  fcvt.l.d a5, fa0
  frflags a6
  CHECK 5, a3, 3
  CHECK 6, a4, 2
  CHECK 6, a5, 2
  CHECK 7, a6, 1                      /* NX */

  /* ---- 8-10: a trap in a called instruction mid-block ---- */
  li s1, 20
fp_loop:
  li gp, 8
  li t0, 0
  li t1, 0
  EXPECT_TRAP fp_back
  li t2, MSTATUS_FS
  csrc mstatus, t2
  addi t0, zero, 11
fp_trap_insn:
  fadd.d fa0, fa0, fa1
  addi t1, zero, 22
  j fail
fp_back:
  CHECK_TRAP 9, CAUSE_ILLEGAL
  la t6, fp_trap_insn
  CHECK_TRAP_FIELD 9, RT_EPC, t6
  CHECK 10, t0, 11
  FAIL_UNLESS_EQ t1, zero
  li t2, MSTATUS_FS_INITIAL
  csrs mstatus, t2
  addi s1, s1, -1
  bnez s1, fp_loop

  li s1, 20
amo_loop:
  li gp, 11
  li t0, 0
  li t1, 0
  la a1, amo_word
  addi t3, a1, 4
  EXPECT_TRAP amo_back
  addi t0, zero, 33
amo_trap_insn:
  lr.d t4, (t3)
  addi t1, zero, 44
  j fail
amo_back:
  CHECK_TRAP2 11, CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS
  la t6, amo_trap_insn
  CHECK_TRAP_FIELD 11, RT_EPC, t6
  CHECK_TRAP_FIELD 11, RT_TVAL, t3
  CHECK 11, t0, 33
  FAIL_UNLESS_EQ t1, zero
  addi s1, s1, -1
  bnez s1, amo_loop

  /* ---- 12-15: LR/SC across a block exit ---- */
  li gp, 12
  la a1, lr_word
  li t0, 5
  sd t0, 0(a1)
  li s1, 30
1:
  lr.d t1, (a1)
  j 2f
2:
  addi t1, t1, 1
  sc.d t2, t1, (a1)
  bnez t2, fail
  addi s1, s1, -1
  bnez s1, 1b
  ld t0, 0(a1)
  CHECK 13, t0, 35
  li gp, 14
  sc.d t2, t1, (a1)                   /* no reservation left */
  CHECK 15, t2, 1
  ld t0, 0(a1)
  CHECK 15, t0, 35

  /* ---- 16-18: a called CSR write enables a pending interrupt ---- */
  li gp, 16
  la t5, rt_data
  li t6, 1
  sd t6, RT_IRQ_ACK(t5)
  la t6, irq_back
  sd t6, RT_RESUME(t5)
  li t0, CLINT_MTIMECMP
  sd zero, 0(t0)                      /* the timer is due now */
  li t0, 1 << IRQ_M_TIMER
  csrs mie, t0
  li t0, 0
  addi t0, zero, 1
  csrsi mstatus, MSTATUS_MIE
irq_next:
  addi t0, zero, 2
  j fail
irq_back:
  csrci mstatus, MSTATUS_MIE
  li t1, 1 << IRQ_M_TIMER
  csrc mie, t1
  la t5, rt_data
  sd zero, RT_IRQ_ACK(t5)
  la t6, irq_next
  CHECK_TRAP_FIELD 17, RT_EPC, t6
  CHECK 18, t0, 1

  /* ---- 19-20: a timer interrupt during a long compiled loop of FP calls ---- */
  li gp, 19
  la t5, rt_data
  li t6, 1
  sd t6, RT_IRQ_ACK(t5)
  ld s4, RT_COUNT(t5)
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  li t2, 200000
  add t1, t1, t2
  li t0, CLINT_MTIMECMP
  sd t1, 0(t0)
  li t0, 1 << IRQ_M_TIMER
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  li s1, 0
  li s2, 10000000
  fcvt.d.l fs0, zero
1:
  addi s1, s1, 1
  fadd.d fs0, fs0, fs1
  ld t0, RT_COUNT(t5)
  bne t0, s4, 2f
  blt s1, s2, 1b
  j fail
2:
  csrci mstatus, MSTATUS_MIE
  li t0, 1 << IRQ_M_TIMER
  csrc mie, t0
  sd zero, RT_IRQ_ACK(t5)
  li gp, 20
  li t6, 100
  bltu s1, t6, fail
  fcvt.l.d t0, fs0                    /* every pass added 1.0 exactly once */
  sub t1, s1, t0
  li t6, 1
  bgtu t1, t6, fail                   /* the interrupted pass may or may not have added */

  /* ---- 21: a called AMO stores into the running block ---- */
  li gp, 21
  la a1, amo_smc_site
  li a3, 0x00100513                 /* addi a0, zero, 1 */
  li a4, 0x00200513                 /* addi a0, zero, 2 */
  li s1, 100
  li s2, 0
  .balign 4                         /* the AMO target must be aligned (aligned with RVC on, so the linker keeps it) */
  .option push
  .option norvc
amo_smc_loop:
  andi t0, s1, 1
  sub t1, zero, t0                  /* all ones when s1 is odd */
  xor t2, a3, a4
  and t2, t2, t1
  xor a2, a3, t2                    /* odd: a4, even: a3 */
  amoswap.w zero, a2, (a1)
#ifndef SMC_NO_FENCE
  fence.i
#endif
amo_smc_site:
  addi a0, zero, 1
  add s2, s2, a0
  addi s1, s1, -1
  bnez s1, amo_smc_loop
  .option pop
  li t6, 150
  FAIL_UNLESS_EQ s2, t6

  mv ra, s0
  ret

  .data
  .balign 8
amo_word: .dword 0
swap_word: .dword 0
lr_word: .dword 0
