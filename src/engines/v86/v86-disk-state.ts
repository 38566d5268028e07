// A v86 machine state with its hard disk: v86's own state keeps only the IDE registers, so the
// engine appends the disk's contents (and, for a persistent disk, its generation) after it. A
// state without this trailer is v86's alone, as before.
//
// Layout: v86 state, disk bytes, generation (UTF-8), then a 40-byte tail: magic "TVV86DSK",
// u32 version 1, u32 generation length, u64 v86 state length, u64 disk length, u32 CRC-32 of the
// tail's first 32 bytes, u32 zero. Little-endian.

import { crc32 } from '../../snapshot/format.js';

const MAGIC = new TextEncoder().encode('TVV86DSK');
const TAIL_BYTES = 40;

export interface SplitV86State {
  v86: Uint8Array;
  disk?: { bytes: Uint8Array; generation?: string };
}

export function joinV86State(v86: Uint8Array, disk: Uint8Array, generation: string | undefined): Uint8Array {
  const gen = new TextEncoder().encode(generation ?? '');
  const out = new Uint8Array(v86.length + disk.length + gen.length + TAIL_BYTES);
  out.set(v86, 0);
  out.set(disk, v86.length);
  out.set(gen, v86.length + disk.length);
  const tail = out.subarray(out.length - TAIL_BYTES);
  const v = new DataView(tail.buffer, tail.byteOffset, TAIL_BYTES);
  tail.set(MAGIC, 0);
  v.setUint32(8, 1, true);
  v.setUint32(12, gen.length, true);
  v.setBigUint64(16, BigInt(v86.length), true);
  v.setBigUint64(24, BigInt(disk.length), true);
  v.setUint32(32, crc32(tail.subarray(0, 32)), true);
  return out;
}

/** Splits off the disk trailer; a state without one is returned whole. Throws on a damaged trailer. */
export function splitV86State(state: Uint8Array): SplitV86State {
  if (state.length < TAIL_BYTES) return { v86: state };
  const tail = state.subarray(state.length - TAIL_BYTES);
  if (!MAGIC.every((b, i) => tail[i] === b)) return { v86: state };
  const v = new DataView(tail.buffer, tail.byteOffset, TAIL_BYTES);
  if (v.getUint32(32, true) !== crc32(tail.subarray(0, 32)) || v.getUint32(8, true) !== 1) throw new Error('the disk part of the state is damaged');
  const genLength = v.getUint32(12, true);
  const v86Length = Number(v.getBigUint64(16, true));
  const diskLength = Number(v.getBigUint64(24, true));
  if (v86Length + diskLength + genLength + TAIL_BYTES !== state.length) throw new Error('the disk part of the state has the wrong size');
  const gen = new TextDecoder().decode(state.subarray(v86Length + diskLength, v86Length + diskLength + genLength));
  return {
    v86: state.subarray(0, v86Length),
    disk: { bytes: state.subarray(v86Length, v86Length + diskLength), ...(gen ? { generation: gen } : {}) },
  };
}
