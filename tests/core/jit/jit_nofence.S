/* jit_cases.S with case 1 storing into the running block without fence.i: our core only
   (the interpreter sees the store at the next fetch; the JIT must too). */
#define SMC_NO_FENCE
#include "jit_cases.S"
