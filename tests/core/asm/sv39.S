/* Sv39 paging: 4 KiB, 2 MiB and 1 GiB leaves, a misaligned superpage, hardware-set A/D
   bits, permission faults with exact tval (R/W/X, U pages vs S with SUM, S never executing
   U pages, MXR for execute-only pages, an instruction straddling into an unmapped page),
   MPRV, sfence.vma after a PTE change, and satp WARL for unsupported modes. */
#include "test.h"
#include "paging.h"

#define VBASE 0x40000000            /* root[1]: L1 table pt1 */
#define VMEGA 0x40200000            /* pt1[1]: 2 MiB leaf -> mega_pa */
#define VMEGA_BAD 0x40400000        /* pt1[2]: misaligned 2 MiB leaf */
#define VGIGA 0xC0000000            /* root[3]: 1 GiB leaf -> 0x80000000 (U, for user code) */
#define VGIGA_BAD 0x100000000       /* root[4]: misaligned 1 GiB leaf */
#define MEGA_PA 0x80600000          /* 2 MiB-aligned RAM, above this program */

  .text
  .globl test_main
test_main:
  mv s0, ra
  /* root: identity gigapages for MMIO (0) and RAM (2), both S-only RWX */
  PTE_SET_C root, 0, 0x00000000, PTE_RWX_AD
  PTE_SET_C root, 2, 0x80000000, PTE_RWX_AD | PTE_G
  PTE_SET_L root, 1, pt1, PTE_V
  PTE_SET_C root, 3, 0x80000000, PTE_RWX_AD | PTE_U
  PTE_SET_C root, 4, 0x80200000, PTE_RWX_AD            /* ppn[1] != 0: misaligned */
  PTE_SET_L pt1, 0, pt0, PTE_V
  PTE_SET_C pt1, 1, MEGA_PA, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  PTE_SET_C pt1, 2, MEGA_PA + 0x1000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D   /* ppn[0] != 0 */
  PTE_SET_L pt0, 0, page_a, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  PTE_SET_L pt0, 1, page_b, PTE_V | PTE_R | PTE_A
  PTE_SET_L pt0, 2, page_c, PTE_V | PTE_R | PTE_W          /* A = D = 0 */
  PTE_SET_L pt0, 3, page_d, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
  PTE_SET_L pt0, 4, page_e, PTE_V | PTE_X | PTE_A          /* execute-only */
  /* pt0[5] stays invalid */
  PTE_SET_L pt0, 6, xpage, PTE_V | PTE_X | PTE_A
  /* pt0[7] stays invalid: the page after the code page */
  PTE_SET_L pt0, 8, xpage, PTE_V | PTE_X | PTE_U | PTE_A   /* user code */
  PTE_SET_L pt0, 9, page_a, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  PTE_SET_L pt0, 10, page_a, PTE_V | PTE_W | PTE_A | PTE_D /* W without R: reserved */

  la t0, page_a
  li t1, 0xaaaa0000
  sd t1, 0(t0)
  la t0, page_b
  li t1, 0xbbbb0000
  sd t1, 0(t0)
  la t0, page_c
  li t1, 0xcccc0000
  sd t1, 0(t0)
  la t0, page_d
  li t1, 0xdddd0000
  sd t1, 0(t0)
  la t0, page_e
  li t1, 0xeeee0000
  sd t1, 0(t0)
  li t0, MEGA_PA + 0x1234
  li t1, 0x12341234
  sd t1, 0(t0)

  /* satp WARL: reserved / unsupported modes leave satp unchanged */
  csrw satp, zero
  li gp, 1
  li t0, (5 << 60) | 0x1234
  csrw satp, t0
  csrr a0, satp
  FAIL_UNLESS_EQ a0, zero
  li gp, 2
  li t0, (15 << 60) | 0x1234
  csrw satp, t0
  csrr a0, satp
  FAIL_UNLESS_EQ a0, zero
  li gp, 3
  la t0, root
  srli t0, t0, 12
  li t1, SATP_SV57
  or t0, t0, t1
  csrw satp, t0
  csrr a0, satp
  beqz a0, 1f
  FAIL_UNLESS_EQ a0, t0
  DEVIATION "satp accepted Sv57, fine for QEMU but Tabvisor implements up to Sv48 so it must stay unchanged"
  csrw satp, zero
