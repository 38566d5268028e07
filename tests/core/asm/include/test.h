/* Shared definitions and macros for the hand-written core tests (GNU as + cpp).
   A test defines `test_main` and ends with `j pass`; on a wrong result it jumps to `fail`
   with the case number in gp (x3). The runtime (runtime.S) prints PASS / FAIL n on the
   UART and exits through the virt test device (syscon). t5/t6 are scratch for the macros. */
#ifndef TEST_H
#define TEST_H

#define UART_BASE   0x10000000
#define SYSCON_BASE 0x100000
#define CLINT_BASE  0x2000000
#define CLINT_MSIP  0x2000000
#define CLINT_MTIMECMP 0x2004000
#define CLINT_MTIME 0x200BFF8

#define MSTATUS_SIE  (1 << 1)
#define MSTATUS_MIE  (1 << 3)
#define MSTATUS_SPIE (1 << 5)
#define MSTATUS_MPIE (1 << 7)
#define MSTATUS_SPP  (1 << 8)
#define MSTATUS_MPP  (3 << 11)
#define MSTATUS_FS   (3 << 13)
#define MSTATUS_FS_INITIAL (1 << 13)
#define MSTATUS_FS_CLEAN   (2 << 13)
#define MSTATUS_FS_DIRTY   (3 << 13)
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM  (1 << 18)
#define MSTATUS_MXR  (1 << 19)
#define MSTATUS_TVM  (1 << 20)
#define MSTATUS_TW   (1 << 21)
#define MSTATUS_TSR  (1 << 22)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_ECALL_U 8
#define CAUSE_ECALL_S 9
#define CAUSE_ECALL_M 11
#define CAUSE_FETCH_PAGE 12
#define CAUSE_LOAD_PAGE 13
#define CAUSE_STORE_PAGE 15
#define INT_BIT (1 << 63)
#define IRQ_S_SOFT 1
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7

#define MIP_SSIP (1 << 1)
#define MIP_MSIP (1 << 3)
#define MIP_STIP (1 << 5)
#define MIP_MTIP (1 << 7)

/* Layout of rt_data (runtime.S): what the trap handlers record. */
#define RT_SAVE1  0
#define RT_SAVE2  8
#define RT_RESUME 16   /* where the next expected trap resumes; 0 = a trap is unexpected */
#define RT_CAUSE  24
#define RT_EPC    32
#define RT_TVAL   40
#define RT_STATUS 48   /* mstatus / sstatus at trap entry */
#define RT_COUNT  56   /* traps taken so far */
#define RT_LEVEL  64   /* privilege that handled the last trap (1 = S, 3 = M) */
#define RT_SAVE3  72
#define RT_IRQ_ACK 80  /* nonzero: interrupts are expected and acknowledged by the handler */

/* ecall with a7 = RT_GOTO_M (or RT_GOTO_S when delegated) continues at a6 in that mode;
   the handler then zeroes a7. */
#define RT_GOTO_M 0x4d4d
#define RT_GOTO_S 0x5353

#define TESTNUM gp

/* ---- checks ---- */
.macro FAIL_UNLESS_EQ ra, rb
  beq \ra, \rb, .Lok\@
  j fail
.Lok\@:
.endm

.macro FAIL_UNLESS_NE ra, rb
  bne \ra, \rb, .Lok\@
  j fail
.Lok\@:
.endm

/* Case n: `reg` must equal the 64-bit constant `val` (uses t6). */
.macro CHECK n, reg, val
  li gp, \n
  li t6, \val
  FAIL_UNLESS_EQ \reg, t6
.endm

/* reg-reg op: rd = op(a, b) */
.macro TEST_RR n, op, exp, a, b
  li gp, \n
  li a1, \a
  li a2, \b
  \op a0, a1, a2
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
.endm

