// A cap for an engine that runs flat out in its own loop (v86): the host pauses it for part of
// the time. It runs about cap × periodMs, is paused until the time it has run since the cycle
// began (the engine's runMs) is back within cap × elapsed time, and so on; the pause absorbs any
// overshoot, so the long-run share is the cap. Done next to the engine, in the VM host, so no
// pause has to cross a thread (docs/HYPERVISOR.md, "Time slices in a VM host").
import type { Engine } from '../engines/engine.js';

export class DutyCycleCap {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The step in flight (an engine pause or resume); stop() waits for it. */
  private step: Promise<void> = Promise.resolve();
  private base: { at: number; runMs: number } | undefined;
  private active = false;
  private held = false;

  constructor(
    private readonly engine: Engine,
    private capPercent: number,
    private readonly now: () => number,
    private readonly periodMs = 100,
    /** Told each time the cap starts or stops holding the engine. */
    private readonly onThrottle: (throttled: boolean) => void = () => {},
  ) {}

  /** True while the cap holds the engine paused. */
  get throttled(): boolean {
    return this.held;
  }

  private setThrottled(value: boolean): void {
    if (value === this.held) return;
    this.held = value;
    this.onThrottle(value);
  }

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
      this.setThrottled(false);
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
    this.setThrottled(true);
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
    this.setThrottled(false);
    await this.engine.resume();
    this.schedule(() => this.throttle(), this.budgetMs());
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
