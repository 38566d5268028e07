/* Sv48 paging: four levels, with 4 KiB, 2 MiB, 1 GiB and 512 GiB leaves, misaligned
   1 GiB / 512 GiB leaves, a non-canonical address, A/D updates through four levels. */
#include "test.h"
#include "paging.h"

#define MEGA_PA 0x80600000
#define V4K   0x0000008040000000         /* l3[1] -> l2a; l2a[1] -> l1a; l1a[0] -> l0a */
#define V2M   0x0000008040200000         /* l1a[1]: 2 MiB leaf */
#define V1G   0x00000080C0000000         /* l2a[3]: 1 GiB leaf -> 0x80000000 */
#define V1G_BAD 0x0000008100000000       /* l2a[4]: misaligned 1 GiB leaf */
#define V512G 0x0000010000000000         /* l3[2]: 512 GiB leaf -> 0 */
#define V512G_BAD 0x0000018000000000     /* l3[3]: misaligned 512 GiB leaf */

  .text
  .globl test_main
test_main:
  mv s0, ra
  PTE_SET_L l3, 0, l2id, PTE_V                                  /* identity low 512 GiB */
  PTE_SET_C l2id, 0, 0x00000000, PTE_RWX_AD
  PTE_SET_C l2id, 2, 0x80000000, PTE_RWX_AD
  PTE_SET_L l3, 1, l2a, PTE_V
  PTE_SET_L l2a, 1, l1a, PTE_V
  PTE_SET_L l1a, 0, l0a, PTE_V
  PTE_SET_L l0a, 0, page_a, PTE_V | PTE_R | PTE_W               /* A = D = 0 */
  PTE_SET_L l0a, 1, page_b, PTE_V | PTE_R | PTE_A
  PTE_SET_C l1a, 1, MEGA_PA, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  PTE_SET_C l2a, 3, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  PTE_SET_C l2a, 4, 0x80200000, PTE_V | PTE_R | PTE_A
  PTE_SET_C l3, 2, 0x0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  PTE_SET_C l3, 3, 0x40000000, PTE_V | PTE_R | PTE_A            /* ppn[2] != 0 */

  la t0, page_a
  li t1, 0xaaaa
  sd t1, 0(t0)
  la t0, page_b
  li t1, 0xbbbb
  sd t1, 0(t0)
  li t0, MEGA_PA + 0x88
  li t1, 0x2222
  sd t1, 0(t0)

  li gp, 1
  la t0, l3
  srli t0, t0, 12
  li t1, SATP_SV48
  or s1, t0, t1
  csrw satp, s1
  csrr a0, satp
  li t6, 0xf0000fffffffffff
  and a0, a0, t6
  FAIL_UNLESS_EQ a0, s1
  sfence.vma
  GOTO_MODE PRV_S, in_s
in_s:
  li gp, 10
  li t1, V4K + 0x1000
  ld a0, 0(t1)
  li t6, 0xbbbb
  FAIL_UNLESS_EQ a0, t6
  TEST_FAULT 11, CAUSE_STORE_PAGE, V4K + 0x1000, sd a0, 0(t1)
  li t1, V4K + 0x2000
  TEST_FAULT 12, CAUSE_LOAD_PAGE, V4K + 0x2000, ld a0, 0(t1)      /* invalid l0 entry */
  li t1, V4K + 0x400000
  TEST_FAULT 13, CAUSE_LOAD_PAGE, V4K + 0x400000, ld a0, 0(t1)    /* invalid l1 entry */
  li gp, 14                          /* A then D set on the 4-level walk */
  li t1, V4K
  ld a0, 0(t1)
  li t6, 0xaaaa
  FAIL_UNLESS_EQ a0, t6
  PTE_GET a0, l0a, 0
  andi a0, a0, PTE_A | PTE_D
  li t6, PTE_A
  FAIL_UNLESS_EQ a0, t6
  li gp, 15
  li t1, V4K
  sd a0, 8(t1)
  PTE_GET a0, l0a, 0
  andi a0, a0, PTE_A | PTE_D
  li t6, PTE_A | PTE_D
  FAIL_UNLESS_EQ a0, t6
  li gp, 20                          /* 2 MiB */
  li t1, V2M + 0x88
  ld a0, 0(t1)
  li t6, 0x2222
  FAIL_UNLESS_EQ a0, t6
  li gp, 21                          /* 1 GiB: alias of RAM */
  la t2, page_b
  li t1, V1G - 0x80000000
  add t1, t1, t2
  ld a0, 0(t1)
  li t6, 0xbbbb
  FAIL_UNLESS_EQ a0, t6
  li t1, V1G_BAD + 8
  TEST_FAULT 22, CAUSE_LOAD_PAGE, V1G_BAD + 8, ld a0, 0(t1)
  li gp, 23                          /* 512 GiB: alias of physical 0.. */
  la t2, page_a
  li t1, V512G
  add t1, t1, t2
  ld a0, 0(t1)
  li t6, 0xaaaa
  FAIL_UNLESS_EQ a0, t6
  li t1, V512G_BAD
  TEST_FAULT 24, CAUSE_LOAD_PAGE, V512G_BAD, ld a0, 0(t1)
  /* bits 63:48 must equal bit 47 */
  li t1, 0x0000800000000000
  TEST_FAULT 25, CAUSE_LOAD_PAGE, 0x0000800000000000, ld a0, 0(t1)
  li t1, 0xffff000000000000
  TEST_FAULT 26, CAUSE_LOAD_PAGE, 0xffff000000000000, ld a0, 0(t1)
  /* an address valid in Sv48 but not Sv39 works here */
  li gp, 27
  li t1, V4K + 0x1000
  lw a0, 0(t1)
  li t6, 0xbbbb
  FAIL_UNLESS_EQ a0, t6
  ECALL_TO_M in_m
in_m:
  csrw satp, zero
  sfence.vma
  mv ra, s0
  ret

  .bss
  .balign 4096
l3: .space 4096
l2id: .space 4096
l2a: .space 4096
l1a: .space 4096
l0a: .space 4096
page_a: .space 4096
page_b: .space 4096
