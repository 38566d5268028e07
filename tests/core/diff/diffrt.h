/* Runtime for the generated differential-test programs (gen.mjs). A program is a series of
   blocks; each block initialises registers and the data area, runs random code (maybe in
   S or U mode, maybe with Sv39 translation), returns to M and dumps its state over the
   UART. The M-mode trap handler logs (mcause, mepc, mtval) and skips the instruction. */
#define UART_BASE   0x10000000
#define SYSCON_BASE 0x100000
#define MAGIC_TO_M  0x5ca1ab1e0ddba115   /* a7 value: an ecall with it returns to M */
#define TRAP_MAX    64
#define ALIAS_VA    0x40000000           /* Sv39 4 KiB mappings of the data pages */

/* DUMP k: saves every register on the stack, then prints block k's state. sp (x2) and
   s11 (x27, the data base) are never written by generated code. */
.macro DUMP k
  addi sp, sp, -528
  sd x1, 8(sp)
  sd x3, 24(sp)
  sd x4, 32(sp)
  sd x5, 40(sp)
  sd x6, 48(sp)
  sd x7, 56(sp)
  sd x8, 64(sp)
  sd x9, 72(sp)
  sd x10, 80(sp)
  sd x11, 88(sp)
  sd x12, 96(sp)
  sd x13, 104(sp)
  sd x14, 112(sp)
  sd x15, 120(sp)
  sd x16, 128(sp)
  sd x17, 136(sp)
  sd x18, 144(sp)
  sd x19, 152(sp)
  sd x20, 160(sp)
  sd x21, 168(sp)
  sd x22, 176(sp)
  sd x23, 184(sp)
  sd x24, 192(sp)
  sd x25, 200(sp)
  sd x26, 208(sp)
  sd x27, 216(sp)
  sd x28, 224(sp)
  sd x29, 232(sp)
  sd x30, 240(sp)
  sd x31, 248(sp)
  fsd f0, 256(sp)
  fsd f1, 264(sp)
  fsd f2, 272(sp)
  fsd f3, 280(sp)
  fsd f4, 288(sp)
  fsd f5, 296(sp)
  fsd f6, 304(sp)
  fsd f7, 312(sp)
  fsd f8, 320(sp)
  fsd f9, 328(sp)
  fsd f10, 336(sp)
  fsd f11, 344(sp)
  fsd f12, 352(sp)
  fsd f13, 360(sp)
  fsd f14, 368(sp)
  fsd f15, 376(sp)
  fsd f16, 384(sp)
  fsd f17, 392(sp)
  fsd f18, 400(sp)
  fsd f19, 408(sp)
  fsd f20, 416(sp)
  fsd f21, 424(sp)
  fsd f22, 432(sp)
  fsd f23, 440(sp)
  fsd f24, 448(sp)
  fsd f25, 456(sp)
  fsd f26, 464(sp)
  fsd f27, 472(sp)
  fsd f28, 480(sp)
  fsd f29, 488(sp)
  fsd f30, 496(sp)
  fsd f31, 504(sp)
  frcsr x1
  sd x1, 512(sp)
  sd zero, 0(sp)
  sd zero, 16(sp)
  li a0, \k
  mv a1, sp
  call dump_state
  addi sp, sp, 528
.endm

/* From S/U: back to M at the next instruction. */
.macro TO_M
  li a7, MAGIC_TO_M
  ecall
.endm
