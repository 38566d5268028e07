// Semantics of every instruction, one op_<mnemonic>(insn) each; generated/dispatch.ts calls them.
export * from './int';
export * from './amo';
export * from './system';
export * from './fp';
