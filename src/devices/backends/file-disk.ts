// A virtual disk on a host file (Node only: synchronous fs calls, which the block front end needs).
// Reads come from the file on demand; guest writes go to an in-memory overlay, so the file is not
// touched unless the user asked for write-back.
//
// With write-back, every guest write is also appended to a journal beside the file
// (`<file>.tvjournal`, format in disk-journal.ts) before the guest sees it complete, and a guest
// FLUSH fsyncs the journal before it completes. A killed process therefore loses nothing the guest
// wrote (nothing the guest flushed even on a host power cut); the next open replays the journal
// into the file. A clean close writes the overlay into the file in place (same inode: symlinks,
// hard links, mode and owner are kept), fsyncs it and deletes the journal. A journal that grows past
// CHECKPOINT_BYTES is merged into the file the same way at the next flush (at twice that size, at
// once), which bounds both the journal and the overlay in memory.

import {
  closeSync, constants, existsSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readFileSync, readSync,
  realpathSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import { describeFsError as fsReason, fileKind, processIsAlive } from '../../snapshot/node-file.js';
import { forEachChunk, SECTOR_SIZE, type BlockBackend } from './disk.js';
import {
  encodeJournalHeader, encodeJournalRecord, JOURNAL_HEADER_BYTES, JournalFormatError, parseJournal,
} from './disk-journal.js';

const CHUNK = 4096;
/** A journal this big is merged into the disk file at the next flush (bounds its size and our memory). */
export const CHECKPOINT_BYTES = 64 * 1024 * 1024;
export const JOURNAL_SUFFIX = '.tvjournal';

/** The disk file (or its journal) cannot be used. The message is one line for the user. */
export class DiskFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskFileError';
  }
}

export interface FileDiskOptions {
  /** Keep the guest's writes in the file (journal while running, merge on close). */
  writeBack: boolean;
  serial?: string;
  /** Journal size that triggers a merge at the next flush (default CHECKPOINT_BYTES). */
  checkpointBytes?: number;
}

/** What opening found and merged from a journal left by a run that did not end cleanly. */
export interface RecoveredJournal {
  records: number;
  bytes: number;
  /** true: written into the file; false: only shown to the guest (no write-back this time). */
  merged: boolean;
}

export class FileDisk implements BlockBackend {
  readonly byteLength: number;
  readonly readOnly = false;
  readonly serial: string;
  /** Set when a journal from an interrupted run was found at open. */
  readonly recovered: RecoveredJournal | undefined;
  private readonly overlay = new Map<number, Uint8Array>();
  private journalFd: number | undefined;
  private journalBytes = 0;
  private broken: string | undefined;
  private closed = false;

  private constructor(
    /** The real path of the disk file (symlinks resolved). */
    readonly path: string,
    private readonly fd: number,
    stats: Stats,
    private readonly writeBack: boolean,
    serial: string,
    private readonly checkpointBytes: number,
  ) {
    this.byteLength = stats.size;
    this.serial = serial;
    this.recovered = this.recover(stats);
    if (writeBack) this.startJournal(stats);
  }

  get journalPath(): string {
    return this.path + JOURNAL_SUFFIX;
  }

