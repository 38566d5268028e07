// The Tabvisor snapshot container: one file that holds a whole saved machine.
// Works the same in Node 20 and browsers (CompressionStream, WebCrypto); file IO lives elsewhere.
//
// Layout (all integers little endian):
//   header (40 bytes, never compressed)
//     0  8  magic "\x89TVSNAP\n" (the high byte and the newline catch 7-bit and text-mode mangling)
//     8  2  format version (SNAPSHOT_FORMAT_VERSION)
//    10  1  compression of the payload (1 = deflate-raw)
//    11  1  reserved, 0
//    12  8  engine kind, ASCII, zero padded ("v86", "rv64")
//    20  8  payload length in the file (compressed)
//    28  8  payload length after decompression
//    36  4  CRC-32 of bytes 0..36 (a damaged header is reported as damage, not as truncation)
//   payload (compressed)
//     u32 metadata length, metadata (UTF-8 JSON), u32 section count,
//     then per section: u16 name length, name (UTF-8), u64 data length, data
//   trailer
//     32  SHA-256 of every byte before it (header and compressed payload)

import type { EngineKind } from '../engines/engine.js';
import { TABVISOR_VERSION } from './version.js';

export const SNAPSHOT_MAGIC = new Uint8Array([0x89, 0x54, 0x56, 0x53, 0x4e, 0x41, 0x50, 0x0a]);
export const SNAPSHOT_FORMAT_VERSION = 1;
export const SNAPSHOT_HEADER_BYTES = 40;
export const SNAPSHOT_TRAILER_BYTES = 32;
/** The section holding an engine's own saveState() bytes (every engine, every writer). */
export const ENGINE_STATE_SECTION = 'engine-state';

const COMPRESSION_DEFLATE_RAW = 1;
const MiB = 1024 * 1024;
/** Largest guest memory of any engine (--mem 2048). */
export const SNAPSHOT_MAX_MEMORY_MIB = 2048;
/** Room for device state, the disk overlay and metadata on top of guest RAM. */
export const SNAPSHOT_DEVICE_ALLOWANCE_BYTES = 256 * MiB;
/** Without a caller's limit: the largest machine plus the allowance. */
export const SNAPSHOT_DEFAULT_MAX_PAYLOAD_BYTES = SNAPSHOT_MAX_MEMORY_MIB * MiB + SNAPSHOT_DEVICE_ALLOWANCE_BYTES;
/** Compressed bytes handed to the decompressor at a time: bounds what one step can expand to (~1000:1). */
const INFLATE_INPUT_CHUNK = 16 * 1024;
const ENGINE_FIELD_BYTES = 8;
const MAX_SECTIONS = 4096;

/** Thrown for any file that is not a complete, intact snapshot this build can read. */
export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFormatError';
  }
}

/** A snapshot that declares more than the reader's limits allow (it may be fine elsewhere). */
export class SnapshotTooLargeError extends SnapshotFormatError {
  constructor(message: string, readonly declaredBytes: number) {
    super(message);
  }
}

/** Describes a snapshot; stored as JSON inside the file. */
export interface SnapshotMetadata {
  engine: EngineKind;
  /** Manifest image the machine was booted from, when it came from one. */
  image?: string;
  memoryMiB: number;
  /** ISO 8601 time the snapshot was taken. */
  createdAt: string;
  tabvisorVersion: string;
  /** Engine- or caller-specific facts (e.g. the kernel command line). Plain JSON. */
  extra?: Record<string, unknown>;
}

export interface Snapshot {
  formatVersion: number;
  metadata: SnapshotMetadata;
  /** Section names in file order. */
  sectionNames(): string[];
  hasSection(name: string): boolean;
  /** The bytes of a section; throws SnapshotFormatError when the file has no such section. */
  section(name: string): Uint8Array;
}

export type SnapshotMetadataInput = Omit<SnapshotMetadata, 'createdAt' | 'tabvisorVersion'> &
  Partial<Pick<SnapshotMetadata, 'createdAt' | 'tabvisorVersion'>>;

/** Collects metadata and named sections, then encodes them as one snapshot file. */
export class SnapshotWriter {
  private readonly metadata: SnapshotMetadata;
  private readonly sections = new Map<string, Uint8Array>();

