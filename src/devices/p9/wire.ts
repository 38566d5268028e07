// 9P message encoding (9P2000.L as Linux's v9fs speaks it): little-endian integers, strings as a
// 2-byte length and UTF-8 bytes, qids as type[1] version[4] path[8]. The reader never reads past
// the message it was given: a short or malformed message throws P9WireError, which the server
// answers with EINVAL (EPROTO for a message it cannot even frame).

export class P9WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'P9WireError';
  }
}

export interface Qid {
  type: number;
  version: number;
  path: bigint;
}

export const QID_BYTES = 13;
export const HEADER_BYTES = 7; // size[4] type[1] tag[2]

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export class P9Reader {
  private off = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): number {
    const at = this.off;
    if (at + n > this.bytes.length) throw new P9WireError('message ends early');
    this.off += n;
    return at;
  }

  u8(): number { return this.view.getUint8(this.need(1)); }
  u16(): number { return this.view.getUint16(this.need(2), true); }
  u32(): number { return this.view.getUint32(this.need(4), true); }
  u64(): bigint { return this.view.getBigUint64(this.need(8), true); }

  /** A u64 that must be a safe JS number (offsets, sizes): larger ones are refused. */
  u64n(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new P9WireError('64-bit value out of range');
    return Number(v);
  }

  str(): string {
    const len = this.u16();
    const at = this.need(len);
    try {
      return decoder.decode(this.bytes.subarray(at, at + len));
    } catch {
      throw new P9WireError('string is not UTF-8');
    }
  }

  bytesOf(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
}

/** Builds one reply; `finish` fills in the size field. Grows as needed up to `limit` bytes. */
export class P9Writer {
  private buf: Uint8Array;
  private view: DataView;
  private off = HEADER_BYTES;

  constructor(private readonly type: number, private readonly tag: number, initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.off;
  }

  private room(n: number): number {
    if (this.off + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.off + n));
      next.set(this.buf.subarray(0, this.off));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.off;
    this.off += n;
    return at;
  }

  u8(v: number): this { this.view.setUint8(this.room(1), v); return this; }
  u16(v: number): this { this.view.setUint16(this.room(2), v, true); return this; }
  u32(v: number): this { this.view.setUint32(this.room(4), v >>> 0, true); return this; }
  u64(v: bigint | number): this { this.view.setBigUint64(this.room(8), BigInt.asUintN(64, BigInt(v)), true); return this; }

  str(s: string): this {
    const b = encoder.encode(s);
    if (b.length > 0xffff) throw new P9WireError('string too long');
    this.u16(b.length);
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }

  qid(q: Qid): this {
    return this.u8(q.type).u32(q.version).u64(q.path);
  }

  raw(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }

  finish(): Uint8Array {
    this.view.setUint32(0, this.off, true);
    this.view.setUint8(4, this.type);
    this.view.setUint16(5, this.tag, true);
    return this.buf.subarray(0, this.off);
  }
}

/** Byte length of a string as the wire stores it (length prefix included). */
export function wireStringBytes(s: string): number {
  return 2 + encoder.encode(s).length;
}
