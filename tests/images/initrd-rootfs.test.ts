// The committed initramfs archives are built from the committed init scripts: every file of
// images/build/rootfs is in each archive with the same bytes and mode (an edit to a script
// without a rebuild of the images fails here).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCpio } from './cpio.js';

const root = join(import.meta.dirname, '..', '..');
const rootfs = join(root, 'images', 'build', 'rootfs');
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8')) as {
  images: { name: string; initrd?: string }[];
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? filesUnder(join(dir, d.name)) : [join(dir, d.name)]);
}

describe('initramfs init scripts', () => {
  const files = filesUnder(rootfs).map((f) => relative(rootfs, f).split('\\').join('/'));
  for (const image of manifest.images.filter((i) => i.initrd)) {
    it(`${image.name}: has every file of images/build/rootfs, same bytes and mode`, () => {
      expect(files).toContain('etc/init.d/rcS');
      const byName = new Map(readCpio(new Uint8Array(readFileSync(join(root, image.initrd!)))).map((e) => [e.name, e]));
      for (const f of files) {
        const entry = byName.get(f);
        expect(entry, `${f} missing from ${image.initrd}`).toBeDefined();
        expect(Buffer.from(entry!.data).equals(readFileSync(join(rootfs, f))), `${f} differs from images/build/rootfs`).toBe(true);
        const want = statSync(join(rootfs, f)).mode & 0o100 ? 0o755 : 0o644;
        expect((entry!.mode & 0o777).toString(8), `${f} mode`).toBe(want.toString(8));
      }
    });
  }
});
