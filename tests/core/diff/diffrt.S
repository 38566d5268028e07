/* Start-up, trap handler and state dump for generated differential tests (see diffrt.h). */
#include "diffrt.h"

  .section .text.init
  .globl _start
_start:
  la sp, _stack_top
  la t0, trap_entry
  csrw mtvec, t0
  csrw mie, zero
  csrw medeleg, zero
  csrw mideleg, zero
  /* PMP open for S/U, if PMP exists (skip on trap) */
  la t0, 1f
  csrw mtvec, t0
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  .balign 4
1:
  la t0, trap_entry
  csrw mtvec, t0
  li t0, (1 << 13)              /* FS = Initial */
  csrs mstatus, t0
  la t0, s_trap_entry
  csrw stvec, t0
  call build_page_tables
  call diff_main
  la a0, msg_done
  call puts
  li t0, SYSCON_BASE
  li t1, 0x5555
  sw t1, 0(t0)
2:
  j 2b

  .text
/* putc(a0); clobbers t0, t1 */
putc:
  li t0, UART_BASE
1:
  lbu t1, 5(t0)
  andi t1, t1, 0x20
  beqz t1, 1b
  sb a0, 0(t0)
  ret

/* puts(a0); clobbers a0, t0-t3 */
puts:
  mv t3, ra
  mv t2, a0
1:
  lbu a0, 0(t2)
  beqz a0, 2f
  call putc
  addi t2, t2, 1
  j 1b
2:
  mv ra, t3
  ret

/* puthex(a0): 16 digits; clobbers a0, t0-t5 */
puthex:
  mv t5, ra
  mv t2, a0
  li t3, 60
1:
  srl a0, t2, t3
  andi a0, a0, 15
  addi a0, a0, '0'
  li t4, '9'
  ble a0, t4, 2f
  addi a0, a0, 'a' - '9' - 1
2:
  call putc
  addi t3, t3, -4
  bgez t3, 1b
  mv ra, t5
  ret

/* put_named(a0 = name string, a1 = value): "name value\n"; clobbers a0, a2, t0-t5 */
put_named:
  mv a2, ra
  call puts
  li a0, ' '
  call putc
  mv a0, a1
  call puthex
  li a0, '\n'
  call putc
  mv ra, a2
  ret

/* dump_state(a0 = block, a1 = saved registers: x[i] at 8*i, f[i] at 256+8*i, fcsr at 512) */
  .globl dump_state
dump_state:
  addi sp, sp, -64
  sd ra, 0(sp)
  sd s0, 8(sp)
  sd s1, 16(sp)
  sd s2, 24(sp)
  sd s3, 32(sp)
  mv s0, a1
  mv s1, a0
  li a0, 'B'
  call putc
  mv a0, s1
  call puthex
  li a0, '\n'
  call putc
  /* registers: names from reg_names, 8 bytes each */
  la s2, reg_names
  li s3, 1
1:
  slli t0, s3, 3
  add t0, t0, s0
  ld a1, 0(t0)
  slli a0, s3, 3
  add a0, a0, s2
  call put_named
  addi s3, s3, 1
  li t0, 65
  blt s3, t0, 1b
  /* skip x2 (sp) handled by name table: it prints the value 0 stored there */
  /* trap log */
  la s2, trap_log
  ld s3, 0(s2)
  la a0, name_traps
  mv a1, s3
  call put_named
  li t0, TRAP_MAX
  ble s3, t0, 2f
  mv s3, t0
2:
  addi s2, s2, 8
3:
  beqz s3, 4f
  la a0, name_cause
  ld a1, 0(s2)
  call put_named
  la a0, name_epc
  ld a1, 8(s2)
  call put_named
  la a0, name_tval
  ld a1, 16(s2)
  call put_named
  addi s2, s2, 24
  addi s3, s3, -1
  j 3b
4:
  la s2, trap_log
  sd zero, 0(s2)
  /* data area */
  la s2, data_area
  li s3, 0
5:
  add t0, s2, s3
  ld a1, 0(t0)
  la a0, name_mem
  call put_named
  addi s3, s3, 8
  li t0, DATA_SIZE
  blt s3, t0, 5b
  /* leaf PTEs of the alias mappings (A/D bits) */
  la s2, pt0
  li s3, 0
6:
  add t0, s2, s3
  ld a1, 0(t0)
  la a0, name_pte
  call put_named
  addi s3, s3, 8
  li t0, 24
  blt s3, t0, 6b
  ld ra, 0(sp)
  ld s0, 8(sp)
  ld s1, 16(sp)
  ld s2, 24(sp)
  ld s3, 32(sp)
  addi sp, sp, 64
  ret

