// Every command a guest user types must exist: each symlink in an image's initramfs has to resolve,
// inside the archive, to a real file (a link computed on the build host once pointed nowhere).
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';

interface CpioEntry { name: string; mode: number; data: Uint8Array }

/** Reads a "newc" cpio archive (the format the kernel unpacks). */
function readCpio(buf: Uint8Array): CpioEntry[] {
  const text = new TextDecoder();
  const entries: CpioEntry[] = [];
  let off = 0;
  const hex = (at: number) => parseInt(text.decode(buf.subarray(at, at + 8)), 16);
  for (;;) {
    const magic = text.decode(buf.subarray(off, off + 6));
    if (magic !== '070701' && magic !== '070702') throw new Error(`bad cpio magic at ${off}`);
    const mode = hex(off + 14);
    const fileSize = hex(off + 54);
    const nameSize = hex(off + 94);
    const nameStart = off + 110;
    const name = text.decode(buf.subarray(nameStart, nameStart + nameSize - 1));
    const dataStart = (nameStart + nameSize + 3) & ~3;
    if (name === 'TRAILER!!!') return entries;
    entries.push({ name: name.replace(/^\.?\//, ''), mode, data: buf.subarray(dataStart, dataStart + fileSize) });
    off = (dataStart + fileSize + 3) & ~3;
  }
}

const S_IFMT = 0o170000, S_IFLNK = 0o120000, S_IFREG = 0o100000;

const manifest = JSON.parse(readFileSync('images/manifest.json', 'utf8')) as {
  images: { name: string; initrd?: string }[];
};

describe('initramfs symlinks', () => {
  for (const image of manifest.images.filter((i) => i.initrd)) {
    it(`${image.name}: every link (e.g. /usr/bin/head) leads to a file in the archive`, () => {
      const entries = readCpio(new Uint8Array(readFileSync(image.initrd!)));
      const byName = new Map(entries.map((e) => [e.name, e]));
      const resolve = (path: string): CpioEntry | undefined => {
        for (let hops = 0; hops < 16; hops++) {
          const e = byName.get(path);
          if (!e || (e.mode & S_IFMT) !== S_IFLNK) return e;
          const target = new TextDecoder().decode(e.data).replace(/\0+$/, ''); // some writers store the NUL
          path = posix.normalize(target.startsWith('/') ? target.slice(1) : posix.join(posix.dirname(path), target));
        }
        return undefined;
      };
      const links = entries.filter((e) => (e.mode & S_IFMT) === S_IFLNK);
      expect(links.length).toBeGreaterThan(50);
      const broken = links.filter((l) => ((resolve(l.name)?.mode ?? 0) & S_IFMT) !== S_IFREG);
      expect(broken.map((l) => l.name)).toEqual([]);
      for (const cmd of ['usr/bin/head', 'bin/sh']) expect(byName.has(cmd), cmd).toBe(true);
    });
  }
});
