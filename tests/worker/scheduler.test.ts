import { describe, expect, it } from 'vitest';
import { SliceScheduler, type SchedDecision } from '../../src/worker/scheduler.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';

/** Simulated time: the test advances it by the instructions a slice retires. */
class FakeClock {
  t = 0;
  now(): number {
    return this.t;
  }
}

/** A guest that retires `ipms` instructions per simulated millisecond and never idles. */
interface SimVm {
  ipms: number;
  /** Instructions after which the VM goes idle (wfi), and for how long (undefined = until woken). */
  idleAfter?: { instructions: number; forMs?: number };
  retired: number;
}

function simulate(
  sched: SliceScheduler,
  clock: FakeClock,
  vms: Record<string, SimVm>,
  until: (round: number) => boolean,
): SchedDecision[] {
  const decisions: SchedDecision[] = [];
  for (let round = 0; !until(round); round++) {
    const d = sched.next();
    decisions.push(d);
    if (d.kind === 'run') {
      const vm = vms[d.vmId]!;
      let ran = d.budget;
      let idle: { wakeAt?: number } | undefined;
      if (vm.idleAfter && vm.retired + ran >= vm.idleAfter.instructions) {
        ran = Math.max(0, vm.idleAfter.instructions - vm.retired);
        clock.t += ran / vm.ipms;
        idle = { wakeAt: vm.idleAfter.forMs === undefined ? undefined : clock.t + vm.idleAfter.forMs };
        vm.idleAfter = undefined;
      } else {
        clock.t += ran / vm.ipms;
      }
      vm.retired += ran;
      sched.charge(d.vmId, { instructions: ran, idle });
    } else if (d.kind === 'sleep') {
      clock.t += d.ms;
    } else {
      break;
    }
  }
  return decisions;
}

const busy = (ipms = 10_000): SimVm => ({ ipms, retired: 0 });

describe('SliceScheduler: proportional share', () => {
  it('gives two busy VMs with weights 2:1 instructions in a 2:1 ratio', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock, quantum: 100_000 });
    sched.add('a', { weight: 2 });
    sched.add('b', { weight: 1 });
    const vms = { a: busy(), b: busy() };
    simulate(sched, clock, vms, (r) => r >= 3000);
    const ratio = sched.stats('a').instructions / sched.stats('b').instructions;
    expect(ratio).toBeGreaterThan(1.95);
    expect(ratio).toBeLessThan(2.05);
    expect(sched.stats('a').instructions + sched.stats('b').instructions).toBe(3000 * 100_000);
  });

  it('shares by weight even when the VMs run at different speeds (fair in instructions)', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('fast', { weight: 1 });
    sched.add('slow', { weight: 3 });
    const vms = { fast: busy(50_000), slow: busy(5_000) };
    simulate(sched, clock, vms, (r) => r >= 4000);
    const ratio = sched.stats('slow').instructions / sched.stats('fast').instructions;
    expect(ratio).toBeGreaterThan(2.9);
    expect(ratio).toBeLessThan(3.1);
  });

  it('a VM added late starts at the current virtual time: it does not take over the core', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('old');
    const vms = { old: busy(), late: busy() };
    simulate(sched, clock, vms, (r) => r >= 1000);
    sched.add('late');
    const decisions = simulate(sched, clock, vms, (r) => r >= 100);
    const late = decisions.filter((d) => d.kind === 'run' && d.vmId === 'late').length;
    expect(late).toBeGreaterThanOrEqual(49);
    expect(late).toBeLessThanOrEqual(51);
  });
});

describe('SliceScheduler: caps', () => {
  it('keeps a busy VM capped at 25% to at most 25% of simulated time, and tells the caller to sleep', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock, capWindowMs: 100 });
    sched.add('capped', { capPercent: 25 });
    const decisions = simulate(sched, clock, { capped: busy() }, () => clock.t >= 20_000);
    const s = sched.stats('capped');
    // Bound: 25% of the time plus one banked window (25 ms) and one slice (10 ms) of overdraft.
    expect(s.runMs).toBeLessThanOrEqual(0.25 * clock.t + 35);
    expect(s.cpuShare).toBeGreaterThan(0.24); // the cap is a limit, not a penalty
    expect(decisions.some((d) => d.kind === 'sleep' && d.reason === 'cap')).toBe(true);
  });

  it('gives the rest of the core to an uncapped VM while the capped one waits', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('capped', { capPercent: 25, weight: 10 });
    sched.add('free', { weight: 1 });
    const decisions = simulate(sched, clock, { capped: busy(), free: busy() }, () => clock.t >= 20_000);
    expect(sched.stats('capped').runMs).toBeLessThanOrEqual(0.25 * clock.t + 35);
    expect(sched.stats('free').runMs).toBeGreaterThan(0.74 * clock.t);
    expect(decisions.some((d) => d.kind === 'sleep')).toBe(false); // the core never idles
  });

  it('lifts a cap when it is removed', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('vm', { capPercent: 10 });
    simulate(sched, clock, { vm: busy() }, () => clock.t >= 1000);
    sched.setParams('vm', { capPercent: undefined });
    const before = sched.stats('vm').runMs;
    const start = clock.t;
    simulate(sched, clock, { vm: busy() }, () => clock.t >= start + 1000);
    expect(sched.stats('vm').runMs - before).toBeGreaterThan(990);
  });
});