  constructor(metadata: SnapshotMetadataInput) {
    checkEngineKind(metadata.engine);
    this.metadata = {
      ...metadata,
      createdAt: metadata.createdAt ?? new Date().toISOString(),
      tabvisorVersion: metadata.tabvisorVersion ?? TABVISOR_VERSION,
    };
  }

  addSection(name: string, data: Uint8Array): this {
    const nameBytes = utf8.encode(name);
    if (nameBytes.length === 0 || nameBytes.length > 0xffff) throw new RangeError(`bad snapshot section name '${name}'`);
    if (this.sections.has(name)) throw new RangeError(`snapshot section '${name}' added twice`);
    if (this.sections.size >= MAX_SECTIONS) throw new RangeError('too many snapshot sections');
    this.sections.set(name, data);
    return this;
  }

  /** Encodes the snapshot: header, compressed payload, SHA-256 trailer. */
  async encode(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    const meta = utf8.encode(JSON.stringify(this.metadata));
    parts.push(u32(meta.length), meta, u32(this.sections.size));
    for (const [name, data] of this.sections) {
      const nameBytes = utf8.encode(name);
      const len = new Uint8Array(8);
      new DataView(len.buffer).setBigUint64(0, BigInt(data.length), true);
      parts.push(u16(nameBytes.length), nameBytes, len, data);
    }
    const rawLength = parts.reduce((n, p) => n + p.length, 0);
    const compressed = await deflateRaw(parts);

    const header = new Uint8Array(SNAPSHOT_HEADER_BYTES);
    const view = new DataView(header.buffer);
    header.set(SNAPSHOT_MAGIC, 0);
    view.setUint16(8, SNAPSHOT_FORMAT_VERSION, true);
    header[10] = COMPRESSION_DEFLATE_RAW;
    header.set(utf8.encode(this.metadata.engine), 12);
    view.setBigUint64(20, BigInt(compressed.length), true);
    view.setBigUint64(28, BigInt(rawLength), true);
    view.setUint32(36, crc32(header.subarray(0, 36)), true);

    const out = new Uint8Array(SNAPSHOT_HEADER_BYTES + compressed.length + SNAPSHOT_TRAILER_BYTES);
    out.set(header, 0);
    out.set(compressed, SNAPSHOT_HEADER_BYTES);
    const digest = await sha256(out.subarray(0, SNAPSHOT_HEADER_BYTES + compressed.length));
    out.set(digest, SNAPSHOT_HEADER_BYTES + compressed.length);
    return out;
  }
}

/** Reads the engine kind from a header without checking the rest (for quick listings). */
export function peekSnapshotEngine(bytes: Uint8Array): EngineKind {
  checkHeader(bytes);
  return engineField(bytes);
}

/** Limits for readSnapshot: a snapshot that declares more is refused before it is decompressed. */
export interface SnapshotLimits {
  /** Largest decompressed payload (default SNAPSHOT_DEFAULT_MAX_PAYLOAD_BYTES); see snapshotPayloadLimit. */
  maxPayloadBytes?: number;
  /** Largest guest memory the metadata may declare (default SNAPSHOT_MAX_MEMORY_MIB). */
  maxMemoryMiB?: number;
}

/**
 * The payload limit for restoring into a VM of `memoryMiB` (its RAM plus the device allowance),
 * plus `extraBytes` for a caller that knows of more (e.g. a disk image carried in the state).
 */
export function snapshotPayloadLimit(memoryMiB: number, extraBytes = 0): number {
  return memoryMiB * MiB + SNAPSHOT_DEVICE_ALLOWANCE_BYTES + extraBytes;
}

/**
 * Decodes and verifies a snapshot. Throws SnapshotFormatError saying what is wrong:
 * not a snapshot (magic), unsupported version, truncated, corrupted (checksum or structure), or
 * larger than `limits` allow. Declared sizes are checked before anything is decompressed, and
 * decompression stops at the first byte past the declared length (a small file that inflates to
 * gigabytes costs at most the declared length, which the limit bounds).
 */
