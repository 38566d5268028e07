// The core's side of instructions compiled code calls instead of inlining (docs/JIT.md):
// generated/jitcalls.ts wraps each such instruction's op in jitCallEnter/jitCallLeave.
// Status word (JIT_STATUS) after a call: 0 the region goes on with the next instruction,
// 1 it must leave with the returned pc (the instruction trapped, jumped, asked for an
// interrupt check, invalidated compiled code, or changed the translation context).
import { pc, icount, stopAt, untaken, fetchPage } from '../state';
import { tlbLoad, tlbStore } from '../mmu';
import { JIT_STATUS, jitInvalidated } from './cache';

let untaken0: u64 = 0;
let fetchPage0: u64 = 0;
let tlbLoad0: u32 = 0;
let tlbStore0: u32 = 0;

/** Calls executed from compiled code (a counter for docs/JIT.md). */
export let jitCalls: u64 = 0;

/** Before the op: the globals the interpreter would have (pc of the instruction, icount counting it). */
// @ts-ignore: decorator
@inline export function jitCallEnter(p: u64, ic: u64): void {
  pc = p;
  icount = ic;
  jitInvalidated = false;
  untaken0 = untaken;
  fetchPage0 = fetchPage;
  tlbLoad0 = tlbLoad;
  tlbStore0 = tlbStore;
  jitCalls++;
}

/** After the op (pc = its next pc): may the compiled code go on at `expected`? Returns pc. */
// @ts-ignore: decorator
@inline export function jitCallLeave(expected: u64): u64 {
  const stop = pc != expected || untaken != untaken0 || icount >= stopAt || jitInvalidated ||
    fetchPage != fetchPage0 || tlbLoad != tlbLoad0 || tlbStore != tlbStore0;
  store<u32>(JIT_STATUS, stop ? 1 : 0);
  return pc;
}
