// The --disk back end on a host file (src/devices/backends/file-disk.ts) and its journal, on real
// files: what a killed run leaves is replayed, the journal is merged when it grows, a journal
// that belongs to another disk is refused, and without write-back no file is ever touched.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskFileError, FileDisk, JOURNAL_SUFFIX } from '../../src/devices/backends/file-disk.js';
import { JOURNAL_HEADER_BYTES, parseJournal } from '../../src/devices/backends/disk-journal.js';

let dir: string;
let disk: string;
const SIZE = 64 * 1024;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tabvisor-file-disk-'));
  disk = join(dir, 'disk.img');
  writeFileSync(disk, new Uint8Array(SIZE));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('FileDisk', () => {
  it('journals every write before it completes and merges on close', () => {
    const d = FileDisk.open(disk, { writeBack: true });
    d.write(1024, text('hello'));
    expect(new TextDecoder().decode(d.read(1024, 5))).toBe('hello');
    expect(readFileSync(disk).subarray(1024, 1029).every((b) => b === 0)).toBe(true); // not merged yet
    const journal = parseJournal(readFileSync(disk + JOURNAL_SUFFIX));
    expect(journal.records).toHaveLength(1);
    expect(journal.records[0].offset).toBe(1024);
    d.close();
    expect(readFileSync(disk).subarray(1024, 1029).toString()).toBe('hello');
    expect(existsSync(disk + JOURNAL_SUFFIX)).toBe(false);
  });

  it('replays the journal a run left behind, and ignores a torn last record', () => {
    const first = FileDisk.open(disk, { writeBack: true });
    first.write(0, text('first'));
    first.write(512, text('second'));
    first.flush();
    // The process "dies" here: no close(). Tear the second record in half.
    const journalPath = disk + JOURNAL_SUFFIX;
    const bytes = readFileSync(journalPath);
    writeFileSync(journalPath, bytes.subarray(0, bytes.length - 3));
    const second = FileDisk.open(disk, { writeBack: true });
    expect(second.recovered).toEqual({ records: 1, bytes: 5, merged: true });
    expect(readFileSync(disk).subarray(0, 5).toString()).toBe('first');
    expect(readFileSync(disk)[512]).toBe(0);
    second.close();
  });

  it('a merge cut short by a kill is finished by the next open (the journal goes last)', () => {
    const first = FileDisk.open(disk, { writeBack: true });
    first.write(0, new Uint8Array(4096).fill(0xa1));
    first.write(8192, new Uint8Array(4096).fill(0xb2));
    // The merge wrote the first chunk into the file, then the process died before the second.
    const half = readFileSync(disk);
    half.fill(0xa1, 0, 4096);
    writeFileSync(disk, half);
    const second = FileDisk.open(disk, { writeBack: true });
    expect(second.recovered?.records).toBe(2);
    const bytes = readFileSync(disk);
    expect(bytes.subarray(0, 4096).every((b) => b === 0xa1)).toBe(true);
    expect(bytes.subarray(8192, 12288).every((b) => b === 0xb2)).toBe(true);
    second.close();
    expect(existsSync(disk + JOURNAL_SUFFIX)).toBe(false);
  });

  it('merges a journal that outgrew its limit at the next flush', () => {
    const d = FileDisk.open(disk, { writeBack: true, checkpointBytes: 8192 });
    for (let i = 0; i < 4; i++) d.write(i * 4096, new Uint8Array(4096).fill(i + 1));
    d.flush();
    expect(statSync(disk + JOURNAL_SUFFIX).size).toBe(JOURNAL_HEADER_BYTES);
    expect(readFileSync(disk)[3 * 4096]).toBe(4);
    expect(d.read(2 * 4096, 1)[0]).toBe(3);
    d.close();
  });

  it('merges a journal that outgrew twice its limit without waiting for a flush', () => {
    const d = FileDisk.open(disk, { writeBack: true, checkpointBytes: 4096 });
    for (let i = 0; i < 3; i++) d.write(i * 4096, new Uint8Array(4096).fill(0x10 + i));
    expect(statSync(disk + JOURNAL_SUFFIX).size).toBeLessThan(3 * 4096);
    expect(readFileSync(disk)[4096]).toBe(0x11);
    d.close();
    expect(readFileSync(disk)[2 * 4096]).toBe(0x12);
  });

  it('without write-back shows a left-behind journal to the guest but writes no file', () => {
    const first = FileDisk.open(disk, { writeBack: true });
    first.write(0, text('kept'));
    const journal = readFileSync(disk + JOURNAL_SUFFIX);
    const d = FileDisk.open(disk, { writeBack: false });
    expect(d.recovered?.merged).toBe(false);
    expect(new TextDecoder().decode(d.read(0, 4))).toBe('kept');
    d.write(8, text('scratch'));
    d.flush();
    d.close();
    expect(readFileSync(disk).every((b) => b === 0)).toBe(true);
    expect(readFileSync(disk + JOURNAL_SUFFIX)).toEqual(journal);
  });

  it('refuses a journal that belongs to another disk', () => {
    const other = join(dir, 'other.img');
    writeFileSync(other, new Uint8Array(SIZE * 2));
    const d = FileDisk.open(other, { writeBack: true });
    d.write(0, text('x'));
    writeFileSync(disk + JOURNAL_SUFFIX, readFileSync(other + JOURNAL_SUFFIX));
    expect(() => FileDisk.open(disk, { writeBack: true })).toThrow(DiskFileError);
    expect(() => FileDisk.open(disk, { writeBack: true })).toThrow(/belongs to another disk file/);
    d.close();
  });
});