1:
  li gp, 4                         /* Sv39 is accepted, with the ASID field WARL */
  la t0, root
  srli t0, t0, 12
  li t1, SATP_SV39
  or s1, t0, t1
  csrw satp, s1
  csrr a0, satp
  li t6, 0xf0000fffffffffff
  and a0, a0, t6
  FAIL_UNLESS_EQ a0, s1
  sfence.vma

  /* MPRV: M-mode loads translated with MPP = S */
  li gp, 5
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t0
  /* MPRV honours MXR: an execute-only page is readable with MXR = 1 (no trap here: a
     trap's mret would leave MPP = U, see below) */
  li t2, VBASE + 0x4000
  li t0, MSTATUS_MXR
  csrs mstatus, t0
  li gp, 90
  ld a0, 0(t2)
  li t0, MSTATUS_MXR
  csrc mstatus, t0
  li t6, 0xeeee0000
  FAIL_UNLESS_EQ a0, t6
  li gp, 5
  li t1, VBASE
  ld a0, 0(t1)
  li t6, 0xaaaa0000
  FAIL_UNLESS_EQ a0, t6
  /* a trap's mret leaves MPP = U: MPRV accesses are then U accesses, and VBASE is an
     S page, so the same load faults (QEMU 7.2 keeps a stale translation). Nothing may
     touch memory between that mret and the load. */
  EXPECT_TRAP 2f
  li a7, RT_GOTO_M
  la a6, 1f
  ecall
1:
  csrr s2, mstatus
  ld a0, 0(t1)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  la t5, rt_data
  sd zero, RT_RESUME(t5)
  DEVIATION "after mret set MPP to U, an MPRV load still used the S translation, TLB not flushed"
  j 3f
2:
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  CHECK_TRAP 7, CAUSE_LOAD_PAGE
  li t2, VBASE
  CHECK_TRAP_FIELD 8, RT_TVAL, t2
3:
  li gp, 6
  li t6, MSTATUS_MPP
  and s2, s2, t6
  FAIL_UNLESS_EQ s2, zero
3:
  li t0, MSTATUS_MPRV
  csrc mstatus, t0

  GOTO_MODE PRV_S, in_s
in_s:
  /* 4 KiB pages */
  li gp, 10
  li t1, VBASE
  ld a0, 0(t1)
  li t6, 0xaaaa0000
  FAIL_UNLESS_EQ a0, t6
  li gp, 11
  li a1, 0x1111
  sd a1, 8(t1)
  la t2, page_a
  ld a0, 8(t2)                    /* identity view sees it */
  FAIL_UNLESS_EQ a0, a1
  li gp, 12
  li t1, VBASE + 0x1000
  ld a0, 0(t1)
  li t6, 0xbbbb0000
  FAIL_UNLESS_EQ a0, t6
  li t1, VBASE + 0x1008
  TEST_FAULT 13, CAUSE_STORE_PAGE, VBASE + 0x1008, sd a0, 0(t1)
  li t1, VBASE + 0x5000             /* invalid PTE */
  TEST_FAULT 15, CAUSE_LOAD_PAGE, VBASE + 0x5010, ld a0, 0x10(t1)
  li t1, VBASE + 0x5ff8
  TEST_FAULT 16, CAUSE_STORE_PAGE, VBASE + 0x5ff8, sd a0, 0(t1)
  li t1, VBASE + 0xa000             /* W without R: reserved encoding */
  TEST_FAULT 17, CAUSE_LOAD_PAGE, VBASE + 0xa000, lw a0, 0(t1)
  TEST_FAULT 18, CAUSE_STORE_PAGE, VBASE + 0xa008, sw a0, 8(t1)
  /* A/D bits set by hardware */
  li gp, 20
  PTE_GET a0, pt0, 2
  andi a0, a0, PTE_A | PTE_D
  FAIL_UNLESS_EQ a0, zero
  li gp, 21
  li t1, VBASE + 0x2000
  ld a0, 0(t1)
  li t6, 0xcccc0000
  FAIL_UNLESS_EQ a0, t6
  PTE_GET a0, pt0, 2
  andi a0, a0, PTE_A | PTE_D
  li t6, PTE_A
  FAIL_UNLESS_EQ a0, t6
  li gp, 22
  li t1, VBASE + 0x2000
  sd zero, 16(t1)
  PTE_GET a0, pt0, 2
  andi a0, a0, PTE_A | PTE_D
  li t6, PTE_A | PTE_D
  FAIL_UNLESS_EQ a0, t6
  /* U page from S: faults unless SUM */
  li t1, VBASE + 0x3000
  TEST_FAULT 30, CAUSE_LOAD_PAGE, VBASE + 0x3000, ld a0, 0(t1)
  TEST_FAULT 31, CAUSE_STORE_PAGE, VBASE + 0x3004, sw a0, 4(t1)
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  li gp, 32
  ld a0, 0(t1)
  li t6, 0xdddd0000
  FAIL_UNLESS_EQ a0, t6
  /* S never executes a U page, even with SUM */
  li t1, VBASE + 0x8000
  EXPECT_TRAP 1f
  jalr t1
