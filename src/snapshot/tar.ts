// ustar archives (POSIX.1-1988), written and read: a folder downloaded from a share, and the
// lab hand-in file (lab, results, log and one snapshot per VM). Reading is bounded: entry
// count, name length, sizes against the archive's own length; a damaged archive is refused
// with TarFormatError, never read past its end.

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

export type TarEntryType = 'file' | 'dir' | 'symlink';

export interface TarEntry {
  /** Path inside the archive, '/'-separated, no leading '/'; folders without the trailing '/'. */
  name: string;
  type: TarEntryType;
  data?: Uint8Array;
  /** Symlink target. */
  target?: string;
  mode?: number;
  /** Seconds since 1970. */
  mtime?: number;
}

/** Header and padded body of one entry. */
export function tarEntryBytes(e: TarEntry): Uint8Array[] {
  const size = e.type === 'file' ? (e.data?.length ?? 0) : 0;
  const name = e.type === 'dir' ? `${e.name}/` : e.name;
  const type = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
  const mode = e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644);
  const out = [header(name, mode, size, e.mtime ?? 0, type, e.target ?? '')];
  if (size > 0) {
    out.push(e.data!);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad > 0) out.push(new Uint8Array(pad));
  }
  return out;
}

/** The two zero blocks that end an archive. */
export const TAR_END = new Uint8Array(2 * BLOCK);

export function writeTar(entries: readonly TarEntry[]): Uint8Array {
  return concat([...entries.flatMap(tarEntryBytes), TAR_END]);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads every file, folder and symlink; other entry types are skipped. */
export function readTar(bytes: Uint8Array, maxEntries = 10000): TarEntry[] {
  const out: TarEntry[] = [];
  let at = 0;
  while (at + BLOCK <= bytes.length) {
    const h = bytes.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) return out;
    if (out.length >= maxEntries) throw new TarFormatError(`more than ${maxEntries} entries`);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    if (sum !== readOctal(h, 148, 8)) throw new TarFormatError(`damaged header at byte ${at}`);
    const size = readOctal(h, 124, 12);
    const prefix = cString(h, 345, 155);
    let name = cString(h, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    const typeChar = String.fromCharCode(h[156] || 0x30);
    at += BLOCK;
    if (at + size > bytes.length) throw new TarFormatError(`entry '${name}' runs past the end of the archive`);
    const data = bytes.subarray(at, at + size);
    at += Math.ceil(size / BLOCK) * BLOCK;
    const mode = readOctal(h, 100, 8);
    const mtime = readOctal(h, 136, 12);
    if (typeChar === '0' || typeChar === '7') out.push({ name, type: 'file', data, mode, mtime });
    else if (typeChar === '5') out.push({ name: name.replace(/\/+$/, ''), type: 'dir', mode, mtime });
    else if (typeChar === '2') out.push({ name, type: 'symlink', target: cString(h, 157, 100), mode, mtime });
  }
  throw new TarFormatError('the archive ends without its end marker');
}

function header(name: string, mode: number, size: number, mtime: number, type: string, link: string): Uint8Array {
  const h = new Uint8Array(BLOCK);
  let nameBytes = encoder.encode(name);
  let prefix = new Uint8Array(0);
  if (nameBytes.length > 100) {
    // Split at a '/' so the name fits in 100 bytes and the prefix in 155.
    let cut = -1;
    for (let i = name.length - 1; i > 0; i--) {
      if (name[i] !== '/') continue;
      if (encoder.encode(name.slice(i + 1)).length <= 100 && encoder.encode(name.slice(0, i)).length <= 155) {
        cut = i;
        break;
      }
    }
    if (cut < 0) throw new TarFormatError(`name too long for a tar archive: ${name.slice(0, 40)}...`);
    prefix = encoder.encode(name.slice(0, cut));
    nameBytes = encoder.encode(name.slice(cut + 1));
  }
  const linkBytes = encoder.encode(link);
  if (linkBytes.length > 100) throw new TarFormatError(`symlink target too long for a tar archive: ${link.slice(0, 40)}...`);
  h.set(nameBytes, 0);
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // the checksum field counts as spaces
  h[156] = type.charCodeAt(0);
  h.set(linkBytes, 157);
  h.set(encoder.encode('ustar\0'), 257);
  h.set(encoder.encode('00'), 263);
  h.set(prefix, 345);
  let sum = 0;
  for (const b of h) sum += b;
  writeOctal(h, 148, 7, sum);
  return h;
}

function writeOctal(h: Uint8Array, at: number, width: number, value: number): void {
  const s = Math.max(0, Math.floor(value)).toString(8).padStart(width - 1, '0');
  if (s.length > width - 1) throw new TarFormatError('value too large for a tar header');
  h.set(encoder.encode(s), at);
  h[at + width - 1] = 0;
}

function readOctal(h: Uint8Array, at: number, width: number): number {
  const s = cString(h, at, width).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError('damaged number in a tar header');
  return parseInt(s, 8);
}

function cString(h: Uint8Array, at: number, width: number): string {
  const field = h.subarray(at, at + width);
  const end = field.indexOf(0);
  return decoder.decode(end < 0 ? field : field.subarray(0, end));
}
