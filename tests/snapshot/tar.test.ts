// ustar writing and reading: round trips through the system tar both ways, and damaged archives.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTar, TarFormatError, writeTar } from '../../src/snapshot/tar.js';

describe('tar', () => {
  it('writes what the system tar extracts, and reads what the system tar writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tv-tar-'));
    try {
      const big = Uint8Array.from({ length: 70000 }, (_, i) => (i * 13) & 255);
      writeFileSync(join(dir, 'ours.tar'), writeTar([
        { name: 'a', type: 'dir' },
        { name: 'a/x.bin', type: 'file', data: big },
        { name: `a/${'n'.repeat(90)}/${'m'.repeat(60)}`, type: 'file', data: new TextEncoder().encode('long') },
        { name: 'a/l', type: 'symlink', target: 'x.bin' },
      ]));
      mkdirSync(join(dir, 'out'));
      execFileSync('tar', ['-xf', '../ours.tar'], { cwd: join(dir, 'out') });
      expect(readFileSync(join(dir, 'out/a/x.bin'))).toEqual(Buffer.from(big));
      expect(readFileSync(join(dir, 'out/a', 'n'.repeat(90), 'm'.repeat(60)), 'utf8')).toBe('long');
      expect(() => writeTar([{ name: 'n'.repeat(101), type: 'file' }])).toThrow(/name too long/);
      expect(readFileSync(join(dir, 'out/a/l'))).toEqual(Buffer.from(big));

      mkdirSync(join(dir, 'src/sub'), { recursive: true });
      writeFileSync(join(dir, 'src/sub/f.txt'), 'hello');
      symlinkSync('sub/f.txt', join(dir, 'src/link'));
      execFileSync('tar', ['--format=ustar', '-cf', '../theirs.tar', '.'], { cwd: join(dir, 'src') });
      const entries = readTar(readFileSync(join(dir, 'theirs.tar')));
      const byName = Object.fromEntries(entries.map((e) => [e.name.replace(/^\.\//, ''), e]));
      expect(new TextDecoder().decode(byName['sub/f.txt'].data)).toBe('hello');
      expect(byName['sub'].type).toBe('dir');
      expect(byName['link']).toMatchObject({ type: 'symlink', target: 'sub/f.txt' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses damaged, truncated and endless archives', () => {
    const good = writeTar([{ name: 'f', type: 'file', data: new Uint8Array(1000).fill(1) }]);
    const flipped = good.slice();
    flipped[10] ^= 1;
    expect(() => readTar(flipped)).toThrow(TarFormatError);
    expect(() => readTar(good.subarray(0, 700))).toThrow(/past the end/);
    expect(() => readTar(good.subarray(0, 1536))).toThrow(/end marker/);
    const many = writeTar(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, type: 'file' as const })));
    expect(() => readTar(many, 10)).toThrow(/more than 10/);
  });
});