describe('SliceScheduler: idle VMs', () => {
  it('gives an idle VM zero slices until it is woken, and it then runs in the very next slice', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('a');
    sched.add('b');
    sched.add('sleeper');
    const vms = { a: busy(), b: busy(), sleeper: { ...busy(), idleAfter: { instructions: 0 } } };
    simulate(sched, clock, vms, (r) => r >= 10); // sleeper runs once, retires 0, goes idle
    const slicesWhenIdle = sched.stats('sleeper').slices;
    simulate(sched, clock, vms, (r) => r >= 1000);
    expect(sched.stats('sleeper').slices).toBe(slicesWhenIdle);
    expect(sched.stats('sleeper').instructions).toBe(0);
    expect(sched.stats('sleeper').state).toBe('idle');

    sched.wake('sleeper'); // console input arrives
    const next = sched.next();
    expect(next).toEqual({ kind: 'run', vmId: 'sleeper', budget: sched.quantum });
  });

  it('a woken VM cannot claim the time it slept: it gets its share, not a burst', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('busy');
    sched.add('sleeper');
    const vms = { busy: busy(), sleeper: { ...busy(), idleAfter: { instructions: 0 } } };
    simulate(sched, clock, vms, (r) => r >= 2000);
    sched.wake('sleeper');
    const decisions = simulate(sched, clock, vms, (r) => r >= 200);
    const sleeperRuns = decisions.filter((d) => d.kind === 'run' && d.vmId === 'sleeper').length;
    expect(sleeperRuns).toBeGreaterThanOrEqual(100);
    expect(sleeperRuns).toBeLessThanOrEqual(101);
  });

  it('returns the time to the earliest timer deadline when every VM idles', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('t1');
    sched.add('t2');
    const first = sched.next();
    expect(first.kind).toBe('run');
    sched.charge((first as { vmId: string }).vmId, { instructions: 500, idle: { wakeAt: 40 } });
    const second = sched.next();
    sched.charge((second as { vmId: string }).vmId, { instructions: 500, idle: { wakeAt: 15 } });
    expect(sched.next()).toEqual({ kind: 'sleep', ms: 15, reason: 'timer' });
    clock.t = 15;
    expect(sched.next()).toMatchObject({ kind: 'run', vmId: (second as { vmId: string }).vmId });
  });

  it('says "wait" when nothing can run and no deadline is pending', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    expect(sched.next()).toEqual({ kind: 'wait' });
    sched.add('vm');
    const d = sched.next();
    sched.charge('vm', { instructions: 10, idle: {} });
    expect(d.kind).toBe('run');
    expect(sched.next()).toEqual({ kind: 'wait' });
  });

  it('never runs a paused VM, even when its timer fires, and resumes it where it was', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('p');
    sched.add('q');
    sched.pause('p');
    const decisions = simulate(sched, clock, { p: busy(), q: busy() }, (r) => r >= 50);
    expect(decisions.every((d) => d.kind === 'run' && d.vmId === 'q')).toBe(true);
    sched.wake('p'); // an interrupt while paused is remembered, not acted on
    expect(sched.stats('p').state).toBe('paused');
    sched.resume('p');
    expect(sched.next()).toMatchObject({ kind: 'run', vmId: 'p' });
  });

  it('does not bill a slice for a VM removed while it ran', () => {
    const clock = new FakeClock();
    const sched = new SliceScheduler({ clock });
    sched.add('gone');
    sched.next();
    sched.remove('gone');
    expect(() => sched.charge('gone', { instructions: 100 })).not.toThrow();
    expect(sched.vmIds()).toEqual([]);
  });
});

describe('SliceScheduler: parameters', () => {
  it('refuses nonsense weights and caps with a clear message', () => {
    const sched = new SliceScheduler({ clock: new FakeClock() });
    expect(() => sched.add('a', { weight: 0 })).toThrow(HypervisorError);
    expect(() => sched.add('a', { weight: 0 })).toThrow('weight must be a number from 0.1 to 1000, got 0');
    expect(() => sched.add('b', { capPercent: 150 })).toThrow('cap must be a percentage of one core from 1 to 100 (or none), got 150');
    sched.add('c');
    expect(() => sched.add('c')).toThrow("scheduler already has VM 'c'");
  });
});
