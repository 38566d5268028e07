// When the hypervisor gives freed memory back on its own: enough reported free since the last
// reclaim, not too often, and a new machine's counter starting again from zero.
import { describe, expect, it } from 'vitest';
import { ReclaimPolicy } from '../../src/hypervisor/reclaim-policy.js';

const MiB = 1024 * 1024;

describe('ReclaimPolicy', () => {
  it('waits for enough reported free memory, then not again before the gap, counting from the reclaim', () => {
    const p = new ReclaimPolicy({ minFreedBytes: 64 * MiB, minGapMs: 30_000 });
    expect(p.wants('a', 63 * MiB, 0)).toBe(false);
    expect(p.wants('a', 64 * MiB, 0)).toBe(true);
    p.done('a', 1000);
    // The new machine's counter restarts at zero; 70 MiB reported, but only 10 s later.
    expect(p.wants('a', 70 * MiB, 11_000)).toBe(false);
    expect(p.wants('a', 70 * MiB, 31_000)).toBe(true);
    expect(p.wants('b', 10 * MiB, 31_000)).toBe(false);
  });

  it('after a refused reclaim waits for that much more; counts from zero when the counter went back (a new machine)', () => {
    const p = new ReclaimPolicy({ minFreedBytes: 64 * MiB, minGapMs: 0 });
    expect(p.wants('a', 100 * MiB, 0)).toBe(true);
    p.done('a', 0, 100 * MiB); // refused: the same machine, its counter stays
    expect(p.wants('a', 150 * MiB, 1)).toBe(false);
    expect(p.wants('a', 164 * MiB, 2)).toBe(true);
    // A restore or a move replaced the machine: its counter starts again below the last one.
    expect(p.wants('a', 20 * MiB, 3)).toBe(false);
    expect(p.wants('a', 64 * MiB, 4)).toBe(true);
    p.forget('a');
    expect(p.wants('a', 65 * MiB, 5)).toBe(true);
  });

  it('waits while the guest is busy (its engine ran most of the time since the last look), at most maxDeferMs', () => {
    const p = new ReclaimPolicy({ minFreedBytes: 64 * MiB, minGapMs: 0, maxDeferMs: 60_000 });
    // The first look knows nothing of the guest's load yet: it waits for the next one.
    expect(p.wants('a', 100 * MiB, 0, 0)).toBe(false);
    expect(p.wants('a', 100 * MiB, 1_000, 10)).toBe(true);
    p.done('a', 1_000);
    // Busy: 4.5 s of run time in 5 s; enough freed, but the reclaim waits.
    expect(p.wants('a', 100 * MiB, 6_000, 4_510)).toBe(false);
    expect(p.wants('a', 100 * MiB, 10_000, 9_000)).toBe(false);
    // Idle again (0.1 s in 5 s): it goes ahead.
    expect(p.wants('a', 100 * MiB, 15_000, 9_100)).toBe(true);
    p.done('a', 15_000);
    // Busy for good: the reclaim waits 60 s, then goes ahead anyway.
    let run = 9_100;
    let answer = false;
    let at = 20_000;
    for (; at <= 20_000 + 70_000 && !answer; at += 5_000) {
      run += 5_000;
      answer = p.wants('a', 100 * MiB, at, run);
    }
    expect(answer).toBe(true);
    // The first busy look (20 s) starts the wait; the answer comes 60 s later, not before.
    expect(at - 5_000).toBe(20_000 + 60_000);
  });
});
