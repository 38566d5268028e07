// CLINT (msip, mtimecmp, mtime) inside the core: the time CSR and the timer interrupt are hot.
// mtime ticks at 10 MHz from the host clock, or deterministically from instructions retired.
import {
  icount, mtimeOffset, timeDeterministic, insnsPerTick, mtimecmp, msip, requestCheck,
} from './state';

@external("env", "hostNowMs")
declare function hostNowMs(): f64;

/** Timebase: 10 MHz like QEMU's virt board, i.e. 10^4 ticks per millisecond. */
export const TICKS_PER_MS: f64 = 10000.0;

// @ts-ignore: decorator
@inline function clock(): i64 {
  if (timeDeterministic) return <i64>(icount / insnsPerTick);
  return <i64>(hostNowMs() * TICKS_PER_MS);
}

export function mtimeNow(): u64 {
  return <u64>(clock() + mtimeOffset);
}

export function setMtime(v: u64): void {
  mtimeOffset = <i64>v - clock();
}

export function mtipLevel(): bool {
  return mtimeNow() >= mtimecmp;
}

/** Ticks until mtime reaches mtimecmp (0 if it has; u64 max if the timer is not armed). */
export function ticksToTimer(): u64 {
  if (mtimecmp == 0xffffffffffffffff) return 0xffffffffffffffff;
  const now = mtimeNow();
  return now >= mtimecmp ? 0 : mtimecmp - now;
}

export function clintRead(off: u32, size: u32): u64 {
  if (off < 4) return size >= 4 ? <u64>msip : (off == 0 ? <u64>(msip & 0xff) : 0);
  if (off >= 0x4000 && off < 0x4008) return extract(mtimecmp, off - 0x4000, size);
  if (off >= 0xbff8 && off < 0xc000) return extract(mtimeNow(), off - 0xbff8, size);
  return 0;
}

export function clintWrite(off: u32, size: u32, v: u64): void {
  if (off < 4) {
    if (off == 0) msip = <u32>(v & 1);
    requestCheck();
    return;
  }
  if (off >= 0x4000 && off < 0x4008) {
    mtimecmp = insert(mtimecmp, off - 0x4000, size, v);
    requestCheck();
    return;
  }
  if (off >= 0xbff8 && off < 0xc000) {
    setMtime(insert(mtimeNow(), off - 0xbff8, size, v));
    requestCheck();
  }
}

function extract(reg: u64, byteOff: u32, size: u32): u64 {
  const v = reg >> (<u64>byteOff << 3);
  return size >= 8 ? v : v & ((<u64>1 << (<u64>size << 3)) - 1);
}

function insert(reg: u64, byteOff: u32, size: u32, v: u64): u64 {
  if (size >= 8 && byteOff == 0) return v;
  const sh = <u64>byteOff << 3;
  const m = (size >= 8 ? 0xffffffffffffffff : ((<u64>1 << (<u64>size << 3)) - 1)) << sh;
  return (reg & ~m) | ((v << sh) & m);
}