/* Trap handler (M): log, then skip the instruction; an ecall with a7 = MAGIC_TO_M
   continues in M. Uses the stack (sp is the same in every mode). */
  .balign 4
trap_entry:
  addi sp, sp, -32
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  la t0, trap_log
  ld t1, 0(t0)
  addi t2, t1, 1
  sd t2, 0(t0)
  li t2, 1000
  bgeu t1, t2, trap_storm
  li t2, TRAP_MAX
  bgeu t1, t2, 1f
  li t2, 24
  mul t1, t1, t2
  add t0, t0, t1
  csrr t1, mcause
  sd t1, 8(t0)
  csrr t1, mepc
  sd t1, 16(t0)
  csrr t1, mtval
  csrr t2, mcause
  addi t2, t2, -3
  bnez t2, 2f
  li t1, 0                      /* ebreak: mtval may be 0 or the pc; log 0 */
2:
  sd t1, 24(t0)
1:
  csrr t1, mcause
  addi t2, t1, -8
  bltz t2, 3f
  addi t2, t1, -11
  bgtz t2, 3f
  li t2, MAGIC_TO_M
  bne a7, t2, 3f
  li t2, (3 << 11)
  csrs mstatus, t2
  li a7, 0
3:
  csrr t0, mepc
  lhu t1, 0(t0)
  andi t1, t1, 3
  li t2, 3
  addi t0, t0, 2
  bne t1, t2, 4f
  addi t0, t0, 2
4:
  csrw mepc, t0
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  addi sp, sp, 32
  mret
/* S-mode handler for delegated traps (medeleg set by a block): logs scause with bit 32
   set (to tell S-handled traps apart), sepc and stval (0 for ebreak), then skips. */
  .balign 4
  .globl s_trap_entry
s_trap_entry:
  addi sp, sp, -32
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  la t0, trap_log
  ld t1, 0(t0)
  addi t2, t1, 1
  sd t2, 0(t0)
  li t2, 1000
  bgeu t1, t2, s_storm
  li t2, TRAP_MAX
  bgeu t1, t2, 1f
  li t2, 24
  mul t1, t1, t2
  add t0, t0, t1
  csrr t1, scause
  li t2, 1
  slli t2, t2, 32
  or t1, t1, t2
  sd t1, 8(t0)
  csrr t1, sepc
  sd t1, 16(t0)
  csrr t1, stval
  csrr t2, scause
  addi t2, t2, -3
  bnez t2, 2f
  li t1, 0
2:
  sd t1, 24(t0)
1:
  csrr t0, sepc
  lhu t1, 0(t0)
  andi t1, t1, 3
  li t2, 3
  addi t0, t0, 2
  bne t1, t2, 4f
  addi t0, t0, 2
4:
  csrw sepc, t0
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  addi sp, sp, 32
  sret
s_storm:
  li a7, MAGIC_TO_M
  ecall
trap_storm:
  la a0, msg_storm
  call puts
  li t0, SYSCON_BASE
  li t1, 0x3333 | (2 << 16)
  sw t1, 0(t0)
1:
  j 1b

/* Sv39: root[0] MMIO gigapage, root[2] RAM gigapage (identity, RWX, A/D set);
   root[1] -> pt1[0] -> pt0: ALIAS_VA + 0 -> data page 0 (RW), + 0x1000 -> data page 1 (R),
   + 0x2000 unmapped. */
build_page_tables:
  la t0, root
  li t1, (0x00000000 >> 12 << 10) | 0xcf
  sd t1, 0(t0)
  li t1, (0x80000000 >> 12 << 10) | 0xcf
  sd t1, 16(t0)
  la t1, pt1
  srli t1, t1, 12
  slli t1, t1, 10
  ori t1, t1, 1
  sd t1, 8(t0)
  la t0, pt1
  la t1, pt0
  srli t1, t1, 12
  slli t1, t1, 10
  ori t1, t1, 1
  sd t1, 0(t0)
  ret

/* reset_alias_ptes: page 0 RW with A = D = 0, page 1 R with A = 1; flush the TLB */
  .globl reset_alias_ptes
reset_alias_ptes:
  la t0, pt0
  la t1, data_area
  srli t1, t1, 12
  slli t1, t1, 10
  ori t2, t1, 0x07
  sd t2, 0(t0)
  li t2, 1 << 10
  add t1, t1, t2
  ori t2, t1, 0x43
  sd t2, 8(t0)
  sd zero, 16(t0)
  sfence.vma
  ret

