// A folder of a file share as one ustar archive (POSIX.1-1988), for "download a folder" in the
// page. Files, folders and symlinks; names longer than ustar holds use the prefix field and are
// refused past 255 bytes. Bounded: the archive stops growing at `maxBytes` with an error.

import { ERRNO, ShareError, type FileShare } from './file-share.js';

const BLOCK = 512;
const encoder = new TextEncoder();

export class ShareTarError extends Error {}

/** Archives `path` (a file or a folder) of `share`; entry names start with the folder's own name. */
export function tarFromShare(share: FileShare, path: readonly string[], maxBytes = 512 << 20): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array) => {
    total += b.length;
    if (total > maxBytes) throw new ShareTarError(`the archive would exceed ${maxBytes >> 20} MiB`);
    parts.push(b);
  };
  const base = path.length > 0 ? path[path.length - 1] : 'share';
  const visit = (p: readonly string[], name: string, depth: number) => {
    if (depth > 64) throw new ShareTarError('folders nest too deep');
    const st = share.stat(p);
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.kind === 'dir') {
      push(header(`${name}/`, st.mode & 0o7777, 0, mtime, '5', ''));
      for (const e of share.readdir(p).sort((a, b) => (a.name < b.name ? -1 : 1))) visit([...p, e.name], `${name}/${e.name}`, depth + 1);
    } else if (st.kind === 'symlink') {
      push(header(name, 0o777, 0, mtime, '2', share.readlink(p)));
    } else if (st.kind === 'file') {
      const h = share.open(p, 0);
      try {
        push(header(name, st.mode & 0o7777, st.size, mtime, '0', ''));
        let off = 0;
        while (off < st.size) {
          const chunk = share.read(h, off, Math.min(1 << 20, st.size - off));
          if (chunk.length === 0) break;
          push(chunk);
          off += chunk.length;
        }
        // A file that shrank meanwhile is padded to the size its header promised.
        if (off < st.size) push(new Uint8Array(st.size - off));
        const pad = (BLOCK - (st.size % BLOCK)) % BLOCK;
        if (pad > 0) push(new Uint8Array(pad));
      } finally {
        share.close(h);
      }
    }
    // other kinds (devices, FIFOs) are left out
  };
  try {
    visit(path, base, 0);
  } catch (err) {
    if (err instanceof ShareError && err.errno === ERRNO.ENOENT) throw new ShareTarError(`'${path.join('/')}' does not exist in the share`);
    throw err;
  }
  push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function header(name: string, mode: number, size: number, mtime: number, type: string, link: string): Uint8Array {
  const h = new Uint8Array(BLOCK);
  let full = encoder.encode(name);
  let prefix = new Uint8Array(0);
  if (full.length > 100) {
    // Split at a '/' so the name fits in 100 bytes and the prefix in 155.
    const s = name;
    let cut = -1;
    for (let i = s.length - 1; i > 0; i--) {
      if (s[i] !== '/') continue;
      if (encoder.encode(s.slice(i + 1)).length <= 100 && encoder.encode(s.slice(0, i)).length <= 155) {
        cut = i;
        break;
      }
    }
    if (cut < 0) throw new ShareTarError(`name too long for a tar archive: ${name.slice(0, 40)}...`);
    prefix = encoder.encode(s.slice(0, cut));
    full = encoder.encode(s.slice(cut + 1));
  }
  const linkBytes = encoder.encode(link);
  if (linkBytes.length > 100) throw new ShareTarError(`symlink target too long for a tar archive: ${link.slice(0, 40)}...`);
  h.set(full, 0);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum counts as spaces
  h[156] = type.charCodeAt(0);
  h.set(linkBytes, 157);
  h.set(encoder.encode('ustar\0'), 257);
  h.set(encoder.encode('00'), 263);
  h.set(prefix, 345);
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 7, sum);
  return h;
}

function octal(h: Uint8Array, at: number, width: number, value: number): void {
  const s = Math.max(0, Math.floor(value)).toString(8).padStart(width - 1, '0');
  if (s.length > width - 1) throw new ShareTarError('value too large for a tar header');
  h.set(encoder.encode(s), at);
  h[at + width - 1] = 0;
}
