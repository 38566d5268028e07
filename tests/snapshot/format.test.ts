import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  SnapshotWriter, readSnapshot, SnapshotFormatError, SNAPSHOT_HEADER_BYTES, SNAPSHOT_TRAILER_BYTES, crc32,
} from '../../src/snapshot/format.js';
import { TABVISOR_VERSION } from '../../src/snapshot/version.js';

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = i % 3 === 0 ? 0 : x >>> 24; // partly compressible
  }
  return b;
}

async function sample(): Promise<Uint8Array> {
  return new SnapshotWriter({ engine: 'v86', image: 'x86-busybox', memoryMiB: 128, extra: { cmdline: 'console=ttyS0' } })
    .addSection('engine-state', pattern(50_000, 1))
    .addSection('ram', new Uint8Array(200_000))
    .addSection('empty', new Uint8Array(0))
    .encode();
}

async function formatError(bytes: Uint8Array): Promise<SnapshotFormatError> {
  try {
    await readSnapshot(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(SnapshotFormatError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return err as SnapshotFormatError;
  }
  throw new Error('readSnapshot accepted a damaged file');
}

describe('snapshot container', () => {
  it('round-trips metadata and sections', async () => {
    const bytes = await sample();
    const snap = await readSnapshot(bytes);
    expect(snap.formatVersion).toBe(1);
    expect(snap.metadata.engine).toBe('v86');
    expect(snap.metadata.image).toBe('x86-busybox');
    expect(snap.metadata.memoryMiB).toBe(128);
    expect(snap.metadata.tabvisorVersion).toBe(TABVISOR_VERSION);
    expect(snap.metadata.extra).toEqual({ cmdline: 'console=ttyS0' });
    expect(Number.isNaN(Date.parse(snap.metadata.createdAt))).toBe(false);
    expect(snap.sectionNames()).toEqual(['engine-state', 'ram', 'empty']);
    expect(snap.section('engine-state')).toEqual(pattern(50_000, 1));
    expect(snap.section('ram')).toEqual(new Uint8Array(200_000));
    expect(snap.section('empty').length).toBe(0);
    expect(snap.hasSection('disk')).toBe(false);
    expect(() => snap.section('disk')).toThrow(/no 'disk' section/);
  });

  it('compresses the content', async () => {
    const bytes = await sample();
    expect(bytes.length).toBeLessThan(50_000 + 200_000);
  });

  it('starts with the magic bytes and the format version', async () => {
    const bytes = await sample();
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x54, 0x56, 0x53, 0x4e, 0x41, 0x50, 0x0a]);
    expect(bytes[8] | (bytes[9] << 8)).toBe(1);
    expect(new TextDecoder().decode(bytes.subarray(12, 15))).toBe('v86');
  });

  it('rejects a file that is not a snapshot', async () => {
    expect((await formatError(new TextEncoder().encode('#!/bin/sh\necho hello\n'))).message).toMatch(/not a Tabvisor snapshot/);
    expect((await formatError(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]))).message).toMatch(/wrong magic/);
  });

  it('rejects an empty file as truncated', async () => {
    expect((await formatError(new Uint8Array(0))).message).toMatch(/truncated/);
  });

  it('rejects other format versions by name', async () => {
    const bytes = await sample();
    for (const version of [0, 2, 0x100]) {
      const other = bytes.slice();
      other[8] = version & 0xff;
      other[9] = version >> 8;
      new DataView(other.buffer).setUint32(36, crc32(other.subarray(0, 36)), true);
      expect((await formatError(other)).message).toBe(
        `snapshot format version ${version} is not supported (this build reads version 1)`);
    }
  });

  it('reports truncation at every kind of offset', async () => {
    const bytes = await sample();
    const offsets = new Set<number>([1, 7, 8, 9, 20, 39, 40, 41, bytes.length - 33, bytes.length - 32, bytes.length - 1]);
    for (let i = 0; i < 40; i++) offsets.add(Math.floor((bytes.length * i) / 40));
    for (const cut of offsets) {
      if (cut <= 0 || cut >= bytes.length) continue;
      const message = (await formatError(bytes.subarray(0, cut))).message;
      expect(message, `cut at ${cut}`).toMatch(/truncated/);
    }
  });

  it('reports a flipped bit anywhere in the content as corruption', async () => {
    const bytes = await sample();
    const end = bytes.length;
    const positions = new Set<number>();
    for (let i = 10; i < SNAPSHOT_HEADER_BYTES; i++) positions.add(i); // every header byte after the version
    for (let i = 0; i < 60; i++) positions.add(SNAPSHOT_HEADER_BYTES + Math.floor(((end - SNAPSHOT_HEADER_BYTES) * i) / 60));
    for (let i = end - SNAPSHOT_TRAILER_BYTES; i < end; i++) positions.add(i); // every checksum byte
    for (const pos of positions) {
      for (const bit of [0x01, 0x80]) {
        const bad = bytes.slice();
        bad[pos] ^= bit;
        const message = (await formatError(bad)).message;
        expect(message, `byte ${pos} bit ${bit}`).toMatch(/corrupted/);
      }
    }
  });

  it('reports a damaged magic or version byte as wrong magic or version', async () => {
    const bytes = await sample();
    for (let pos = 0; pos < 8; pos++) {
      const bad = bytes.slice();
      bad[pos] ^= 0x20;
      expect((await formatError(bad)).message).toMatch(/wrong magic/);
    }
    const bad = bytes.slice();
    bad[8] ^= 0x02;
    expect((await formatError(bad)).message).toMatch(/version 3 is not supported/);
  });

  it('reports bytes appended after the end as corruption', async () => {
    const bytes = await sample();
    const longer = new Uint8Array(bytes.length + 5);
    longer.set(bytes);
    expect((await formatError(longer)).message).toMatch(/corrupted .*unexpected bytes/);
  });

  it('reports swapped payloads (each intact alone) as corruption', async () => {
    const a = await sample();
    const b = await new SnapshotWriter({ engine: 'v86', memoryMiB: 128 }).addSection('engine-state', pattern(50_000, 2)).encode();
    const spliced = new Uint8Array(a.length);
    spliced.set(a);
    spliced.set(b.subarray(SNAPSHOT_HEADER_BYTES, Math.min(b.length, a.length) - SNAPSHOT_TRAILER_BYTES), SNAPSHOT_HEADER_BYTES);
    expect((await formatError(spliced)).message).toMatch(/corrupted/);
  });

  it('refuses bad section names and unknown engines when writing', () => {
    const w = new SnapshotWriter({ engine: 'rv64', memoryMiB: 64 });
    w.addSection('ram', new Uint8Array(1));
    expect(() => w.addSection('ram', new Uint8Array(1))).toThrow(/twice/);
    expect(() => w.addSection('', new Uint8Array(1))).toThrow(/name/);
    expect(() => new SnapshotWriter({ engine: 'arm' as 'v86', memoryMiB: 64 })).toThrow(/unknown engine/);
  });

  it('carries the engine kind of the machine that was saved', async () => {
    const bytes = await new SnapshotWriter({ engine: 'rv64', memoryMiB: 256 }).addSection('ram', new Uint8Array(4096)).encode();
    const snap = await readSnapshot(bytes);
    expect(snap.metadata.engine).toBe('rv64');
    expect(snap.metadata.image).toBeUndefined();
  });
});

describe('TABVISOR_VERSION', () => {
  it('matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(TABVISOR_VERSION).toBe(pkg.version);
  });
});
