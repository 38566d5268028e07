// File-share back ends: the host side of a 9p share. The 9p server (src/devices/p9) turns guest
// requests into these calls. Paths are arrays of names already checked by the server (no '/',
// no '.', no '..', no NUL); a back end must still make sure nothing it does leaves its root
// (never follow a symlink on the host side). Errors are ShareError with a Linux errno, which
// the guest sees as the error of its system call. Synchronous, like the block back ends.

export const ERRNO = {
  EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EBUSY: 16, EEXIST: 17, EXDEV: 18,
  ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EMFILE: 24, EFBIG: 27, ENOSPC: 28, EROFS: 30, ERANGE: 34,
  ENAMETOOLONG: 36, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, ENODATA: 61, EPROTO: 71, EOPNOTSUPP: 95,
  EDQUOT: 122,
} as const;

export class ShareError extends Error {
  constructor(readonly errno: number, message = `errno ${errno}`) {
    super(message);
    this.name = 'ShareError';
  }
}

export type ShareKind = 'file' | 'dir' | 'symlink' | 'other';

export interface ShareStat {
  kind: ShareKind;
  /** st_mode with the file type bits, as Linux has them. */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  blocks: number;
  /** A stable number for the file (the qid path). */
  ino: bigint;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface ShareStatfs {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

export interface ShareDirEntry {
  name: string;
  kind: ShareKind;
  ino: bigint;
}

/** Open flags as Linux passes them in Tlopen/Tlcreate (only these bits are honoured). */
export const O_ACCMODE = 3;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;

export interface FileShare {
  readonly readOnly: boolean;
  /** lstat: a symlink is reported as a symlink, never followed. */
  stat(path: readonly string[]): ShareStat;
  readdir(path: readonly string[]): ShareDirEntry[];
  /** Opens a regular file; returns a handle for read/write/fsync/close. */
  open(path: readonly string[], flags: number): number;
  /** Creates (O_CREAT | flags) a regular file `name` in `dir` and opens it. */
  create(dir: readonly string[], name: string, flags: number, mode: number): number;
  read(handle: number, offset: number, length: number): Uint8Array;
  write(handle: number, offset: number, data: Uint8Array): number;
  fsync(handle: number): void;
  close(handle: number): void;
  mkdir(dir: readonly string[], name: string, mode: number): void;
  symlink(dir: readonly string[], name: string, target: string): void;
  readlink(path: readonly string[]): string;
  link(dir: readonly string[], name: string, existing: readonly string[]): void;
  /** Removes `name` in `dir`; a folder only with `dir` true (it must be empty). */
  unlink(dir: readonly string[], name: string, isDir: boolean): void;
  rename(fromDir: readonly string[], fromName: string, toDir: readonly string[], toName: string): void;
  setattr(path: readonly string[], change: { mode?: number; size?: number; atimeMs?: number; mtimeMs?: number }): void;
  statfs(): ShareStatfs;
}

/** Linux file type bits of st_mode. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** Longest name of one path element (Linux NAME_MAX). */
export const MAX_SHARE_NAME_BYTES = 255;

/**
 * True for a name that is one path element and never a way out: not empty, not `.` or `..`, no
 * `/` or NUL, at most 255 bytes. What the 9p server checks of the guest's names and the host
 * side (the page's uploads) of its own.
 */
export function isShareName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') &&
    new TextEncoder().encode(name).length <= MAX_SHARE_NAME_BYTES;
}
