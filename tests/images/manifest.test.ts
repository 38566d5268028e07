// images/manifest.json is what every engine, the CLI and the UI boot from: each entry must be
// complete and every file it names must be in the repo with the recorded sha256.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8')) as {
  images: ImageEntry[];
};
const fileKeys = ['firmware', 'vgaBios', 'kernel', 'initrd'] as const;
const MiB = 1024 * 1024;

function namedFiles(entry: ImageEntry): string[] {
  return fileKeys.map((k) => entry[k]).filter((p): p is string => typeof p === 'string');
}

describe('images/manifest.json', () => {
  it('lists the x86 and riscv64 busybox images', () => {
    const names = manifest.images.map((e) => e.name);
    expect(names).toContain('x86-busybox');
    expect(names).toContain('riscv64-busybox');
  });

  it('has unique image names', () => {
    const names = manifest.images.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
  });

  describe.each(manifest.images.map((e) => [e.name, e] as const))('%s', (_name, entry) => {
    it('has every required field with a sensible value', () => {
      expect(entry.name).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      expect(['riscv64', 'i686']).toContain(entry.arch);
      expect(['rv64', 'v86']).toContain(entry.engine);
      // The engine decides the CPU: rv64 runs riscv64 guests, v86 runs x86 guests.
      expect(entry.engine === 'rv64' ? 'riscv64' : 'i686').toBe(entry.arch);
      expect(typeof entry.kernel).toBe('string');
      expect(typeof entry.cmdline).toBe('string');
      expect(entry.cmdline).toContain('console=');
      expect(Number.isInteger(entry.memoryMiB) && entry.memoryMiB >= 16).toBe(true);
      expect(entry.readyMarker).toBe('tabvisor-guest-ready');
      expect(typeof entry.firmware).toBe('string');
    });

    it('names repo-relative files under images/ only', () => {
      for (const path of namedFiles(entry)) {
        expect(path.startsWith('images/'), path).toBe(true);
        expect(normalize(path), path).toBe(path);
        expect(path.includes('..'), path).toBe(false);
      }
    });

    it('records a sha256 for exactly the files it names', () => {
      expect(Object.keys(entry.sha256).sort()).toEqual(namedFiles(entry).sort());
    });

    it('has every file in the repo, below 20 MiB, matching its sha256', () => {
      for (const path of namedFiles(entry)) {
        const abs = join(root, path);
        expect(existsSync(abs), `${path} is missing`).toBe(true);
        expect(statSync(abs).size, `${path} size`).toBeLessThan(20 * MiB);
        const digest = createHash('sha256').update(readFileSync(abs)).digest('hex');
        expect(digest, `${path} sha256`).toBe(entry.sha256[path]);
      }
    });

    it('has an uncompressed (newc cpio) initramfs', () => {
      if (!entry.initrd) return;
      const head = readFileSync(join(root, entry.initrd)).subarray(0, 6).toString('latin1');
      expect(head).toBe('070701');
    });
  });
});
