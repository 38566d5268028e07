// A VM's exchange folder: a MemoryFileShare the worker owns and the guest sees over 9p at
// /mnt/host (the page's VMs; docs/UI.md, "Files in and out"). Files the user drops arrive here
// from the page, and what the guest copies here leaves as a file or a tar. Bounded, so a guest
// or a drop cannot grow the worker's memory without limit.

import { ERRNO, isShareName, ShareError } from '../devices/backends/file-share.js';
import { MemoryFileShare } from '../devices/backends/memory-file-share.js';
import { tarFromShare, ShareTarError } from '../devices/backends/share-tar.js';

export const EXCHANGE_MAX_BYTES = 64 << 20;
export const EXCHANGE_MAX_ENTRIES = 4096;

export interface ExchangeFile {
  name: string;
  bytes: Uint8Array;
}

/** What leaves the exchange folder: a file as it is, a folder as a ustar archive. */
export interface ExchangeItem {
  kind: 'file' | 'tar';
  bytes: Uint8Array;
}

export function newExchangeShare(): MemoryFileShare {
  return new MemoryFileShare(false, { maxBytes: EXCHANGE_MAX_BYTES, maxEntries: EXCHANGE_MAX_ENTRIES });
}

/** Puts `files` in folder `dir` of the share (made when missing); all or none. */
export function putExchangeFiles(share: MemoryFileShare, dir: readonly string[], files: readonly ExchangeFile[]): void {
  for (const name of [...dir, ...files.map((f) => f.name)]) {
    if (!isShareName(name)) throw new Error(`'${name}' is not a usable file name (one name: no '/', not '.' or '..', at most 255 bytes)`);
  }
  const total = files.reduce((n, f) => n + f.bytes.length, 0);
  if (share.usedBytes + total > EXCHANGE_MAX_BYTES) {
    throw new Error(`the files (${mib(total)}) do not fit in the VM's exchange folder (${mib(EXCHANGE_MAX_BYTES)} at most)`);
  }
  try {
    for (const f of files) share.putFile([...dir, f.name], f.bytes);
  } catch (err) {
    if (dir.length > 0) share.removeTree(dir);
    throw new Error(shareMessage(err));
  }
}

/** The file or folder at `path`; a folder becomes a tar whose entries start with its name. */
export function takeFromExchange(share: MemoryFileShare, path: readonly string[]): ExchangeItem {
  try {
    const st = share.stat(path);
    if (st.kind === 'file') return { kind: 'file', bytes: share.getFile(path) };
    if (st.kind === 'dir') return { kind: 'tar', bytes: tarFromShare(share, path, EXCHANGE_MAX_BYTES) };
    throw new ShareError(ERRNO.EINVAL);
  } catch (err) {
    throw new Error(shareMessage(err));
  }
}

function shareMessage(err: unknown): string {
  if (err instanceof ShareTarError) return err.message;
  if (err instanceof ShareError) {
    switch (err.errno) {
      case ERRNO.ENOENT: return 'no such file or folder in the exchange folder';
      case ERRNO.ENOSPC: return `the exchange folder is full (${mib(EXCHANGE_MAX_BYTES)}, ${EXCHANGE_MAX_ENTRIES} entries at most)`;
      case ERRNO.EINVAL: return 'only files and folders can be taken out (not a link)';
      default: return `exchange folder error (errno ${err.errno})`;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(bytes < 1 << 20 ? 2 : 0)} MiB`;
}