/* reg-imm op */
.macro TEST_RI n, op, exp, a, imm
  li gp, \n
  li a1, \a
  \op a0, a1, \imm
  li t6, \exp
  FAIL_UNLESS_EQ a0, t6
.endm

/* rd == rs1 == rs2 forms catch decoders that read operands after writing rd. */
.macro TEST_RR_SAME n, op, exp, a
  li gp, \n
  li a1, \a
  \op a1, a1, a1
  li t6, \exp
  FAIL_UNLESS_EQ a1, t6
.endm

/* ---- expected traps ---- */
/* The next trap (M or S handler) records cause/epc/tval and continues at `label`. */
.macro EXPECT_TRAP label
  la t5, rt_data
  la t6, \label
  sd t6, RT_RESUME(t5)
  li t6, -1
  sd t6, RT_CAUSE(t5)
.endm

/* Case n: a trap with `cause` happened since EXPECT_TRAP. */
.macro CHECK_TRAP n, cause
  li gp, \n
  la t5, rt_data
  ld t6, RT_RESUME(t5)
  beqz t6, .Ltrapped\@
  sd zero, RT_RESUME(t5)   /* no trap: disarm, then fail */
  j fail
.Ltrapped\@:
  ld t5, RT_CAUSE(t5)
  li t6, \cause
  FAIL_UNLESS_EQ t5, t6
.endm

/* Case n: a trap with cause c1 or c2 happened (where the spec allows either). */
.macro CHECK_TRAP2 n, c1, c2
  li gp, \n
  la t5, rt_data
  ld t6, RT_RESUME(t5)
  beqz t6, .Ltrapped\@
  sd zero, RT_RESUME(t5)
  j fail
.Ltrapped\@:
  ld t5, RT_CAUSE(t5)
  li t6, \c1
  beq t5, t6, .Lok\@
  li t6, \c2
  FAIL_UNLESS_EQ t5, t6
.Lok\@:
.endm

/* Case n: recorded field (RT_EPC, RT_TVAL, ...) equals register `reg`. */
.macro CHECK_TRAP_FIELD n, field, reg
  li gp, \n
  la t5, rt_data
  ld t5, \field(t5)
  FAIL_UNLESS_EQ t5, \reg
.endm

/* Case n: `insn` traps with `cause`, and tval equals `tvalreg` (skip when tvalreg is x0... use CHECK_TRAP_FIELD). */
.macro TEST_TRAPS n, cause, insn:vararg
  EXPECT_TRAP .Lafter\@
  \insn
.Lafter\@:
  CHECK_TRAP \n, \cause
.endm

/* Case n: `insn` does not trap (an unexpected trap fails through the handler). */
.macro TEST_NO_TRAP n, insn:vararg
  li gp, \n
  \insn
.endm

/* Where the reference (QEMU 7.2) is known to deviate from the spec, a test accepts QEMU's
   behaviour only after printing "deviation: <what>" (clobbers a0, a1, t0-t2, ra). The
   vitest file expects exactly the known deviations on QEMU and none on our core. */
.macro DEVIATION text
  .pushsection .rodata
.Ldev\@:
  .ascii "deviation: "
  .ascii "\text"
  .byte 10, 0
  .popsection
  la a0, .Ldev\@
  call uart_puts
.endm

/* ---- privilege changes ---- */
/* From M: continue at `label` in privilege `prv` (0 U, 1 S, 3 M). Clobbers t5/t6. */
.macro GOTO_MODE prv, label
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  li t6, (\prv << 11)
  csrs mstatus, t6
  la t6, \label
  csrw mepc, t6
  mret
.endm

/* From S or U (trap to M not delegated): continue at `label` in M mode. */
.macro ECALL_TO_M label
  li a7, RT_GOTO_M
  la a6, \label
  ecall
.endm

/* From U with ecall-from-U delegated to S: continue at `label` in S mode. */
.macro ECALL_TO_S label
  li a7, RT_GOTO_S
  la a6, \label
  ecall
.endm

#endif