export async function readSnapshot(bytes: Uint8Array, limits: SnapshotLimits = {}): Promise<Snapshot> {
  const { storedLength, rawLength } = checkSizes(bytes, limits);
  const body = bytes.subarray(0, SNAPSHOT_HEADER_BYTES + storedLength);
  const digest = await sha256(body);
  const stored = bytes.subarray(SNAPSHOT_HEADER_BYTES + storedLength);
  if (!equalBytes(digest, stored)) throw new SnapshotFormatError('snapshot is corrupted (checksum mismatch)');

  const raw = await inflateCapped(bytes.subarray(SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_BYTES + storedLength), rawLength);
  return parsePayload(raw, engineField(bytes), SNAPSHOT_FORMAT_VERSION, limits.maxMemoryMiB ?? SNAPSHOT_MAX_MEMORY_MIB);
}

/**
 * The metadata of a snapshot and its payload size, read from the header and the first bytes of
 * the payload only (a few KiB are inflated): for deciding where a snapshot goes before the whole
 * file is decoded elsewhere (a VM host worker). The header is checked as readSnapshot checks it;
 * the SHA-256 is NOT (nothing here is trusted until readSnapshot of the whole file succeeds).
 */
export async function readSnapshotMetadata(bytes: Uint8Array, limits: SnapshotLimits = {}): Promise<{ metadata: SnapshotMetadata; payloadBytes: number }> {
  const { storedLength, rawLength } = checkSizes(bytes, limits);
  const compressed = bytes.subarray(SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_BYTES + storedLength);
  const metadataEnd = (raw: Uint8Array): number | undefined =>
    raw.length < 4 ? undefined : 4 + new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, true);
  const raw = await inflateCapped(compressed, rawLength, metadataEnd);
  const { metadata } = parseMetadata(raw, engineField(bytes), limits.maxMemoryMiB ?? SNAPSHOT_MAX_MEMORY_MIB);
  return { metadata, payloadBytes: rawLength };
}

/** Header checks and the declared sizes against the limits and the file's length. */
function checkSizes(bytes: Uint8Array, limits: SnapshotLimits): { storedLength: number; rawLength: number } {
  const view = checkHeader(bytes);
  const storedLength = Number(view.getBigUint64(20, true));
  const rawLength = Number(view.getBigUint64(28, true));
  const maxPayload = limits.maxPayloadBytes ?? SNAPSHOT_DEFAULT_MAX_PAYLOAD_BYTES;
  if (rawLength > maxPayload) {
    throw new SnapshotTooLargeError(
      `snapshot is too large (its payload is ${mib(rawLength)} MiB; at most ${mib(maxPayload)} MiB may be restored here)`, rawLength);
  }
  const expected = SNAPSHOT_HEADER_BYTES + storedLength + SNAPSHOT_TRAILER_BYTES;
  if (bytes.length < expected) {
    throw new SnapshotFormatError(`snapshot is truncated (${bytes.length} of ${expected} bytes)`);
  }
  if (bytes.length > expected) {
    throw new SnapshotFormatError(`snapshot is corrupted (${bytes.length - expected} unexpected bytes after the end)`);
  }
  return { storedLength, rawLength };
}

function mib(n: number): string {
  return (n / MiB).toFixed(n % MiB === 0 ? 0 : 1);
}

/**
 * Inflates `input` into exactly `declared` bytes. Input goes in small pieces and output is
 * counted as it comes: the first byte past `declared` ends decoding (the stream is cancelled),
 * so memory never exceeds the declared length plus one step's expansion.
 */
