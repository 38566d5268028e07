// Builds snapshot containers byte by byte (the layout of src/snapshot/format.ts), so a fuzzer can
// write VALID files around hostile payloads: any header field, any raw payload, checksums right.

import { deflateRawSync, constants } from 'node:zlib';
import { createHash } from 'node:crypto';
import { crc32, SNAPSHOT_MAGIC } from '../../src/snapshot/format.js';

export interface ContainerSpec {
  version?: number;
  compression?: number;
  reserved?: number;
  engine?: string;
  /** The compressed payload; default deflate-raw of `raw`. */
  compressed?: Uint8Array;
  raw?: Uint8Array;
  /** Header field "length after decompression"; default raw.length. */
  rawLength?: bigint;
  /** Header field "length in the file"; default compressed.length. */
  storedLength?: bigint;
  badHeaderCrc?: boolean;
  badDigest?: boolean;
}

export function container(spec: ContainerSpec): Uint8Array {
  const compressed = spec.compressed ?? deflateRawSync(spec.raw ?? new Uint8Array(0));
  const header = new Uint8Array(40);
  const dv = new DataView(header.buffer);
  header.set(SNAPSHOT_MAGIC, 0);
  dv.setUint16(8, spec.version ?? 1, true);
  header[10] = spec.compression ?? 1;
  header[11] = spec.reserved ?? 0;
  header.set(new TextEncoder().encode(spec.engine ?? 'rv64').subarray(0, 8), 12);
  dv.setBigUint64(20, spec.storedLength ?? BigInt(compressed.length), true);
  dv.setBigUint64(28, spec.rawLength ?? BigInt(spec.raw?.length ?? 0), true);
  dv.setUint32(36, (crc32(header.subarray(0, 36)) ^ (spec.badHeaderCrc ? 1 : 0)) >>> 0, true);
  const out = new Uint8Array(40 + compressed.length + 32);
  out.set(header, 0);
  out.set(compressed, 40);
  const digest = createHash('sha256').update(out.subarray(0, 40 + compressed.length)).digest();
  if (spec.badDigest) digest[0]! ^= 1;
  out.set(digest, 40 + compressed.length);
  return out;
}

export interface PayloadSpec {
  metadata: unknown;
  /** Raw metadata bytes instead of JSON of `metadata`. */
  metadataBytes?: Uint8Array;
  sections: { name: string | Uint8Array; data: Uint8Array; claimedLength?: bigint }[];
  /** Section count field; default sections.length. */
  count?: number;
  trailing?: Uint8Array;
}

/** The raw (uncompressed) payload: metadata, section count, sections. */
export function payload(p: PayloadSpec): Uint8Array {
  const parts: Uint8Array[] = [];
  const meta = p.metadataBytes ?? new TextEncoder().encode(JSON.stringify(p.metadata));
  parts.push(u32(meta.length), meta, u32(p.count ?? p.sections.length));
  for (const s of p.sections) {
    const name = typeof s.name === 'string' ? new TextEncoder().encode(s.name) : s.name;
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, s.claimedLength ?? BigInt(s.data.length), true);
    parts.push(new Uint8Array([name.length & 0xff, (name.length >>> 8) & 0xff]), name, len, s.data);
  }
  if (p.trailing) parts.push(p.trailing);
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

let bombUnit: Uint8Array | undefined;
const UNIT = 16 * 2 ** 20;

/**
 * A deflate-raw stream that inflates to `units` x 16 MiB of zeros from about 16 KiB per unit:
 * one sync-flushed (non-final) block run repeated, then an empty final block.
 */
export function deflateBomb(units: number): Uint8Array {
  bombUnit ??= deflateRawSync(new Uint8Array(UNIT), { finishFlush: constants.Z_SYNC_FLUSH, level: 9 });
  const out = new Uint8Array(bombUnit.length * units + 2);
  for (let k = 0; k < units; k++) out.set(bombUnit, k * bombUnit.length);
  out.set([0x03, 0x00], bombUnit.length * units); // final fixed-Huffman block holding only end-of-block
  return out;
}
export const BOMB_UNIT_BYTES = UNIT;
