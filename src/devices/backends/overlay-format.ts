// The copy-on-write overlay file: the guest's writes over a read-only base image, kept in chunks.
// Only the byte layout and its checks live here (no I/O); overlay-disk.ts does the reading and
// writing through an OverlayStore (a Node file or an OPFS sync access handle).
//
// Header (HEADER_BYTES reserved, 88 used): magic "TVOVRLAY", u32 version 1, u32 data start
// (HEADER_BYTES), u32 chunk size, u32 slot header size (32), u64 base size in bytes, 32 bytes
// sha256 of the base image, 16 random bytes naming this overlay (new when it is created or
// emptied), u32 CRC-32 of bytes 0..79, u32 writer pid (Node; 0 in the page; not covered by the
// CRC, rewritten at each open).
//
// After the header come slot pairs, one pair per chunk the guest ever wrote, in the order they
// were first needed. A slot is a 32-byte header (u32 magic "TVOC", u32 chunk index, u64 sequence
// number, u32 CRC-32 of index, sequence and data, 12 bytes zero) and the chunk's data. A write
// never touches the slot that holds the chunk's last durable version: it goes to the other slot
// of the pair with a higher sequence number. Opening keeps, per pair, the valid slot with the
// highest sequence number, so a torn slot write (a kill or a power cut mid-write) leaves the
// previous durable version in place. The slot headers are the index: it is rebuilt at open.
// All numbers little-endian.

import { crc32 } from '../../snapshot/format.js';

export const OVERLAY_MAGIC = new TextEncoder().encode('TVOVRLAY');
export const OVERLAY_VERSION = 1;
export const HEADER_BYTES = 4096;
export const HEADER_USED_BYTES = 88;
export const SLOT_HEADER_BYTES = 32;
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
const SLOT_MAGIC = 0x434f5654; // "TVOC"

/** The bytes are not a usable overlay for this base. The message is one line for the user. */
export class OverlayFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OverlayFormatError';
  }
}

export interface OverlayHeader {
  chunkBytes: number;
  baseBytes: number;
  /** sha256 of the base image, 32 bytes. */
  baseSha256: Uint8Array;
  /** 16 random bytes: which overlay this is (a new one after discard). */
  nonce: Uint8Array;
  /** Process that last opened the overlay for writing (0 = unknown / the page). */
  pid: number;
}

export function encodeOverlayHeader(h: OverlayHeader): Uint8Array {
  const out = new Uint8Array(HEADER_USED_BYTES);
  const v = new DataView(out.buffer);
  out.set(OVERLAY_MAGIC, 0);
  v.setUint32(8, OVERLAY_VERSION, true);
  v.setUint32(12, HEADER_BYTES, true);
  v.setUint32(16, h.chunkBytes, true);
  v.setUint32(20, SLOT_HEADER_BYTES, true);
  v.setBigUint64(24, BigInt(h.baseBytes), true);
  if (h.baseSha256.length !== 32) throw new RangeError('base sha256 must be 32 bytes');
  out.set(h.baseSha256, 32);
  if (h.nonce.length !== 16) throw new RangeError('overlay nonce must be 16 bytes');
  out.set(h.nonce, 64);
  v.setUint32(80, crc32(out.subarray(0, 80)), true);
  v.setUint32(84, h.pid >>> 0, true);
  return out;
}

/** Checks a header against the base it must belong to. */
export function decodeOverlayHeader(bytes: Uint8Array, base: { bytes: number; sha256: Uint8Array }): OverlayHeader {
  if (bytes.length < 8 || !OVERLAY_MAGIC.every((b, i) => bytes[i] === b)) throw new OverlayFormatError('not a Tabvisor disk overlay');
  if (bytes.length < HEADER_USED_BYTES) throw new OverlayFormatError('overlay is truncated (header cut short)');
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_USED_BYTES);
  if (v.getUint32(80, true) !== crc32(bytes.subarray(0, 80))) throw new OverlayFormatError('overlay header is corrupted (checksum mismatch)');
  const version = v.getUint32(8, true);
  if (version !== OVERLAY_VERSION) throw new OverlayFormatError(`overlay version ${version} is not supported`);
  const chunkBytes = v.getUint32(16, true);
  if (v.getUint32(12, true) !== HEADER_BYTES || v.getUint32(20, true) !== SLOT_HEADER_BYTES ||
      chunkBytes < 512 || chunkBytes > 16 * 1024 * 1024 || (chunkBytes & (chunkBytes - 1)) !== 0) {
    throw new OverlayFormatError('overlay header has an unusable layout');
  }
  const baseBytes = Number(v.getBigUint64(24, true));
  const baseSha256 = bytes.slice(32, 64);
  if (baseBytes !== base.bytes || !baseSha256.every((b, i) => b === base.sha256[i])) {
    throw new OverlayFormatError(`overlay belongs to another base image (made for ${baseBytes} bytes, sha256 ${hex(baseSha256).slice(0, 12)}…; this base is ${base.bytes} bytes, ${hex(base.sha256).slice(0, 12)}…)`);
  }
  return { chunkBytes, baseBytes, baseSha256, nonce: bytes.slice(64, 80), pid: v.getUint32(84, true) };
}

export function slotBytes(chunkBytes: number): number {
  return SLOT_HEADER_BYTES + chunkBytes;
}

/** File offset of slot `slot` (0 or 1) of pair `pair`. */
export function slotOffset(chunkBytes: number, pair: number, slot: 0 | 1): number {
  return HEADER_BYTES + (pair * 2 + slot) * slotBytes(chunkBytes);
}

/** One slot's bytes: header and data (data must be exactly one chunk). */
export function encodeSlot(chunk: number, seq: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(SLOT_HEADER_BYTES + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, SLOT_MAGIC, true);
  v.setUint32(4, chunk, true);
  v.setBigUint64(8, BigInt(seq), true);
  out.set(data, SLOT_HEADER_BYTES);
  v.setUint32(16, slotCrc(out), true);
  return out;
}

/** A slot read back: undefined when it is empty, torn or damaged. */
export function decodeSlot(bytes: Uint8Array, chunkBytes: number): { chunk: number; seq: number } | undefined {
  if (bytes.length < SLOT_HEADER_BYTES + chunkBytes) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, SLOT_HEADER_BYTES);
  if (v.getUint32(0, true) !== SLOT_MAGIC) return undefined;
  if (v.getUint32(16, true) !== slotCrc(bytes.subarray(0, SLOT_HEADER_BYTES + chunkBytes))) return undefined;
  return { chunk: v.getUint32(4, true), seq: Number(v.getBigUint64(8, true)) };
}

/** CRC over chunk index, sequence number and data (bytes 4..16 and 32..). */
function slotCrc(slot: Uint8Array): number {
  const covered = new Uint8Array(12 + slot.length - SLOT_HEADER_BYTES);
  covered.set(slot.subarray(4, 16), 0);
  covered.set(slot.subarray(SLOT_HEADER_BYTES), 12);
  return crc32(covered);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(text: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new RangeError('a sha256 is 64 hex digits');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}