async function inflateCapped(
  input: Uint8Array,
  declared: number,
  /** Given what is inflated so far, how many bytes are wanted (undefined: not known yet); the rest is not inflated. */
  wanted?: (raw: Uint8Array) => number | undefined,
): Promise<Uint8Array> {
  let pos = 0;
  const source = new ReadableStream<BufferSource>({
    pull(controller) {
      if (pos >= input.length) {
        controller.close();
        return;
      }
      const end = Math.min(input.length, pos + INFLATE_INPUT_CHUNK);
      controller.enqueue(input.slice(pos, end));
      pos = end;
    },
  }, { highWaterMark: 0 });
  const reader = source.pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  // The whole declared length at once (the caller's limits bound it): growing by doubling would
  // hold the old and the new buffer at once, up to twice the payload at the peak. Pages the
  // stream never writes are never touched, so a file that stops early costs only what it wrote.
  // A metadata read (wanted) needs a few KiB: it starts small and grows.
  let out: Uint8Array;
  try {
    out = new Uint8Array(wanted ? Math.min(declared, 64 * 1024) : declared);
  } catch {
    throw new SnapshotTooLargeError(`snapshot is too large for this host (its payload is ${mib(declared)} MiB)`, declared);
  }
  let n = 0;
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch {
        throw new SnapshotFormatError('snapshot is corrupted (payload does not decompress)');
      }
      if (step.done) break;
      const chunk = step.value;
      if (n + chunk.length > declared) {
        throw new SnapshotFormatError(`snapshot is corrupted (payload inflates past its declared ${declared} bytes)`);
      }
      if (n + chunk.length > out.length) {
        const grown = new Uint8Array(Math.min(declared, Math.max(out.length * 2, n + chunk.length)));
        grown.set(out.subarray(0, n));
        out = grown;
      }
      out.set(chunk, n);
      n += chunk.length;
      const want = wanted?.(out.subarray(0, n));
      if (want !== undefined && n >= Math.min(want, declared)) return out.subarray(0, n);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (n !== declared || wanted) throw new SnapshotFormatError(wanted ? 'snapshot is corrupted (payload ends early)' : 'snapshot is corrupted (payload length mismatch)');
  return out;
}

