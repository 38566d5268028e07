// A folder of a file share as one ustar archive, for "download a folder" in the page. Files,
// folders and symlinks (devices and FIFOs are left out). Bounded: the archive stops growing at
// `maxBytes` with an error.

import { TAR_END, concat, tarEntryBytes, TarFormatError } from '../../snapshot/tar.js';
import { ERRNO, ShareError, type FileShare } from './file-share.js';

export class ShareTarError extends Error {}

/** Archives `path` (a file or a folder) of `share`; entry names start with the folder's own name. */
export function tarFromShare(share: FileShare, path: readonly string[], maxBytes = 512 << 20): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (chunks: Uint8Array[]) => {
    for (const b of chunks) {
      total += b.length;
      if (total > maxBytes) throw new ShareTarError(`the archive would exceed ${maxBytes >> 20} MiB`);
      parts.push(b);
    }
  };
  const visit = (p: readonly string[], name: string, depth: number) => {
    if (depth > 64) throw new ShareTarError('folders nest too deep');
    const st = share.stat(p);
    const mtime = Math.floor(st.mtimeMs / 1000);
    const mode = st.mode & 0o7777;
    if (st.kind === 'dir') {
      push(tarEntryBytes({ name, type: 'dir', mode, mtime }));
      for (const e of share.readdir(p).sort((a, b) => (a.name < b.name ? -1 : 1))) visit([...p, e.name], `${name}/${e.name}`, depth + 1);
    } else if (st.kind === 'symlink') {
      push(tarEntryBytes({ name, type: 'symlink', target: share.readlink(p), mtime }));
    } else if (st.kind === 'file') {
      if (total + st.size > maxBytes) throw new ShareTarError(`the archive would exceed ${maxBytes >> 20} MiB`);
      push(tarEntryBytes({ name, type: 'file', data: readWhole(share, p, st.size), mode, mtime }));
    }
  };
  try {
    visit(path, path.length > 0 ? path[path.length - 1] : 'share', 0);
  } catch (err) {
    if (err instanceof ShareError && err.errno === ERRNO.ENOENT) throw new ShareTarError(`'${path.join('/')}' does not exist in the share`);
    if (err instanceof TarFormatError) throw new ShareTarError(err.message);
    throw err;
  }
  push([TAR_END]);
  return concat(parts);
}

/** A file's bytes as its size said when listed (a file that shrank meanwhile is padded with zeros). */
function readWhole(share: FileShare, path: readonly string[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  const h = share.open(path, 0);
  try {
    for (let off = 0; off < size;) {
      const chunk = share.read(h, off, Math.min(1 << 20, size - off));
      if (chunk.length === 0) break;
      out.set(chunk, off);
      off += chunk.length;
    }
  } finally {
    share.close(h);
  }
  return out;
}
