// Which labs' Web Locks guard a saved disk (src/ui/saved-disks.ts): every lab name the key could
// start with, since lab names may hold '.'.
import { describe, expect, it } from 'vitest';
import { labCandidates } from '../../src/ui/saved-disks.js';
import { diskKey } from '../../src/ui/page-disks.js';

describe('saved disks', () => {
  it('a key names every lab it could belong to, its own lab among them', () => {
    expect(labCandidates('default.riscv')).toEqual(['default']);
    expect(labCandidates('net.lab.v1.router')).toEqual(['net', 'net.lab', 'net.lab.v1']);
    expect(labCandidates('nodot')).toEqual([]);
    for (const [lab, vm] of [['a.b', 'c.d'], ['x', 'y'], ['course-2026', 'web.server']]) expect(labCandidates(diskKey(lab!, vm!))).toContain(lab);
  });
});
