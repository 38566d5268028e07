/* JIT-specific cases (docs/JIT.md); they pass on QEMU, on the interpreter and with the JIT
   forced on (every block compiled at its first visit). Case numbers are in gp.
   1: a store rewrites an instruction later in the same (running) block; QEMU needs a fence.i
      after it (without one the result is implementation-defined), jit_nofence.S leaves it out
      and runs only on our core, where the next fetch sees the store with or without the JIT
   2: stores to data in the page of the running block (code stays valid)
   3: a load faulting in the middle of a block: exact epc, earlier writes kept, later ones not
   4: sfence.vma remaps the virtual page of compiled code to another physical page
   5: a timer interrupt arriving during a long compiled loop */
#include "test.h"
#include "paging.h"

#define VCODE 0x40000000            /* root[1] -> pt1[0] -> pt0[0]: code_a, then code_b */

  .text
  .globl test_main
test_main:
  mv s0, ra

  /* ---- 1: self-modifying code inside the running block ---- */
  li gp, 1
  la a1, smc_site
  li a3, 0x00100513                 /* addi a0, zero, 1 */
  li a4, 0x00200513                 /* addi a0, zero, 2 */
  li s1, 100
  li s2, 0
  .option push
  .option norvc
smc_loop:
  andi t0, s1, 1
  sub t1, zero, t0                  /* all ones when s1 is odd */
  xor t2, a3, a4
  and t2, t2, t1
  xor a2, a3, t2                    /* odd: a4, even: a3 */
  sw a2, 0(a1)
#ifndef SMC_NO_FENCE
  fence.i
#endif
smc_site:
  addi a0, zero, 1
  add s2, s2, a0
  addi s1, s1, -1
  bnez s1, smc_loop
  .option pop
  li t6, 150
  FAIL_UNLESS_EQ s2, t6

  /* ---- 2: data in the page of a running block ---- */
  li gp, 2
  la a1, near_data
  li s1, 300
  li s2, 0
  .option push
  .option norvc
near_loop:
  ld t0, 0(a1)
  addi t0, t0, 3
  sd t0, 0(a1)
  sw s1, 8(a1)
  lw t1, 8(a1)
  add s2, s2, t1
  addi s1, s1, -1
  bnez s1, near_loop
  .option pop
  ld t0, 0(a1)
  li t6, 900
  FAIL_UNLESS_EQ t0, t6
  li t6, 45150                      /* 300 + 299 + ... + 1 */
  FAIL_UNLESS_EQ s2, t6

  /* ---- 3: a trap in the middle of a block ---- */
  li s1, 20
trap_loop:
  li gp, 3
  li t0, 0
  li t1, 0
  li t2, 0
  EXPECT_TRAP trap_back
  .option push
  .option norvc
  li t3, 0x08000000                     /* unmapped: load access fault */
  addi t0, zero, 11
trap_insn:
  ld t1, 0(t3)
  addi t2, zero, 22
  .option pop
  j fail
trap_back:
  CHECK_TRAP 4, CAUSE_LOAD_ACCESS
  li gp, 5
  la t5, rt_data
  ld t4, RT_EPC(t5)
  la t6, trap_insn
  FAIL_UNLESS_EQ t4, t6
  ld t4, RT_TVAL(t5)
  li t6, 0x08000000
  FAIL_UNLESS_EQ t4, t6
  li t6, 11
  FAIL_UNLESS_EQ t0, t6
  FAIL_UNLESS_EQ t1, zero
  FAIL_UNLESS_EQ t2, zero
  addi s1, s1, -1
  bnez s1, trap_loop

  /* ---- 4: sfence.vma remaps a compiled code page ---- */
  li gp, 6
  PTE_SET_C root, 0, 0x00000000, PTE_RWX_AD
  PTE_SET_C root, 2, 0x80000000, PTE_RWX_AD
  PTE_SET_L root, 1, pt1, PTE_V
  PTE_SET_L pt1, 0, pt0, PTE_V
  PTE_SET_L pt0, 0, code_a, PTE_V | PTE_R | PTE_X | PTE_A
  la t0, root
  srli t0, t0, 12
  li t1, SATP_SV39
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  GOTO_MODE PRV_S, s_part
s_part:
  li gp, 7
  li s1, 50
  li s2, 0
  li s3, VCODE
1:
  jalr s3
  add s2, s2, a0
  addi s1, s1, -1
  bnez s1, 1b
  li t6, 50
  FAIL_UNLESS_EQ s2, t6
  li gp, 8
  PTE_SET_L pt0, 0, code_b, PTE_V | PTE_R | PTE_X | PTE_A
  sfence.vma
  li s1, 50
  li s2, 0
1:
  jalr s3
  add s2, s2, a0
  addi s1, s1, -1
  bnez s1, 1b
  li t6, 100
  FAIL_UNLESS_EQ s2, t6
  ECALL_TO_M m_back
m_back:
  csrw satp, zero
  sfence.vma

  /* ---- 5: a timer interrupt during a long compiled loop ---- */
  li gp, 9
  la t5, rt_data
  li t6, 1
  sd t6, RT_IRQ_ACK(t5)
  ld s4, RT_COUNT(t5)
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  /* 5 M instructions at 10 per tick; 50 ms of real time on QEMU, so a loaded host that
     stalls QEMU for a few ms does not make the interrupt arrive before the loop ran */
  li t2, 500000
  add t1, t1, t2
  li t0, CLINT_MTIMECMP
  sd t1, 0(t0)
  li t0, 1 << IRQ_M_TIMER
  csrs mie, t0
  csrsi mstatus, MSTATUS_MIE
  li s1, 0
  li s2, 100000000
1:
  addi s1, s1, 1
  ld t0, RT_COUNT(t5)
  bne t0, s4, 2f
  blt s1, s2, 1b
  j fail                            /* no interrupt within 10^8 iterations */
2:
  csrci mstatus, MSTATUS_MIE
  li t0, 1 << IRQ_M_TIMER
  csrc mie, t0
  sd zero, RT_IRQ_ACK(t5)
  li gp, 10
  li t6, 100
  bltu s1, t6, fail                 /* it ran a while in the loop first */

  mv ra, s0
  ret

  .balign 4096
code_a:
  li a0, 1
  ret
  .balign 4096
code_b:
  li a0, 2
  ret

  .data
  .balign 8
near_data_pad:
  .dword 0
  .text
  .balign 8
near_data:
  .dword 0
  .dword 0

  .bss
  .balign 4096
root: .skip 4096
pt1:  .skip 4096
pt0:  .skip 4096
