// Reads the guest RAM size a saved engine state really holds, cheaply (no RAM is decoded), so a
// caller can check it against the VM's memory and its budget BEFORE loading the state. The
// engines check it again themselves when they load (a state whose size differs from the VM's
// memoryMiB is refused).
import type { EngineKind } from './engine.js';
import { BadStateError } from './create.js';
import { peekState, StateFormatError } from './rv64/state-codec.js';
import { splitV86State } from './v86/v86-disk-state.js';

/** Magic of an rv64 engine state (rv64/engine.ts): "TVRV64\0\1", then the encoded fields. */
const RV64_MAGIC = new TextEncoder().encode('TVRV64\x00\x01');
/** v86's save_state() header: i32 magic, i32 version 6, i32 total length, i32 info block length. */
const V86_MAGIC = -2039052682;
const V86_VERSION = 6;
/** zstd frame magic: v86 can read compressed states, which this project never writes. */
const ZSTD_MAGIC = 0xfd2fb528;
/** v86's info block is JSON describing devices (a few hundred KiB at most); larger is hostile. */
const V86_MAX_INFO_BYTES = 16 * 1024 * 1024;

/**
 * Guest RAM in bytes that `state` (an Engine.saveState() result of `engine`) carries. Throws
 * BadStateError (one line) when the state is not one of that engine's, or its size is unreadable.
 */
export function stateMemoryBytes(engine: EngineKind, state: Uint8Array): number {
  if (engine === 'rv64') return rv64StateMemoryBytes(state);
  if (engine === 'v86') {
    // A v86 state may carry its disk after v86's own bytes (v86-disk-state.ts).
    let v86: Uint8Array;
    try {
      v86 = splitV86State(state).v86;
    } catch (e) {
      throw new BadStateError(`the v86 state does not load: ${e instanceof Error ? e.message : String(e)}`);
    }
    return v86StateInfo(v86).memoryBytes;
  }
  throw new BadStateError(`unknown engine '${String(engine)}'`);
}

export function rv64StateMemoryBytes(state: Uint8Array): number {
  if (state.length < RV64_MAGIC.length || !RV64_MAGIC.every((b, i) => state[i] === b)) {
    throw new BadStateError('the saved state is not an rv64 machine state');
  }
  let v;
  try {
    v = peekState(state.subarray(RV64_MAGIC.length), ['config', 'memoryBytes']);
  } catch (e) {
    throw new BadStateError(e instanceof StateFormatError ? e.message : String(e));
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v % 4096 !== 0) {
    throw new BadStateError('the rv64 state has no valid memory size');
  }
  return v;
}

export interface V86StateInfo {
  memoryBytes: number;
  /** The parsed info block: { buffer_infos: [{offset, length}], state: [...] }. */
  info: { buffer_infos: { offset: number; length: number }[]; state: unknown[] };
}

/**
 * Checks the frame of a v86 state as v86's restore_state reads it (header, info block, buffer
 * ranges) and returns its memory size (cpu state field 0). Compressed (zstd) states are refused:
 * their real size is only known after decompressing them.
 */
export function v86StateInfo(state: Uint8Array): V86StateInfo {
  if (state.length < 16) throw new BadStateError(`the v86 state is truncated (${state.length} bytes)`);
  const dv = new DataView(state.buffer, state.byteOffset, state.byteLength);
  if (dv.getUint32(0, true) === ZSTD_MAGIC) throw new BadStateError('compressed (zstd) v86 states are not supported');
  if (dv.getInt32(0, true) !== V86_MAGIC) throw new BadStateError('the saved state is not a v86 state');
  if (dv.getInt32(4, true) !== V86_VERSION) throw new BadStateError(`v86 state version ${dv.getInt32(4, true)} is not supported (this build reads ${V86_VERSION})`);
  if (dv.getInt32(8, true) !== state.length) throw new BadStateError(`the v86 state is ${state.length} bytes but says ${dv.getInt32(8, true)}`);
  const infoLength = dv.getInt32(12, true);
  if (infoLength <= 0 || infoLength > V86_MAX_INFO_BYTES || 16 + infoLength > state.length) {
    throw new BadStateError('the v86 state has a bad info block length');
  }
  let info: V86StateInfo['info'];
  try {
    info = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(state.subarray(16, 16 + infoLength))) as V86StateInfo['info'];
  } catch {
    throw new BadStateError('the v86 state info block is not JSON');
  }
  if (typeof info !== 'object' || info === null || !Array.isArray(info.buffer_infos) || !Array.isArray(info.state)) {
    throw new BadStateError('the v86 state info block is malformed');
  }
  const base = (16 + infoLength + 3) & ~3;
  for (const b of info.buffer_infos) {
    if (typeof b !== 'object' || b === null || !Number.isSafeInteger(b.offset) || !Number.isSafeInteger(b.length) ||
        b.offset < 0 || b.length < 0 || base + b.offset + b.length > state.length) {
      throw new BadStateError('the v86 state has a buffer outside the file');
    }
  }
  const memoryBytes = info.state[0];
  if (typeof memoryBytes !== 'number' || !Number.isSafeInteger(memoryBytes) || memoryBytes <= 0) {
    throw new BadStateError('the v86 state has no valid memory size');
  }
  return { memoryBytes, info };
}

/** JSON kind of a value, for comparing the shape of two v86 states. */
function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Where `state` differs in shape from `reference` (both v86 info-block `state` trees): the path of
 * the first value of another JSON kind, another array length or another set of keys, down to
 * `depth` levels; undefined when they agree. Two states of one v86 build and machine
 * configuration always agree; v86 itself would take many mismatches silently.
 */
export function v86ShapeMismatch(state: unknown, reference: unknown, depth = 3, path = 'state'): string | undefined {
  const k = kindOf(state);
  if (k !== kindOf(reference)) return path;
  if (depth === 0) return undefined;
  if (k === 'array') {
    const a = state as unknown[];
    const b = reference as unknown[];
    if (a.length !== b.length) return `${path}.length`;
    for (let i = 0; i < a.length; i++) {
      const m = v86ShapeMismatch(a[i], b[i], depth - 1, `${path}[${i}]`);
      if (m) return m;
    }
  } else if (k === 'object') {
    const a = state as Record<string, unknown>;
    const b = reference as Record<string, unknown>;
    const keys = Object.keys(b);
    if (Object.keys(a).length !== keys.length) return `${path} (keys)`;
    for (const key of keys) {
      if (!(key in a)) return `${path}.${key}`;
      // Typed arrays are saved as {__state_type__, buffer_id}: their lengths come from buffer_infos.
      const m = v86ShapeMismatch(a[key], b[key], depth - 1, `${path}.${key}`);
      if (m) return m;
    }
  }
  return undefined;
}