/* copy_data(a0 = DATA_SIZE bytes of initial contents); clobbers t0-t2 */
  .globl copy_data
copy_data:
  la t0, data_area
  li t1, DATA_SIZE
1:
  ld t2, 0(a0)
  sd t2, 0(t0)
  addi a0, a0, 8
  addi t0, t0, 8
  addi t1, t1, -8
  bnez t1, 1b
  ret

/* satp value for Sv39 with our root */
  .globl satp_sv39
satp_sv39:
  la a0, root
  srli a0, a0, 12
  li t0, 8 << 60
  or a0, a0, t0
  ret

/* satp value for Sv48: root48[0] points to the Sv39 root, which then acts as the level-2
   table of the same mappings */
  .globl satp_sv48
satp_sv48:
  la a0, root48
  la t0, root
  srli t0, t0, 12
  slli t0, t0, 10
  ori t0, t0, 1
  sd t0, 0(a0)
  srli a0, a0, 12
  li t0, 9 << 60
  or a0, a0, t0
  ret

  .section .rodata
msg_done: .asciz "DONE\n"
msg_storm: .asciz "trap storm\n"
  .balign 8
reg_names:
  .ascii "x0\0\0\0\0\0\0", "ra\0\0\0\0\0\0", "sp\0\0\0\0\0\0", "gp\0\0\0\0\0\0"
  .ascii "tp\0\0\0\0\0\0", "t0\0\0\0\0\0\0", "t1\0\0\0\0\0\0", "t2\0\0\0\0\0\0"
  .ascii "s0\0\0\0\0\0\0", "s1\0\0\0\0\0\0", "a0\0\0\0\0\0\0", "a1\0\0\0\0\0\0"
  .ascii "a2\0\0\0\0\0\0", "a3\0\0\0\0\0\0", "a4\0\0\0\0\0\0", "a5\0\0\0\0\0\0"
  .ascii "a6\0\0\0\0\0\0", "a7\0\0\0\0\0\0", "s2\0\0\0\0\0\0", "s3\0\0\0\0\0\0"
  .ascii "s4\0\0\0\0\0\0", "s5\0\0\0\0\0\0", "s6\0\0\0\0\0\0", "s7\0\0\0\0\0\0"
  .ascii "s8\0\0\0\0\0\0", "s9\0\0\0\0\0\0", "s10\0\0\0\0\0", "s11\0\0\0\0\0"
  .ascii "t3\0\0\0\0\0\0", "t4\0\0\0\0\0\0", "t5\0\0\0\0\0\0", "t6\0\0\0\0\0\0"
  .ascii "f0\0\0\0\0\0\0", "f1\0\0\0\0\0\0", "f2\0\0\0\0\0\0", "f3\0\0\0\0\0\0"
  .ascii "f4\0\0\0\0\0\0", "f5\0\0\0\0\0\0", "f6\0\0\0\0\0\0", "f7\0\0\0\0\0\0"
  .ascii "f8\0\0\0\0\0\0", "f9\0\0\0\0\0\0", "f10\0\0\0\0\0", "f11\0\0\0\0\0"
  .ascii "f12\0\0\0\0\0", "f13\0\0\0\0\0", "f14\0\0\0\0\0", "f15\0\0\0\0\0"
  .ascii "f16\0\0\0\0\0", "f17\0\0\0\0\0", "f18\0\0\0\0\0", "f19\0\0\0\0\0"
  .ascii "f20\0\0\0\0\0", "f21\0\0\0\0\0", "f22\0\0\0\0\0", "f23\0\0\0\0\0"
  .ascii "f24\0\0\0\0\0", "f25\0\0\0\0\0", "f26\0\0\0\0\0", "f27\0\0\0\0\0"
  .ascii "f28\0\0\0\0\0", "f29\0\0\0\0\0", "f30\0\0\0\0\0", "f31\0\0\0\0\0"
  .ascii "fcsr\0\0\0\0"
name_traps: .asciz "traps"
name_cause: .asciz "cause"
name_epc: .asciz "epc"
name_tval: .asciz "tval"
name_mem: .asciz "mem"
name_pte: .asciz "pte"

  .data
  .balign 8
trap_log: .dword 0
  .space TRAP_MAX * 24

  .bss
  .balign 4096
root: .space 4096
root48: .space 4096
pt1: .space 4096
pt0: .space 4096
  /* the data area straddles a page boundary: DATA_SIZE/2 bytes on each side */
  .balign 4096
  .space 4096 - DATA_SIZE / 2
  .globl data_area
data_area:
  .space DATA_SIZE
  .balign 4096
