/* jit_regions.S with case 3 storing into another block of the running region without
   fence.i: our core only (the interpreter sees the store at the next fetch; the JIT must too). */
#define SMC_NO_FENCE
#include "jit_regions.S"
