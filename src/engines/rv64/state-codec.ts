// A small self-describing binary encoding for machine state: named fields (objects), arrays, numbers,
// bigints, strings, booleans, null and byte arrays, so the state of every device (plain objects that
// may hold Uint8Arrays) goes in as it is, without base64, and a reader finds fields by name, not by
// position (STYLE.md, v86's lesson). Decoding checks every length against the input: a damaged or
// hostile state throws StateFormatError, never reads out of bounds.

export class StateFormatError extends Error {
  override name = 'StateFormatError';
}

export type StateValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | StateValue[]
  | { [key: string]: StateValue };

const T_NULL = 0;
const T_FALSE = 1;
const T_TRUE = 2;
const T_NUMBER = 3;
const T_STRING = 4;
const T_BIGINT = 5;
const T_BYTES = 6;
const T_ARRAY = 7;
const T_OBJECT = 8;
const MAX_DEPTH = 64;
/** Byte arrays at least this long decode as views into the input (see Reader.bytes). */
const SHARE_BYTES = 1 << 16;

class Writer {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private readonly encoder = new TextEncoder();

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    this.bytes(this.encoder.encode(s));
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function write(w: Writer, v: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new StateFormatError('state nests too deeply');
  if (v === null || v === undefined) w.u8(T_NULL);
  else if (v === false) w.u8(T_FALSE);
  else if (v === true) w.u8(T_TRUE);
  else if (typeof v === 'number') {
    w.u8(T_NUMBER);
    w.f64(v);
  } else if (typeof v === 'string') {
    w.u8(T_STRING);
    w.string(v);
  } else if (typeof v === 'bigint') {
    w.u8(T_BIGINT);
    w.string(v.toString(16));
  } else if (v instanceof Uint8Array) {
    w.u8(T_BYTES);
    w.bytes(v);
  } else if (Array.isArray(v)) {
    w.u8(T_ARRAY);
    w.u32(v.length);
    for (const item of v) write(w, item, depth + 1);
  } else if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    w.u8(T_OBJECT);
    w.u32(entries.length);
    for (const [k, x] of entries) {
      w.string(k);
      write(w, x, depth + 1);
    }
  } else {
    throw new StateFormatError(`cannot encode a ${typeof v} in a machine state`);
  }
}

/** Encodes a tree of plain values (undefined object fields are left out). */
export function encodeState(value: unknown): Uint8Array {
  const w = new Writer();
  write(w, value, 0);
  return w.finish();
}

class Reader {
  pos = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new StateFormatError('machine state is truncated');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** Steps over `n` bytes without copying them. */
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    // Large arrays (RAM and disk pages, read once by the loader) are views into the input, so a
    // restore does not hold the RAM twice; small ones are copies, so a device that keeps one
    // (a MAC address) does not keep the whole input alive.
    const b = n >= SHARE_BYTES ? this.buf.subarray(this.pos, this.pos + n) : this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  string(): string {
    const n = this.u32();
    this.need(n);
    try {
      return this.decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    } catch {
      throw new StateFormatError('machine state holds a malformed string');
    } finally {
      this.pos += n;
    }
  }
}

function read(r: Reader, depth: number): StateValue {
  if (depth > MAX_DEPTH) throw new StateFormatError('machine state nests too deeply');
  const tag = r.u8();
  switch (tag) {
    case T_NULL: return null;
    case T_FALSE: return false;
    case T_TRUE: return true;
    case T_NUMBER: return r.f64();
    case T_STRING: return r.string();
    case T_BIGINT: {
      const s = r.string();
      if (!/^-?[0-9a-f]{1,40}$/.test(s)) throw new StateFormatError('machine state holds a malformed integer');
      return s.startsWith('-') ? -BigInt(`0x${s.slice(1)}`) : BigInt(`0x${s}`);
    }
    case T_BYTES: return r.bytes();
    case T_ARRAY: {
      const n = r.u32();
      const out: StateValue[] = [];
      for (let i = 0; i < n; i++) out.push(read(r, depth + 1));
      return out;
    }
    case T_OBJECT: {
      const n = r.u32();
      const out: { [key: string]: StateValue } = Object.create(null) as { [key: string]: StateValue };
      for (let i = 0; i < n; i++) {
        const k = r.string();
        out[k] = read(r, depth + 1);
      }
      return out;
    }
    default:
      throw new StateFormatError(`machine state holds an unknown value tag ${tag}`);
  }
}

export function decodeState(bytes: Uint8Array): StateValue {
  const r = new Reader(bytes);
  const v = read(r, 0);
  if (r.pos !== bytes.length) throw new StateFormatError('machine state has trailing bytes');
  return v;
}

/** Steps over one encoded value without building it (for peekState). */
function skipValue(r: Reader, depth: number): void {
  if (depth > MAX_DEPTH) throw new StateFormatError('machine state nests too deeply');
  const tag = r.u8();
  switch (tag) {
    case T_NULL: case T_FALSE: case T_TRUE: return;
    case T_NUMBER: r.skip(8); return;
    case T_STRING: case T_BIGINT: case T_BYTES: r.skip(r.u32()); return;
    case T_ARRAY: {
      const n = r.u32();
      for (let i = 0; i < n; i++) skipValue(r, depth + 1);
      return;
    }
    case T_OBJECT: {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        r.skip(r.u32());
        skipValue(r, depth + 1);
      }
      return;
    }
    default:
      throw new StateFormatError(`machine state holds an unknown value tag ${tag}`);
  }
}

/**
 * The value at `path` (object keys from the top) without decoding the rest: the RAM pages and
 * disk chunks on the way are stepped over, not copied. undefined when a key is missing.
 */
export function peekState(bytes: Uint8Array, path: readonly string[]): StateValue | undefined {
  const r = new Reader(bytes);
  for (let depth = 0; depth < path.length; depth++) {
    if (r.u8() !== T_OBJECT) return undefined;
    const n = r.u32();
    let found = false;
    for (let i = 0; i < n && !found; i++) {
      if (r.string() === path[depth]) found = true;
      else skipValue(r, depth + 1);
    }
    if (!found) return undefined;
  }
  return read(r, path.length);
}
