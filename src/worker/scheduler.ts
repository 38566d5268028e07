// Time-slice scheduling of several VMs on one core (one worker). Pure logic: no timers, no
// engines. The caller asks `next()`, executes what it says (run a VM for N instructions, or
// sleep), then reports what happened with `charge()`. Time comes from an injected clock.
//
// Policy (see docs/HYPERVISOR.md, "Scheduler"):
// - Proportional share by stride scheduling over instructions retired: each VM has a `pass`
//   that grows by instructions / weight; the runnable VM with the lowest pass runs next. Two
//   busy VMs with weights 2:1 therefore retire instructions 2:1.
// - Caps (% of one core) are a token bucket over wall time, as Xen's credit scheduler parks a
//   VM over its cap: a capped VM earns cap% of each elapsed millisecond, pays for the wall
//   time of its slices, may hold at most one window's worth, and may not run while in debt.
// - A VM that idles (wfi, halted) or is paused is not runnable and costs nothing. An idle VM
//   wakes at its timer deadline or on `wake()` (interrupt, console input); it then runs in the
//   next slice, without being able to claim the time it slept.

import { HypervisorError } from '../hypervisor/errors.js';
import { capProblem, weightProblem } from './schedule-limits.js';

export interface SchedulerClock {
  /** Milliseconds, monotonic. */
  now(): number;
}

export const systemClock: SchedulerClock = {
  now: () => (typeof performance !== 'undefined' ? performance.now() : Date.now()),
};

export interface SchedulerOptions {
  clock?: SchedulerClock;
  /** Instructions per slice. The RV64 host runs slices of about 10^5. */
  quantum?: number;
  /** Caps are measured over this window: a capped VM may bank at most one window's share. */
  capWindowMs?: number;
}

export interface SchedParams {
  /** Relative share when VMs compete (0.1 to 1000, schedule-limits.ts); 1 by default. */
  weight?: number;
  /** At most this percentage of one core's wall time (1 to 100, schedule-limits.ts); none by default. */
  capPercent?: number | undefined;
}

export type SchedVmState = 'runnable' | 'idle' | 'paused';

export type SchedDecision =
  | { kind: 'run'; vmId: string; budget: number }
  /** Nothing may run for `ms`: every runnable VM is over its cap, or all sleep until a deadline. */
  | { kind: 'sleep'; ms: number; reason: 'cap' | 'timer' }
  /** Nothing to run and no deadline: wait for an event (wake, resume, add). */
  | { kind: 'wait' };

export interface SliceReport {
  /** Instructions retired in the slice. */
  instructions: number;
  /** Present when the VM went idle (wfi, halt): it sleeps until `wakeAt` (clock ms) or an event. */
  idle?: { wakeAt?: number | undefined } | undefined;
}

export interface SchedVmStats {
  state: SchedVmState;
  weight: number;
  capPercent: number | undefined;
  instructions: number;
  slices: number;
  /** Wall milliseconds spent in this VM's slices. */
  runMs: number;
  /** runMs / wall time since the VM was added: its share of this core. */
  cpuShare: number;
}

interface SchedVm {
  id: string;
  weight: number;
  capPercent: number | undefined;
  state: SchedVmState;
  /** Resume into this state after a pause (an idle VM paused and resumed is still idle). */
  stateBeforePause: Exclude<SchedVmState, 'paused'>;
  wakeAt: number | undefined;
  pass: number;
  /** Cap bucket, in wall milliseconds; negative = in debt, may not run. */
  credit: number;
  creditAt: number;
  instructions: number;
  slices: number;
  runMs: number;
  addedAt: number;
  lastRunSeq: number;
}

const DEFAULT_QUANTUM = 100_000;
const DEFAULT_CAP_WINDOW_MS = 100;

export class SliceScheduler {
  private readonly vms = new Map<string, SchedVm>();
  private readonly clock: SchedulerClock;
  readonly quantum: number;
  readonly capWindowMs: number;
  private running: { vmId: string; startedAt: number } | undefined;
  private seq = 0;
  /** Virtual time: the pass of the last VM picked. Newcomers and returning VMs start from it. */
  private vtime = 0;

  constructor(options: SchedulerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.quantum = options.quantum ?? DEFAULT_QUANTUM;
    this.capWindowMs = options.capWindowMs ?? DEFAULT_CAP_WINDOW_MS;
    if (!(this.quantum >= 1)) throw new HypervisorError('bad-argument', `scheduler quantum must be >= 1, got ${this.quantum}`);
    if (!(this.capWindowMs > 0)) throw new HypervisorError('bad-argument', `cap window must be > 0 ms, got ${this.capWindowMs}`);
  }

  /** Adds a runnable VM. It starts at the current virtual time, so it neither waits nor hoards. */
  add(vmId: string, params: SchedParams = {}): void {
    if (this.vms.has(vmId)) throw new HypervisorError('bad-argument', `scheduler already has VM '${vmId}'`);
    const now = this.clock.now();
    const vm: SchedVm = {
      id: vmId,
      weight: 1,
      capPercent: undefined,
      state: 'runnable',
      stateBeforePause: 'runnable',
      wakeAt: undefined,
      pass: this.vtime,
      credit: 0,
      creditAt: now,
      instructions: 0,
      slices: 0,
      runMs: 0,
      addedAt: now,
      lastRunSeq: 0,
    };
    this.applyParams(vm, params);
    this.vms.set(vmId, vm);
  }

  remove(vmId: string): void {
    this.vms.delete(vmId);
    if (this.running?.vmId === vmId) this.running = undefined;
  }

  has(vmId: string): boolean {
    return this.vms.has(vmId);
  }

  setParams(vmId: string, params: SchedParams): void {
    const vm = this.get(vmId);
    this.refill(vm, this.clock.now());
    this.applyParams(vm, params);
  }