  /** Opens `path` (following symlinks); refuses anything but a non-empty regular file. */
  static open(path: string, o: FileDiskOptions): FileDisk {
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      throw new DiskFileError(`cannot read --disk ${path}: ${fsReason(err)}`);
    }
    let fd: number;
    try {
      // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
      fd = openSync(real, (o.writeBack ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (o.writeBack && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
        throw new DiskFileError(`--disk-write-back: ${path} is not writable (${fsReason(err)})`);
      }
      throw new DiskFileError(`cannot read --disk ${path}: ${fsReason(err)}`);
    }
    try {
      const stats = fstatSync(fd);
      const kind = fileKind(stats);
      if (kind !== 'file') throw new DiskFileError(`--disk ${path} is ${kind}, not a regular file`);
      if (stats.size < SECTOR_SIZE) throw new DiskFileError(`--disk ${path} is ${stats.size === 0 ? 'empty' : `${stats.size} bytes`}; a disk holds at least one 512-byte sector`);
      if (o.writeBack && (stats.mode & 0o222) === 0) {
        throw new DiskFileError(`--disk-write-back: ${path} is read-only (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}); make it writable or drop --disk-write-back`);
      }
      return new FileDisk(real, fd, stats, o.writeBack, o.serial ?? 'tabvisor-vda', o.checkpointBytes ?? CHECKPOINT_BYTES);
    } catch (err) {
      closeSync(fd);
      if (err instanceof DiskFileError) throw err;
      throw new DiskFileError(`cannot use --disk ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    const out = new Uint8Array(length);
    forEachChunk(offset, length, CHUNK, (index, within, n, done) => {
      const pos = offset + done;
      const chunk = this.overlay.get(index);
      if (chunk) out.set(chunk.subarray(within, within + n), done);
      else this.readBase(out.subarray(done, done + n), pos);
    });
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    if (this.broken) throw new Error(this.broken);
    // The journal first: the guest's write completes only once the host holds it.
    if (this.journalFd !== undefined) this.appendToJournal(encodeJournalRecord(offset, data));
    this.applyToOverlay(offset, data);
    // A guest that writes a lot without flushing still gets its journal (and our memory) bounded.
    if (this.journalFd !== undefined && this.journalBytes > 2 * this.checkpointBytes) this.checkpoint();
  }

  flush(): void {
    if (this.journalFd === undefined) return;
    if (this.broken) throw new Error(this.broken);
    fsyncSync(this.journalFd);
    if (this.journalBytes > this.checkpointBytes) this.checkpoint();
  }

  /** Bytes of guest writes held in memory. */
  get overlayBytes(): number {
    return this.overlay.size * CHUNK;
  }

  /**
   * Ends the disk. With write-back: merges every guest write into the file in place, fsyncs it and
   * deletes the journal (throws on failure; the journal then stays for the next open). Without:
   * drops the writes.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.writeBack && this.journalFd !== undefined) {
        if (this.broken) throw new Error(this.broken);
        this.mergeOverlayIntoFile();
        closeSync(this.journalFd);
        this.journalFd = undefined;
        unlinkSync(this.journalPath);
        syncFolder(dirname(this.path));
      }
    } finally {
      if (this.journalFd !== undefined) closeSync(this.journalFd);
      closeSync(this.fd);
    }
  }

  // --- internals ------------------------------------------------------------------------------

  private checkRange(offset: number, length: number): void {
    if (this.closed) throw new Error('disk is closed');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new RangeError(`disk access ${offset}+${length} beyond ${this.byteLength} bytes`);
    }
  }

  private readBase(into: Uint8Array, position: number): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.fd, into, done, into.length - done, position + done);
      if (n === 0) break; // the file shrank under us: the rest reads as zeros
      done += n;
    }
  }

  private applyToOverlay(offset: number, data: Uint8Array): void {
    forEachChunk(offset, data.length, CHUNK, (index, within, n, done) => {
      let chunk = this.overlay.get(index);
      if (chunk === undefined) {
        chunk = new Uint8Array(CHUNK);
        const start = index * CHUNK;
        this.readBase(chunk.subarray(0, Math.min(CHUNK, this.byteLength - start)), start);
        this.overlay.set(index, chunk);
      }
      chunk.set(data.subarray(done, done + n), within);
    });
  }

  private appendToJournal(record: Uint8Array): void {
    const fd = this.journalFd!;
    const at = this.journalBytes;
    try {
      writeAll(fd, record, at);
      this.journalBytes = at + record.length;
    } catch (err) {
      // A partial record would hide every later one from the replay: cut it off again.
      try {
        ftruncateSync(fd, at);
      } catch {
        this.broken = `disk journal ${this.journalPath} is unusable: ${fsReason(err)}`;
      }
      throw err;
    }
  }

  /** Writes the overlay into the file and empties the journal (both crash-safe: the journal goes last). */
  private checkpoint(): void {
    this.mergeOverlayIntoFile();
    ftruncateSync(this.journalFd!, JOURNAL_HEADER_BYTES);
    fsyncSync(this.journalFd!);
    this.journalBytes = JOURNAL_HEADER_BYTES;
    this.overlay.clear();
  }

  private mergeOverlayIntoFile(): void {
    for (const [index, chunk] of this.overlay) {
      const start = index * CHUNK;
      writeAll(this.fd, chunk.subarray(0, Math.min(CHUNK, this.byteLength - start)), start);
    }
    fsyncSync(this.fd);
  }

  /** Replays a journal left by a run that did not end cleanly (killed, host crash). */
  private recover(stats: Stats): RecoveredJournal | undefined {
    const journal = this.journalPath;
    let jstats: Stats;
    try {
      jstats = lstatSync(journal);
    } catch {
      return undefined; // no journal: the last run ended cleanly
    }
    // (open() closes the disk file when the constructor throws)
    const fail = (why: string): never => {
      throw new DiskFileError(`--disk ${this.path}: ${why}`);
    };
    if (!jstats.isFile()) fail(`${journal} is ${fileKind(jstats)}, not a disk journal; move it away`);
    let parsed;
    try {
      parsed = parseJournal(readFileSync(journal));
    } catch (err) {
      const why = err instanceof JournalFormatError ? err.message : fsReason(err);
      return fail(`${journal}: ${why}; move it away to use the disk`);
    }
    const h = parsed.header;
    if (h.pid !== process.pid && processExists(h.pid)) {
      fail(`the disk is in use by tabvisor process ${h.pid} (journal ${basename(journal)})`);
    }
    if (h.diskBytes !== stats.size || (h.inode !== 0 && h.inode !== stats.ino)) {
      fail(`${journal} belongs to another disk file (size or inode differ); move it away to use the disk`);
    }
    const bytes = parsed.records.reduce((sum, r) => sum + r.data.length, 0);
    if (this.writeBack) {
      for (const r of parsed.records) writeAll(this.fd, r.data, r.offset);
      fsyncSync(this.fd);
      unlinkSync(journal);
      syncFolder(dirname(this.path));
    } else {
      for (const r of parsed.records) this.applyToOverlay(r.offset, r.data);
    }
    // A journal without records (a run killed before the guest wrote) is not worth a word.
    return parsed.records.length === 0 ? undefined : { records: parsed.records.length, bytes, merged: this.writeBack };
  }

  private startJournal(stats: Stats): void {
    let fd: number;
    try {
      fd = openSync(this.journalPath, 'wx', stats.mode & 0o666);
    } catch (err) {
      throw new DiskFileError(`--disk-write-back: cannot create the journal ${this.journalPath}: ${fsReason(err)}`);
    }
    try {
      const header = encodeJournalHeader({ diskBytes: stats.size, inode: stats.ino, pid: process.pid });
      writeAll(fd, header, 0);
      fsyncSync(fd);
      syncFolder(dirname(this.path));
    } catch (err) {
      closeSync(fd);
      try { unlinkSync(this.journalPath); } catch { /* already gone */ }
      throw new DiskFileError(`--disk-write-back: cannot write the journal ${this.journalPath}: ${fsReason(err)}`);
    }
    this.journalFd = fd;
    this.journalBytes = JOURNAL_HEADER_BYTES;
  }
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

/** Makes a create, rename or unlink in `dir` durable; some file systems refuse to open a folder. */
export function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}

/** Whether `pid` is a live tabvisor (a reused pid of another program does not count, where /proc tells). */
export function processExists(pid: number): boolean {
  if (!processIsAlive(pid)) return false;
  if (!existsSync('/proc/self')) return true; // no /proc to ask: assume the worst
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('tabvisor');
  } catch {
    return false; // it ended meanwhile
  }
}
