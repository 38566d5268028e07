// A cap for an engine that runs flat out in its own loop (v86): the host pauses it for part of
// the time. It runs about cap × periodMs, is paused until the time it has run since the cycle
// began (the engine's runMs) is back within cap × elapsed time, and so on; the pause absorbs any
// overshoot, so the long-run share is the cap. The same duty cycle the hypervisor runs for hosts
// without a scheduler (docs/HYPERVISOR.md, "Caps for VMs that run flat out"), done next to the
// engine so no pause has to cross a thread.
import type { Engine } from '../engines/engine.js';

export class DutyCycleCap {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The step in flight (an engine pause or resume); stop() waits for it. */
  private step: Promise<void> = Promise.resolve();
  private base: { at: number; runMs: number } | undefined;
  private active = false;
  /** True while the cap holds the engine paused. */
  throttled = false;

  constructor(
    private readonly engine: Engine,
    private capPercent: number,
    private readonly now: () => number,
    private readonly periodMs = 100,
  ) {}

  get percent(): number {
    return this.capPercent;
  }

  /** Starts the cycle (the engine runs); a new cap starts a new measurement. */
  start(capPercent = this.capPercent): void {
    this.capPercent = capPercent;
    this.clearTimer();
    this.active = true;
    this.base = { at: this.now(), runMs: this.engine.stats().runMs };
    this.schedule(() => this.throttle(), this.budgetMs());
  }

  /**
   * Ends the cycle. The engine is left as it is (paused if the cap held it): `release` resumes a
   * held engine (the cap was lifted); a caller about to pause or destroy it passes false.
   */
  async stop(release: boolean): Promise<void> {
    this.active = false;
    this.clearTimer();
    await this.step;
    if (this.throttled) {
      this.throttled = false;
      if (release) await this.engine.resume();
    }
  }

  private budgetMs(): number {
    return (this.capPercent / 100) * this.periodMs;
  }

  private schedule(fn: () => Promise<void>, ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.active) return;
      this.step = this.step.then(fn).catch(() => {
        // The engine failed or exited meanwhile: its exit event ends the VM, and the cycle with it.
        this.active = false;
      });
    }, Math.max(0, ms));
  }

  private async throttle(): Promise<void> {
    if (!this.active || !this.engine.running) return;
    await this.engine.pause();
    this.throttled = true;
    const runMs = this.engine.stats().runMs;
    const at = this.now();
    const base = this.base!;
    const cap = this.capPercent / 100;
    let pauseMs = (runMs - base.runMs) / cap - (at - base.at);
    if (pauseMs < 0) {
      // Under the cap (the guest idled): bank at most one period.
      if (-pauseMs * cap > this.budgetMs()) this.base = { at, runMs };
      pauseMs = 0;
    }
    this.schedule(() => this.unthrottle(), pauseMs);
  }

  private async unthrottle(): Promise<void> {
    if (!this.active || !this.throttled) return;
    this.throttled = false;
    await this.engine.resume();
    this.schedule(() => this.throttle(), this.budgetMs());
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