1:
  CHECK_TRAP 33, CAUSE_FETCH_PAGE
  li t2, VBASE + 0x8000
  CHECK_TRAP_FIELD 34, RT_TVAL, t2
  CHECK_TRAP_FIELD 35, RT_EPC, t2
  li t0, MSTATUS_SUM
  csrc sstatus, t0
  /* clearing SUM takes effect at once (no sfence.vma), even with the translation cached */
  li t1, VBASE + 0x3000
  TEST_FAULT 36, CAUSE_LOAD_PAGE, VBASE + 0x3000, ld a0, 0(t1)
  /* execute-only page: load faults unless MXR */
  li t1, VBASE + 0x4000
  TEST_FAULT 40, CAUSE_LOAD_PAGE, VBASE + 0x4000, ld a0, 0(t1)
  li t0, MSTATUS_MXR
  csrs sstatus, t0
  li gp, 41
  ld a0, 0(t1)
  li t6, 0xeeee0000
  FAIL_UNLESS_EQ a0, t6
  TEST_FAULT 42, CAUSE_STORE_PAGE, VBASE + 0x4000, sd a0, 0(t1)  /* MXR does not grant W */
  li t0, MSTATUS_MXR
  csrc sstatus, t0
  TEST_FAULT 39, CAUSE_LOAD_PAGE, VBASE + 0x4000, ld a0, 0(t1)    /* and clearing it is immediate */
  /* code on an X page runs; not readable */
  li gp, 43
  li t1, VBASE + 0x6000
  jalr t1
  li t6, 0x77
  FAIL_UNLESS_EQ a0, t6
  TEST_FAULT 44, CAUSE_LOAD_PAGE, VBASE + 0x6000, ld a0, 0(t1)
  /* a 4-byte instruction at the last 2 bytes of the page: the fetch of its second half
     faults; epc = instruction start, tval = the start of the unmapped page */
  li t1, VBASE + 0x6ffe
  EXPECT_TRAP 1f
  jalr t1
1:
  CHECK_TRAP 45, CAUSE_FETCH_PAGE
  li t2, VBASE + 0x6ffe
  CHECK_TRAP_FIELD 46, RT_EPC, t2
  li t2, VBASE + 0x7000
  CHECK_TRAP_FIELD 47, RT_TVAL, t2
  /* a misaligned load crossing into an invalid page: tval points into the faulting page
     (priv 1.12: the portion of the access that faulted) or at the access itself */
  li t1, VBASE + 0x4ffc
  EXPECT_TRAP 1f
  ld a0, 0(t1)                       /* page 4 is X-only: the first half faults already */
1:
  CHECK_TRAP 48, CAUSE_LOAD_PAGE
  li t2, VBASE + 0x4ffc
  CHECK_TRAP_FIELD 49, RT_TVAL, t2
  li t1, VBASE + 0x1ffc               /* page 1 readable, page 2 readable: no fault */
  li gp, 50
  ld a0, 0(t1)
  li t1, VBASE + 0x0ffc               /* page 0 writable, page 1 read-only: store faults */
  EXPECT_TRAP 1f
  sd zero, 0(t1)
1:
  CHECK_TRAP 51, CAUSE_STORE_PAGE
  la t5, rt_data
  ld a0, RT_TVAL(t5)
  li t6, VBASE + 0x1000
  beq a0, t6, 2f
  li t6, VBASE + 0x0ffc
  li gp, 52
  FAIL_UNLESS_EQ a0, t6
  DEVIATION "page-crossing store faulting in its second page reported tval of the access start, not of the faulting page"
