import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, readSnapshotFile, SnapshotFileError } from '../../src/snapshot/node-file.js';
import { SnapshotWriter, SnapshotFormatError } from '../../src/snapshot/format.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tabvisor-snap-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

describe('snapshot files', () => {
  it('writes a file that reads back', async () => {
    const bytes = await new SnapshotWriter({ engine: 'v86', image: 'x86-busybox', memoryMiB: 128 })
      .addSection('engine-state', new Uint8Array([1, 2, 3])).encode();
    const path = join(dir, 'a.tvsnap');
    await writeFileAtomic(path, bytes);
    const snap = await readSnapshotFile(path);
    expect(snap.section('engine-state')).toEqual(new Uint8Array([1, 2, 3]));
    expect(readdirSync(dir)).toEqual(['a.tvsnap']);
  });

  it('replaces an existing file in one step', async () => {
    const path = join(dir, 'a.tvsnap');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, new TextEncoder().encode('new contents'));
    expect(readFileSync(path, 'utf8')).toBe('new contents');
    expect(readdirSync(dir)).toEqual(['a.tvsnap']);
  });

  it('keeps the old file and leaves no temporary file when the write fails halfway', async () => {
    const path = join(dir, 'good.tvsnap');
    writeFileSync(path, 'the good old snapshot');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(100_000).fill(7);
      throw new Error('state capture failed');
    }
    await expect(writeFileAtomic(path, failing())).rejects.toThrow('state capture failed');
    expect(readFileSync(path, 'utf8')).toBe('the good old snapshot');
    expect(readdirSync(dir)).toEqual(['good.tvsnap']);
  });

  it('fails cleanly when the folder does not exist', async () => {
    await expect(writeFileAtomic(join(dir, 'nope', 'a.tvsnap'), new Uint8Array(1))).rejects.toThrow(/ENOENT/);
  });

  it('names the problem when reading a missing file, a folder, or a damaged file', async () => {
    await expect(readSnapshotFile(join(dir, 'missing.tvsnap'))).rejects.toThrow(SnapshotFileError);
    await expect(readSnapshotFile(join(dir, 'missing.tvsnap'))).rejects.toThrow(/no such file/);
    mkdirSync(join(dir, 'folder'));
    await expect(readSnapshotFile(join(dir, 'folder'))).rejects.toThrow(/is a folder/);
    writeFileSync(join(dir, 'text.tvsnap'), 'hello');
    await expect(readSnapshotFile(join(dir, 'text.tvsnap'))).rejects.toThrow(SnapshotFormatError);
    await expect(readSnapshotFile(join(dir, 'text.tvsnap'))).rejects.toThrow(/text\.tvsnap: not a Tabvisor snapshot/);
  });

  it('refuses a file larger than the payload limit from its size, before reading it', async () => {
    const path = join(dir, 'huge.tvsnap');
    const { open } = await import('node:fs/promises');
    const h = await open(path, 'w');
    await h.truncate(64 * 2 ** 20); // sparse: costs no disk
    await h.close();
    const err = await readSnapshotFile(path, { maxPayloadBytes: 16 * 2 ** 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotFormatError);
    expect((err as Error).message).toMatch(/too large \(64 MiB file\)/);
  });
});
