// The x86 panic watch: only the end line of a panic counts, even when it arrives byte by byte.
import { describe, it, expect } from 'vitest';
import { PanicWatch } from '../../src/engines/v86/panic-watch.js';

function feed(watch: PanicWatch, text: string): string[] {
  const found: string[] = [];
  for (const ch of Buffer.from(text, 'latin1')) {
    const reason = watch.byte(ch);
    if (reason !== undefined) found.push(reason);
  }
  return found;
}

describe('v86 panic watch', () => {
  it('reports the reason of the end line, once', () => {
    const w = new PanicWatch();
    expect(feed(w, 'Kernel panic - not syncing: Attempted to kill init!\r\nKernel Offset: disabled\r\n')).toEqual([]);
    expect(feed(w, '---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000 ]---\r\n'))
      .toEqual(['Attempted to kill init! exitcode=0x00000000']);
  });

  it('ignores the words in ordinary output and an unfinished line', () => {
    const w = new PanicWatch();
    expect(feed(w, '/ # echo Kernel panic - not syncing: no\r\nKernel panic - not syncing: no\r\n')).toEqual([]);
    expect(feed(w, '---[ end Kernel panic - not syncing: half')).toEqual([]);
  });
});
