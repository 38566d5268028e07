import { describe, expect, it } from 'vitest';
import { SliceScheduler } from '../../src/worker/scheduler.js';
import { SliceRunner, type RunnerHost, type SliceTarget } from '../../src/worker/slice-runner.js';

/** A simulated event loop: deferred callbacks run first, then timers in time order. */
class SimHost implements RunnerHost {
  t = 0;
  deferred: Array<() => void> = [];
  timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  sleptMs = 0;

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  /** Runs the loop until simulated time `until` (or until nothing is left to do). */
  runUntil(until: number): void {
    while (this.t < until) {
      const next = this.deferred.shift();
      if (next) {
        next();
        continue;
      }
      const live = this.timers.filter((x) => x.live).sort((a, b) => a.at - b.at);
      const timer = live[0];
      if (!timer || timer.at > until) {
        this.t = until;
        return;
      }
      timer.live = false;
      this.sleptMs += Math.max(0, timer.at - this.t);
      this.t = Math.max(this.t, timer.at);
      timer.fn();
    }
  }
}

/** A guest retiring `ipms` instructions per simulated ms; it may idle until woken. */
class SimGuest implements SliceTarget {
  retired = 0;
  slices = 0;
  idleNext = false;
  /** When idling: ms until the guest's timer (undefined: until woken). */
  timerMs: number | undefined;
  throwNext: Error | undefined;
  exitNext: unknown;
  constructor(
    private readonly host: SimHost,
    private readonly ipms = 10_000,
  ) {}

  runSlice(budget: number) {
    this.slices++;
    if (this.throwNext) throw this.throwNext;
    if (this.exitNext !== undefined) return { instructions: 10, exit: this.exitNext };
    if (this.idleNext) {
      this.idleNext = false;
      return { instructions: 0, idle: { msUntilTimer: this.timerMs } };
    }
    this.host.t += budget / this.ipms;
    this.retired += budget;
    return { instructions: budget };
  }
}

function rig(burstMs = 8) {
  const host = new SimHost();
  const scheduler = new SliceScheduler({ clock: host });
  const faults: Array<[string, string]> = [];
  const exits: Array<[string, unknown]> = [];
  const runner = new SliceRunner(scheduler, host, {
    burstMs,
    onFault: (id, e) => faults.push([id, (e as Error).message]),
    onExit: (id, exit) => exits.push([id, exit]),
  });
  return { host, scheduler, runner, faults, exits };
}

describe('SliceRunner', () => {
  it('runs two busy VMs 2:1 by weight and gives the thread back at least every burst', () => {
    const { host, runner } = rig(8);
    const a = new SimGuest(host);
    const b = new SimGuest(host);
    runner.add('a', a, { weight: 2 });
    runner.add('b', b, { weight: 1 });
    host.runUntil(3000);
    expect(a.retired / b.retired).toBeGreaterThan(1.95);
    expect(a.retired / b.retired).toBeLessThan(2.05);
    // 3000 ms of guest code in bursts of at most 8 ms (+ one 10 ms slice): many yields.
    expect(runner.yields).toBeGreaterThanOrEqual(3000 / 18 - 1);
  });

  it('sleeps on a timer when the only VM is capped, instead of spinning', () => {
    const { host, runner, scheduler } = rig();
    const g = new SimGuest(host);
    runner.add('g', g, { capPercent: 25 });
    host.runUntil(10_000);
    const s = scheduler.stats('g');
    expect(s.runMs).toBeLessThanOrEqual(0.25 * 10_000 + 35);
    expect(s.runMs).toBeGreaterThan(0.24 * 10_000);
    expect(host.sleptMs).toBeGreaterThan(0.7 * 10_000);
  });

  it('does not run an idle VM, waits with no timer when all idle, and runs a woken VM at once', () => {
    const { host, runner } = rig();
    const g = new SimGuest(host);
    g.idleNext = true;
    runner.add('g', g);
    host.runUntil(1000);
    expect(g.slices).toBe(1);
    expect(runner.loopState).toBe('idle');
    expect(host.timers.filter((t) => t.live)).toEqual([]);
    runner.wake('g'); // console input arrives
    expect(runner.loopState).toBe('queued');
    host.deferred.shift()!();
    expect(g.slices).toBeGreaterThan(1);
  });

  it('removes a VM whose slice throws and keeps running the others', () => {
    const { host, runner, faults } = rig();
    const bad = new SimGuest(host);
    const good = new SimGuest(host);
    runner.add('bad', bad);
    runner.add('good', good);
    host.runUntil(100);
    bad.throwNext = new Error('wasm trap: out of bounds memory access');
    const before = good.retired;
    host.runUntil(1000);
    expect(faults).toEqual([['bad', 'wasm trap: out of bounds memory access']]);
    expect(good.retired - before).toBeGreaterThan(800 * 10_000);
  });

  it('sleeps until the timer of an idle guest, then runs it', () => {
    const { host, runner } = rig();
    const g = new SimGuest(host);
    g.idleNext = true;
    g.timerMs = 40;
    runner.add('g', g);
    host.runUntil(30);
    expect(g.slices).toBe(1);
    expect(runner.loopState).toBe('sleeping');
    expect(host.timers.filter((t) => t.live).map((t) => t.at)).toEqual([40]); // the guest's deadline
    host.runUntil(45);
    expect(g.slices).toBeGreaterThan(1);
  });

  it('removes a VM whose machine stopped (exit) and reports it, the others keep running', () => {
    const { host, runner, exits } = rig();
    const off = new SimGuest(host);
    const on = new SimGuest(host);
    runner.add('off', off);
    runner.add('on', on);
    off.exitNext = { kind: 'poweroff', code: 0 };
    host.runUntil(500);
    expect(exits).toEqual([['off', { kind: 'poweroff', code: 0 }]]);
    expect(off.slices).toBe(1);
    expect(on.retired).toBeGreaterThan(400 * 10_000);
  });

  it('does not run a paused VM; resume brings it back', () => {
    const { host, runner } = rig();
    const p = new SimGuest(host);
    const q = new SimGuest(host);
    runner.add('p', p);
    runner.add('q', q);
    runner.pause('p');
    const slices = p.slices;
    host.runUntil(500);
    expect(p.slices).toBe(slices);
    runner.resume('p');
    host.runUntil(1000);
    expect(p.slices).toBeGreaterThan(slices);
  });

  it('stops for good', () => {
    const { host, runner } = rig();
    const g = new SimGuest(host);
    runner.add('g', g);
    host.runUntil(50);
    runner.stop();
    const slices = g.slices;
    host.runUntil(500);
    expect(g.slices).toBe(slices);
  });
});
