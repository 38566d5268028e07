/* Page-table helpers for the paging tests. */
#ifndef PAGING_H
#define PAGING_H
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define PTE_RWX_AD (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
#define SATP_SV39 (8 << 60)
#define SATP_SV48 (9 << 60)
#define SATP_SV57 (10 << 60)

/* table[idx] = leaf or pointer PTE for physical address in register `pa` (clobbers t0, t1) */
.macro PTE_SET table, idx, pa, flags
  la t0, \table
  srli t1, \pa, 12
  slli t1, t1, 10
  ori t1, t1, \flags
  sd t1, (\idx * 8)(t0)
.endm

/* same, with the physical address of a label */
.macro PTE_SET_L table, idx, label, flags
  la t2, \label
  PTE_SET \table, \idx, t2, \flags
.endm

/* same, with a constant physical address */
.macro PTE_SET_C table, idx, addr, flags
  li t2, \addr
  PTE_SET \table, \idx, t2, \flags
.endm

/* load the PTE table[idx] into reg */
.macro PTE_GET reg, table, idx
  la \reg, \table
  ld \reg, (\idx * 8)(\reg)
.endm

/* case n: `insn` faults with `cause` and tval = constant `tval` */
.macro TEST_FAULT n, cause, tval, insn:vararg
  TEST_TRAPS \n, \cause, \insn
  li t2, \tval
  CHECK_TRAP_FIELD \n, RT_TVAL, t2
.endm
#endif