2:
  /* megapage */
  li gp, 60
  li t1, VMEGA + 0x1234
  ld a0, 0(t1)
  li t6, 0x12341234
  FAIL_UNLESS_EQ a0, t6
  li gp, 61
  li t1, VMEGA + 0x1ff000
  li a1, 0x5151
  sd a1, 0(t1)
  li t2, MEGA_PA + 0x1ff000
  ld a0, 0(t2)
  FAIL_UNLESS_EQ a0, a1
  li t1, VMEGA_BAD + 0x10
  TEST_FAULT 62, CAUSE_LOAD_PAGE, VMEGA_BAD + 0x10, ld a0, 0(t1)
  /* gigapage alias of RAM (U page: needs SUM from S) */
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  li gp, 63
  la t1, page_b
  li t2, VGIGA - 0x80000000
  add t1, t1, t2
  ld a0, 0(t1)
  li t6, 0xbbbb0000
  FAIL_UNLESS_EQ a0, t6
  li t0, MSTATUS_SUM
  csrc sstatus, t0
  li t1, VGIGA_BAD + 0x40
  TEST_FAULT 64, CAUSE_LOAD_PAGE, VGIGA_BAD + 0x40, ld a0, 0(t1)
  /* addresses that are not sign-extended from bit 38 fault */
  li t1, 0x0000008000000000
  TEST_FAULT 65, CAUSE_LOAD_PAGE, 0x0000008000000000, ld a0, 0(t1)
  /* sfence.vma makes a changed PTE visible */
  li gp, 70
  li t1, VBASE + 0x9000
  ld a0, 0(t1)
  la t2, page_a
  ld t6, 0(t2)
  FAIL_UNLESS_EQ a0, t6
  PTE_SET_L pt0, 9, page_b, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  li t1, VBASE + 0x9000
  sfence.vma t1, zero
  li gp, 71
  ld a0, 0(t1)
  li t6, 0xbbbb0000
  FAIL_UNLESS_EQ a0, t6
  /* downgrade RW -> R: after sfence.vma a store faults, a load still works */
  li gp, 73
  sd zero, 0(t1)                     /* writable now (and cached as writable) */
  PTE_SET_L pt0, 9, page_b, PTE_V | PTE_R | PTE_A | PTE_D
  li t1, VBASE + 0x9000
  sfence.vma
  TEST_FAULT 74, CAUSE_STORE_PAGE, VBASE + 0x9008, sd a0, 8(t1)
  li gp, 75
  ld a0, 0(t1)
  FAIL_UNLESS_EQ a0, zero
  la t2, page_b
  li t6, 0xbbbb0000
  sd t6, 0(t2)
  /* invalidate the PTE: the next access faults after sfence.vma (all) */
  la t0, pt0
  sd zero, 9 * 8(t0)
  sfence.vma
  TEST_FAULT 72, CAUSE_LOAD_PAGE, VBASE + 0x9000, ld a0, 0(t1)

  /* U mode: runs code through the U gigapage alias; S-only pages fault */
  ECALL_TO_M in_m
in_m:
  la t0, user_code
  li t1, VGIGA - 0x80000000
  add t0, t0, t1
  li t1, MSTATUS_MPP
  csrc mstatus, t1
  csrw mepc, t0
  mret
in_m2:
  csrw satp, zero
  sfence.vma
  mv ra, s0
  ret

  /* runs in U at the VGIGA alias */
user_code:
  li gp, 80
  li t1, VBASE + 0x3000
  ld a0, 0(t1)                       /* U page: fine */
  li t6, 0xdddd0000
  bne a0, t6, u_fail
  li gp, 81
  li t1, VBASE
  li a7, 0
  la t5, rt_data                     /* pc-relative: the VGIGA alias */
  la t6, 1f
  sd t6, RT_RESUME(t5)
  ld a0, 0(t1)                       /* S page from U: load page fault */
  j u_fail
1:
  ld a0, RT_CAUSE(t5)
  li t6, CAUSE_LOAD_PAGE
  bne a0, t6, u_fail
  ld a0, RT_TVAL(t5)
  bne a0, t1, u_fail
  li a7, RT_GOTO_M
  la a6, in_m2                       /* alias address; M runs untranslated */
  li t6, VGIGA - 0x80000000
  sub a6, a6, t6
  ecall
u_fail:
  li a7, RT_GOTO_M
  la a6, fail
  li t6, VGIGA - 0x80000000
  sub a6, a6, t6
  ecall

  .balign 4096
xpage:
  li a0, 0x77
  ret
  .skip 4096 - 2 - (. - xpage)
  .option push
  .option norvc
  .4byte 0x00000013                  /* straddles into the next page */
  .option pop

  .bss
  .balign 4096
root: .space 4096
pt1:  .space 4096
pt0:  .space 4096
page_a: .space 4096
page_b: .space 4096
page_c: .space 4096
page_d: .space 4096
page_e: .space 4096