  /** The VM is paused by the user: never runnable, not woken by timers, until resume(). */
  pause(vmId: string): void {
    const vm = this.get(vmId);
    if (vm.state === 'paused') return;
    vm.stateBeforePause = vm.state;
    vm.state = 'paused';
  }

  resume(vmId: string): void {
    const vm = this.get(vmId);
    if (vm.state !== 'paused') return;
    vm.state = vm.stateBeforePause;
    if (vm.state === 'runnable') this.rejoin(vm);
  }

  /** An event for an idle VM (interrupt, console input): it runs in the next slice. */
  wake(vmId: string): void {
    const vm = this.get(vmId);
    if (vm.state === 'paused') {
      vm.stateBeforePause = 'runnable';
      return;
    }
    if (vm.state !== 'idle') return;
    this.makeRunnable(vm);
  }

  /** What the caller should do now. */
  next(): SchedDecision {
    const now = this.clock.now();
    for (const vm of this.vms.values()) {
      if (vm.state === 'idle' && vm.wakeAt !== undefined && vm.wakeAt <= now) this.makeRunnable(vm);
    }
    let best: SchedVm | undefined;
    let capWaitMs = Infinity;
    for (const vm of this.vms.values()) {
      if (vm.state !== 'runnable') continue;
      if (vm.capPercent !== undefined) {
        this.refill(vm, now);
        if (vm.credit < 0) {
          capWaitMs = Math.min(capWaitMs, -vm.credit / (vm.capPercent / 100));
          // Time its cap holds it back is not owed to it later (when the cap is lifted, say).
          vm.pass = Math.max(vm.pass, this.vtime - this.quantum / vm.weight);
          continue;
        }
      }
      if (!best || vm.pass < best.pass || (vm.pass === best.pass && vm.lastRunSeq < best.lastRunSeq)) best = vm;
    }
    if (best) {
      best.lastRunSeq = ++this.seq;
      this.vtime = Math.max(this.vtime, best.pass);
      this.running = { vmId: best.id, startedAt: now };
      return { kind: 'run', vmId: best.id, budget: this.quantum };
    }
    this.running = undefined;
    let timerWaitMs = Infinity;
    for (const vm of this.vms.values()) {
      if (vm.state === 'idle' && vm.wakeAt !== undefined) timerWaitMs = Math.min(timerWaitMs, vm.wakeAt - now);
    }
    if (capWaitMs === Infinity && timerWaitMs === Infinity) return { kind: 'wait' };
    return capWaitMs <= timerWaitMs
      ? { kind: 'sleep', ms: capWaitMs, reason: 'cap' }
      : { kind: 'sleep', ms: Math.max(0, timerWaitMs), reason: 'timer' };
  }

  /** Reports the slice that `next()` asked for. Wall time is measured with the clock. */
  charge(vmId: string, report: SliceReport): void {
    const vm = this.vms.get(vmId);
    const running = this.running;
    this.running = undefined;
    if (!vm || running?.vmId !== vmId) return; // removed or re-planned meanwhile: nothing to bill
    const now = this.clock.now();
    const elapsed = Math.max(0, now - running.startedAt);
    if (vm.capPercent !== undefined) {
      this.refill(vm, now);
      vm.credit -= elapsed;
    }
    vm.instructions += report.instructions;
    vm.runMs += elapsed;
    vm.slices += 1;
    // A slice that retired nothing still costs a little, so a VM cannot win every pick for free.
    vm.pass += Math.max(report.instructions, 1) / vm.weight;
    if (report.idle) {
      const target = vm.state === 'paused' ? 'stateBeforePause' : 'state';
      vm[target] = 'idle';
      vm.wakeAt = report.idle.wakeAt;
    }
  }

  stats(vmId: string): SchedVmStats {
    const vm = this.get(vmId);
    const wall = this.clock.now() - vm.addedAt;
    return {
      state: vm.state,
      weight: vm.weight,
      capPercent: vm.capPercent,
      instructions: vm.instructions,
      slices: vm.slices,
      runMs: vm.runMs,
      cpuShare: wall > 0 ? vm.runMs / wall : 0,
    };
  }

  vmIds(): string[] {
    return [...this.vms.keys()];
  }

  private get(vmId: string): SchedVm {
    const vm = this.vms.get(vmId);
    if (!vm) throw new HypervisorError('unknown-vm', `scheduler has no VM '${vmId}'`);
    return vm;
  }

  private applyParams(vm: SchedVm, params: SchedParams): void {
    const problem = weightProblem(params.weight) ?? ('capPercent' in params ? capProblem(params.capPercent) : undefined);
    if (problem) throw new HypervisorError('bad-argument', problem);
    if (params.weight !== undefined) vm.weight = params.weight;
    if ('capPercent' in params) {
      vm.capPercent = params.capPercent;
      vm.credit = Math.min(vm.credit, 0);
    }
  }

  private refill(vm: SchedVm, now: number): void {
    if (vm.capPercent === undefined) return;
    const rate = vm.capPercent / 100;
    vm.credit = Math.min(vm.credit + (now - vm.creditAt) * rate, this.capWindowMs * rate);
    vm.creditAt = now;
  }

  private makeRunnable(vm: SchedVm): void {
    vm.state = 'runnable';
    vm.wakeAt = undefined;
    this.rejoin(vm);
  }

  /**
   * A VM back from idle or pause gets a pass one quantum below virtual time: it runs next
   * (a woken guest answers promptly) but cannot spend the time it slept.
   */
  private rejoin(vm: SchedVm): void {
    vm.pass = Math.max(vm.pass, this.vtime - this.quantum / vm.weight);
    vm.lastRunSeq = 0;
  }
}
