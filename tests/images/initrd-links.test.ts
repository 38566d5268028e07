// Every command a guest user types must exist: each symlink in an image's initramfs has to resolve,
// inside the archive, to a real file (a link computed on the build host once pointed nowhere).
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCpio, type CpioEntry } from './cpio.js';

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
