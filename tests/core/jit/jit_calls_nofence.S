/* jit_calls.S with case 21 storing into the running block (a called AMO) without fence.i: our
   core only (the interpreter sees the store at the next fetch; the JIT must too). */
#define SMC_NO_FENCE
#include "jit_calls.S"