function checkHeader(bytes: Uint8Array): DataView {
  if (bytes.length === 0) throw new SnapshotFormatError('snapshot is truncated (the file is empty)');
  const magicPart = bytes.subarray(0, Math.min(bytes.length, SNAPSHOT_MAGIC.length));
  if (!equalBytes(magicPart, SNAPSHOT_MAGIC.subarray(0, magicPart.length))) {
    throw new SnapshotFormatError('not a Tabvisor snapshot (wrong magic bytes)');
  }
  if (bytes.length < SNAPSHOT_HEADER_BYTES) {
    throw new SnapshotFormatError(`snapshot is truncated (${bytes.length} bytes, the header alone is ${SNAPSHOT_HEADER_BYTES})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SNAPSHOT_HEADER_BYTES);
  const version = view.getUint16(8, true);
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotFormatError(
      `snapshot format version ${version} is not supported (this build reads version ${SNAPSHOT_FORMAT_VERSION})`);
  }
  if (view.getUint32(36, true) !== crc32(bytes.subarray(0, 36))) {
    throw new SnapshotFormatError('snapshot is corrupted (header checksum mismatch)');
  }
  if (bytes[10] !== COMPRESSION_DEFLATE_RAW || bytes[11] !== 0) {
    throw new SnapshotFormatError('snapshot is corrupted (unknown compression)');
  }
  const stored = view.getBigUint64(20, true);
  const raw = view.getBigUint64(28, true);
  if (stored > BigInt(Number.MAX_SAFE_INTEGER) || raw > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SnapshotFormatError('snapshot is corrupted (impossible lengths)');
  }
  return view;
}

function engineField(bytes: Uint8Array): EngineKind {
  const field = bytes.subarray(12, 12 + ENGINE_FIELD_BYTES);
  const end = field.indexOf(0);
  const name = String.fromCharCode(...field.subarray(0, end < 0 ? field.length : end));
  if (name !== 'v86' && name !== 'rv64') throw new SnapshotFormatError(`snapshot is for an unknown engine '${name}'`);
  return name;
}

/** The metadata at the start of a payload, checked against the header; and where it ends. */
function parseMetadata(raw: Uint8Array, engine: EngineKind, maxMemoryMiB: number): { metadata: SnapshotMetadata; end: number } {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > raw.length) throw new SnapshotFormatError('snapshot is corrupted (payload ends early)');
  };
  need(4);
  const metaLength = view.getUint32(pos, true);
  pos += 4;
  need(metaLength);
  let metadata: SnapshotMetadata;
  try {
    metadata = JSON.parse(utf8Strict.decode(raw.subarray(pos, pos + metaLength))) as SnapshotMetadata;
  } catch {
    throw new SnapshotFormatError('snapshot is corrupted (metadata is not JSON)');
  }
  pos += metaLength;
  if (typeof metadata !== 'object' || metadata === null || metadata.engine !== engine ||
      typeof metadata.memoryMiB !== 'number') {
    throw new SnapshotFormatError('snapshot is corrupted (metadata does not match the header)');
  }
  if (!Number.isInteger(metadata.memoryMiB) || metadata.memoryMiB < 1 || metadata.memoryMiB > maxMemoryMiB) {
    throw new SnapshotFormatError(`snapshot declares ${metadata.memoryMiB} MiB of guest memory (at most ${maxMemoryMiB} MiB may be restored here)`);
  }
  return { metadata, end: pos };
}

function parsePayload(raw: Uint8Array, engine: EngineKind, formatVersion: number, maxMemoryMiB: number): Snapshot {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const { metadata, end } = parseMetadata(raw, engine, maxMemoryMiB);
  let pos = end;
  const need = (n: number): void => {
    if (pos + n > raw.length) throw new SnapshotFormatError('snapshot is corrupted (payload ends early)');
  };
  need(4);
  const count = view.getUint32(pos, true);
  pos += 4;
  if (count > MAX_SECTIONS) throw new SnapshotFormatError('snapshot is corrupted (section count)');
  const sections = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    need(2);
    const nameLength = view.getUint16(pos, true);
    pos += 2;
    need(nameLength + 8);
    const name = utf8Lenient.decode(raw.subarray(pos, pos + nameLength));
    pos += nameLength;
    const length = Number(view.getBigUint64(pos, true));
    pos += 8;
    need(length);
    if (sections.has(name)) throw new SnapshotFormatError(`snapshot is corrupted (section '${name}' twice)`);
    sections.set(name, raw.subarray(pos, pos + length));
    pos += length;
  }
  if (pos !== raw.length) throw new SnapshotFormatError('snapshot is corrupted (bytes after the last section)');

  return {
    formatVersion,
    metadata,
    sectionNames: () => [...sections.keys()],
    hasSection: (name) => sections.has(name),
    section(name) {
      const data = sections.get(name);
      if (!data) throw new SnapshotFormatError(`snapshot has no '${name}' section`);
      return data;
    },
  };
}

function checkEngineKind(kind: string): void {
  if (kind !== 'v86' && kind !== 'rv64') throw new RangeError(`unknown engine kind '${kind}'`);
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder();

function u16(n: number): Uint8Array {
  return new Uint8Array([n & 0xff, (n >>> 8) & 0xff]);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/**
 * Raw deflate of `parts`. In Node, zlib in the thread pool with large output chunks: a VM host
 * encodes a snapshot while its guest runs on the same thread, and CompressionStream's many small
 * steps each waited behind a time slice (8.6 s instead of 0.3 s for a 9 MB state). In a browser,
 * CompressionStream.
 */
async function deflateRaw(parts: Uint8Array[]): Promise<Uint8Array> {
  const zlib = await nodeZlib();
  if (!zlib) return transform(parts, new CompressionStream('deflate-raw'));
  const input = parts.length === 1 ? parts[0]! : concatBytes(parts);
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(input, { chunkSize: 4 * MiB }, (error, out) => (error ? reject(error) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.length))));
  });
}

type ZlibDeflate = { deflateRaw(buf: Uint8Array, options: { chunkSize: number }, cb: (error: Error | null, out: Uint8Array) => void): void };
let zlibModule: Promise<ZlibDeflate | undefined> | undefined;
function nodeZlib(): Promise<ZlibDeflate | undefined> {
  const isNode = typeof process !== 'undefined' && typeof (process as { versions?: { node?: string } }).versions?.node === 'string';
  if (!isNode) return Promise.resolve(undefined);
  const name = 'node:zlib';
  zlibModule ??= (import(/* @vite-ignore */ name) as Promise<ZlibDeflate>).catch(() => undefined);
  return zlibModule;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function transform(parts: Uint8Array[], stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const input = new Blob(parts as BlobPart[]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(input).arrayBuffer());
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3), for the small header only; the content is covered by SHA-256. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
