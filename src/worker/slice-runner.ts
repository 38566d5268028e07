// Executes SliceScheduler's decisions for VMs that can run a bounded slice of guest code (the
// RV64 engine's run(n)). Meant for a worker that hosts several such VMs on its one thread:
// it runs slices back to back for at most `burstMs`, then yields to the event loop so messages
// (console input, pause, stats) get in; it sleeps with a timer when the scheduler says so, and
// waits without any timer when nothing can run until an event.
//
// Time and timers are injected (RunnerHost), so tests drive it with a simulated clock.

import type { SchedParams, SliceScheduler } from './scheduler.js';

/** What one slice did: the shape Rv64Machine.runSlice (src/engines/rv64/machine.ts) returns. */
export interface SliceOutcome {
  instructions: number;
  /** The hart idles (wfi): ms until its timer fires; undefined = only an event can wake it. */
  idle?: { msUntilTimer: number | undefined } | undefined;
  /** The machine stopped for good (power-off, reboot request, crash). */
  exit?: unknown;
}

/** A VM that can run a bounded slice of guest code synchronously (an Rv64Machine is one). */
export interface SliceTarget {
  /** Runs at most `budget` guest instructions; returns early when the hart idles or the machine stops. */
  runSlice(budget: number): SliceOutcome;
}

/** Time and deferral, from the environment (or a test). */
export interface RunnerHost {
  /** Milliseconds, monotonic; the same clock the scheduler uses. */
  now(): number;
  /** Calls `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
  /** Calls `fn` soon, after pending messages (setImmediate in Node, a MessageChannel in a page). */
  defer(fn: () => void): void;
}

export interface SliceRunnerOptions {
  /** Longest stretch of guest code before yielding to the event loop; 8 ms by default. */
  burstMs?: number;
  /** A VM whose slice threw: it is removed; the others keep running. */
  onFault?: (vmId: string, error: unknown) => void;
  /** A VM whose slice reported `exit`: it is removed; the others keep running. */
  onExit?: (vmId: string, exit: unknown) => void;
}

type LoopState = 'idle' | 'queued' | 'running' | 'sleeping';

const MAX_TIMER_MS = 2 ** 31 - 1;

export class SliceRunner {
  private readonly targets = new Map<string, SliceTarget>();
  private readonly burstMs: number;
  private readonly onFault: (vmId: string, error: unknown) => void;
  private readonly onExit: (vmId: string, exit: unknown) => void;
  private state: LoopState = 'idle';
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  /** Number of times the loop gave the thread back (for tests and stats). */
  yields = 0;

  constructor(
    private readonly scheduler: SliceScheduler,
    private readonly host: RunnerHost,
    options: SliceRunnerOptions = {},
  ) {
    this.burstMs = options.burstMs ?? 8;
    this.onFault = options.onFault ?? (() => {});
    this.onExit = options.onExit ?? (() => {});
  }

  add(vmId: string, target: SliceTarget, params: SchedParams = {}): void {
    this.scheduler.add(vmId, params);
    this.targets.set(vmId, target);
    this.kick();
  }

  remove(vmId: string): void {
    this.targets.delete(vmId);
    this.scheduler.remove(vmId);
  }

  setParams(vmId: string, params: SchedParams): void {
    this.scheduler.setParams(vmId, params);
    this.kick();
  }

  pause(vmId: string): void {
    this.scheduler.pause(vmId);
  }

  resume(vmId: string): void {
    this.scheduler.resume(vmId);
    this.kick();
  }

  /** An interrupt or console input for an idle VM: it runs in the next slice. */
  wake(vmId: string): void {
    this.scheduler.wake(vmId);
    this.kick();
  }

  /** Ends the loop; a stopped runner does nothing more. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.state = 'idle';
  }

  /** 'idle' when waiting for an event, 'sleeping' until a timer, otherwise busy. */
  get loopState(): LoopState {
    return this.state;
  }

  /** Makes sure a turn is coming: after an event that may have made a VM runnable. */
  private kick(): void {
    if (this.stopped || this.state === 'queued' || this.state === 'running') return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.state = 'queued';
    this.host.defer(() => this.turn());
  }

  private turn(): void {
    if (this.stopped) return;
    this.state = 'running';
    const start = this.host.now();
    // The slice count bounds a turn too, in case slices take no measurable time.
    for (let slices = 0; slices < 10_000 && this.host.now() - start < this.burstMs; slices++) {
      const decision = this.scheduler.next();
      if (decision.kind === 'run') {
        const target = this.targets.get(decision.vmId);
        if (!target) {
          this.scheduler.remove(decision.vmId);
          continue;
        }
        let outcome: SliceOutcome;
        try {
          outcome = target.runSlice(decision.budget);
        } catch (error) {
          this.remove(decision.vmId);
          this.onFault(decision.vmId, error);
          continue;
        }
        if (outcome.exit !== undefined) {
          this.remove(decision.vmId);
          this.onExit(decision.vmId, outcome.exit);
          continue;
        }
        const ms = outcome.idle?.msUntilTimer;
        this.scheduler.charge(decision.vmId, {
          instructions: outcome.instructions,
          idle: outcome.idle ? { wakeAt: ms === undefined ? undefined : this.host.now() + ms } : undefined,
        });
        if (this.stopped) return;
        continue;
      }
      if (decision.kind === 'sleep') {
        this.state = 'sleeping';
        this.cancelTimer = this.host.setTimer(() => {
          this.cancelTimer = undefined;
          this.state = 'idle';
          this.kick();
        }, decision.ms);
        return;
      }
      this.state = 'idle'; // 'wait': nothing until add / resume / wake
      return;
    }
    this.yields++;
    this.state = 'queued';
    this.host.defer(() => this.turn());
  }
}

/** RunnerHost for Node and browsers (workers included). */
export function systemRunnerHost(): RunnerHost {
  const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  let defer: (fn: () => void) => void;
  if (typeof setImmediate === 'function') {
    defer = (fn) => setImmediate(fn);
  } else {
    // setTimeout(0) is clamped to 4 ms after a few nestings; a MessageChannel is not.
    const channel = new MessageChannel();
    const queue: Array<() => void> = [];
    channel.port1.onmessage = () => queue.shift()?.();
    defer = (fn) => {
      queue.push(fn);
      channel.port2.postMessage(null);
    };
  }
  return {
    now,
    defer,
    setTimer: (fn, ms) => {
      // A timer cannot hold more than 2^31-1 ms (longer ones fire at once, with a warning each time).
      const handle = setTimeout(fn, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
      return () => clearTimeout(handle);
    },
  };
}
