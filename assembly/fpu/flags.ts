// Accrued exception flags and rounding-mode numbers shared by the FPU files.
// The hart moves fpFlags into fcsr.fflags after each F/D instruction (unpriv spec, 11.2).

/** Accumulated flags; every operation ORs into it. */
export let fpFlags: u32 = 0;

export const NV: u32 = 16; // invalid operation
export const DZ: u32 = 8; // divide by zero
export const OF: u32 = 4; // overflow
export const UF: u32 = 2; // underflow (tiny after rounding and inexact)
export const NX: u32 = 1; // inexact

export const RNE: u32 = 0;
export const RTZ: u32 = 1;
export const RDN: u32 = 2;
export const RUP: u32 = 3;
export const RMM: u32 = 4;
