// The disk trailer of v86 machine states (src/engines/v86/v86-disk-state.ts).
import { describe, expect, it } from 'vitest';
import { joinV86State, splitV86State } from '../../src/engines/v86/v86-disk-state.js';

describe('v86 state with its disk', () => {
  const v86 = new Uint8Array(1000).map((_, i) => i & 0xff);
  const disk = new Uint8Array(4096).fill(7);

  it('splits back into the v86 state, the disk and its generation', () => {
    const whole = joinV86State(v86, disk, 'abc:12');
    const split = splitV86State(whole);
    expect(split.v86).toEqual(v86);
    expect(split.disk?.bytes).toEqual(disk);
    expect(split.disk?.generation).toBe('abc:12');
    expect(splitV86State(joinV86State(v86, disk, undefined)).disk?.generation).toBeUndefined();
  });

  it('leaves a state without a trailer whole, and refuses a damaged trailer', () => {
    expect(splitV86State(v86)).toEqual({ v86 });
    const whole = joinV86State(v86, disk, 'g');
    whole[whole.length - 20] ^= 1; // a length in the tail
    expect(() => splitV86State(whole)).toThrow(/damaged/);
  });
});
