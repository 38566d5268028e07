// Fixed addresses in the core's linear memory (docs/CORE-ABI.md, "Memory layout").
// Everything the interpreter touches per instruction lives at a constant address,
// so a register read is one load from a constant base.

/** The exportable CPU+CSR+CLINT state block. */
export const STATE: u32 = 0x10000;
export const STATE_SIZE: u32 = 0x1000;
/** x0..x31, 8 bytes each. */
export const XREGS: u32 = STATE + 0x100;
/** f0..f31, raw 64-bit patterns (f32 values NaN-boxed). */
export const FREGS: u32 = STATE + 0x200;
/** CSR and misc fields, see state.ts saveState(). */
export const FIELDS: u32 = STATE + 0x300;

/**
 * Software TLBs: direct-mapped tables of TLB_ENTRIES x 16 bytes (tag, host addend), one per
 * access type (fetch, load, store) and per translation context (U, S, M), so a privilege
 * change switches tables instead of flushing them. Table (ctx, kind) is at
 * TLB_BASE + (ctx * 3 + kind) * TLB_TABLE_BYTES.
 */
export const TLB_ENTRIES: u32 = 256;
export const TLB_BITS: u32 = 8;
export const TLB_TABLE_BYTES: u32 = TLB_ENTRIES * 16;
export const TLB_BASE: u32 = 0x12000;

/** Dirty bitmap of guest-physical RAM pages: bit (page & 7) of byte (page >> 3). Up to 4 GiB of RAM. */
export const DIRTY: u32 = 0x20000;
export const DIRTY_MAX_BYTES: u32 = 0x20000;

/** Expansion of every 16-bit instruction (65536 x u32), built at init from the generated expander. */
export const CTABLE: u32 = 0x40000;
/** What an illegal compressed encoding expands to: custom-0 opcode with bits 1:0 = 01, decoded as illegal. */
export const C_ILLEGAL: u32 = 0x09;

/**
 * The interpreter's decode memo (assembly/interp.ts): MEMO_ENTRIES entries of 16 bytes
 * {u32 word as fetched, u32 instruction (compressed ones expanded), u32 id}, indexed by the
 * host address of the instruction (65 536 entries: 128 KiB of code, a kernel's and a shell's
 * hot paths together).
 */
export const MEMO: u32 = 0x100000;
export const MEMO_ENTRIES: u32 = 65536;
export const MEMO_BYTES: u32 = MEMO_ENTRIES * 16;

/** Guest RAM (guest physical RAM_BASE) starts here in linear memory. */
export const RAM_HOST: u32 = 0x200000;
export const RAM_BASE: u64 = 0x80000000;
/** Bytes kept readable after RAM so a 4-byte fetch at the last halfword stays in bounds. */
export const RAM_PAD: u32 = 16;

export const CLINT_BASE: u64 = 0x2000000;
export const CLINT_SIZE: u64 = 0x10000;
