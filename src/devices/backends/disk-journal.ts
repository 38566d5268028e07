// The disk journal format: an append-only log of guest writes kept beside a disk image, so that a
// write the guest saw complete survives a killed host process. No I/O here (the Node file disk,
// file-disk.ts, does the file work); the format is the same wherever the bytes are stored.
//
// Header (48 bytes): magic "TVDJRNL\n", u32 version 1, u32 header size 48, u64 size of the disk
// it belongs to, u64 inode of that disk file (0 = unknown), u32 pid of the process that writes it,
// u32 reserved, u32 reserved, u32 CRC-32 of bytes 0..43. All little-endian.
// Record: u32 magic "TVJR", u32 data length, u64 byte offset on the disk, u32 CRC-32 of
// (length, offset, data), u32 reserved, then the data. Records are replayed in order; the first
// short or damaged record ends the journal (a torn tail from a kill mid-append).

import { crc32 } from '../../snapshot/format.js';

export const JOURNAL_MAGIC = new TextEncoder().encode('TVDJRNL\n');
export const JOURNAL_VERSION = 1;
export const JOURNAL_HEADER_BYTES = 48;
export const JOURNAL_RECORD_HEADER_BYTES = 24;
const RECORD_MAGIC = 0x524a5654; // "TVJR"

export interface JournalHeader {
  /** Size in bytes of the disk the journal belongs to. */
  diskBytes: number;
  /** Inode number of the disk file (0 when unknown). */
  inode: number;
  /** Process that writes (or wrote) the journal. */
  pid: number;
}

export interface JournalRecord {
  offset: number;
  data: Uint8Array;
}

/** The bytes are not a disk journal, or belong to another disk. One line for the user. */
export class JournalFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalFormatError';
  }
}

export function encodeJournalHeader(h: JournalHeader): Uint8Array {
  const out = new Uint8Array(JOURNAL_HEADER_BYTES);
  const v = new DataView(out.buffer);
  out.set(JOURNAL_MAGIC, 0);
  v.setUint32(8, JOURNAL_VERSION, true);
  v.setUint32(12, JOURNAL_HEADER_BYTES, true);
  v.setBigUint64(16, BigInt(h.diskBytes), true);
  v.setBigUint64(24, BigInt(h.inode), true);
  v.setUint32(32, h.pid >>> 0, true);
  v.setUint32(44, crc32(out.subarray(0, 44)), true);
  return out;
}

export function encodeJournalRecord(offset: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(JOURNAL_RECORD_HEADER_BYTES + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, RECORD_MAGIC, true);
  v.setUint32(4, data.length, true);
  v.setBigUint64(8, BigInt(offset), true);
  out.set(data, JOURNAL_RECORD_HEADER_BYTES);
  v.setUint32(16, recordCrc(out), true);
  return out;
}

/** CRC over length, offset and data (the record minus its magic, CRC and reserved fields). */
function recordCrc(record: Uint8Array): number {
  const covered = new Uint8Array(12 + record.length - JOURNAL_RECORD_HEADER_BYTES);
  covered.set(record.subarray(4, 16), 0);
  covered.set(record.subarray(JOURNAL_RECORD_HEADER_BYTES), 12);
  return crc32(covered);
}

export function decodeJournalHeader(bytes: Uint8Array): JournalHeader {
  if (bytes.length < JOURNAL_HEADER_BYTES || !JOURNAL_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new JournalFormatError('not a Tabvisor disk journal');
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, JOURNAL_HEADER_BYTES);
  if (v.getUint32(44, true) !== crc32(bytes.subarray(0, 44))) throw new JournalFormatError('disk journal header is corrupted');
  if (v.getUint32(8, true) !== JOURNAL_VERSION) throw new JournalFormatError(`disk journal version ${v.getUint32(8, true)} is not supported`);
  return {
    diskBytes: Number(v.getBigUint64(16, true)),
    inode: Number(v.getBigUint64(24, true)),
    pid: v.getUint32(32, true),
  };
}

export interface ParsedJournal {
  header: JournalHeader;
  records: JournalRecord[];
  /** Bytes after the last whole record (a torn tail), ignored. */
  ignoredBytes: number;
}

/** Reads a whole journal: its header and every intact record up to the first damaged one. */
export function parseJournal(bytes: Uint8Array): ParsedJournal {
  const header = decodeJournalHeader(bytes);
  const records: JournalRecord[] = [];
  let pos = JOURNAL_HEADER_BYTES;
  while (pos + JOURNAL_RECORD_HEADER_BYTES <= bytes.length) {
    const v = new DataView(bytes.buffer, bytes.byteOffset + pos, JOURNAL_RECORD_HEADER_BYTES);
    const length = v.getUint32(4, true);
    const offset = Number(v.getBigUint64(8, true));
    const end = pos + JOURNAL_RECORD_HEADER_BYTES + length;
    if (v.getUint32(0, true) !== RECORD_MAGIC || end > bytes.length || offset + length > header.diskBytes) break;
    const record = bytes.subarray(pos, end);
    if (v.getUint32(16, true) !== recordCrc(record)) break;
    records.push({ offset, data: record.subarray(JOURNAL_RECORD_HEADER_BYTES) });
    pos = end;
  }
  return { header, records, ignoredBytes: bytes.length - pos };
}
