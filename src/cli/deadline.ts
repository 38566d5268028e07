// The --timeout clock. It runs from the start of the process (performance.now() counts from
// there), so reading the input files counts too, and it fires on its own timer: the guest is
// stopped within one engine burst of the deadline, whatever it is doing.

/** setTimeout's longest delay is 2^31 - 1 ms; longer timeouts are refused (args.ts). */
export const MAX_TIMEOUT_SEC = 2_147_483;

export class Deadline {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private listener: (() => void) | undefined;
  private fired = false;

  constructor(readonly seconds: number | undefined) {
    if (seconds === undefined) return;
    this.timer = setTimeout(() => {
      this.fired = true;
      this.listener?.();
    }, Math.max(0, seconds * 1000 - performance.now()));
  }

  get expired(): boolean {
    return this.fired;
  }

  /** Milliseconds left, or undefined without a timeout. */
  remainingMs(): number | undefined {
    return this.seconds === undefined ? undefined : Math.max(0, this.seconds * 1000 - performance.now());
  }

  /** Calls `listener` when the time is up (at once if it already is); replaces an earlier listener. */
  onExpire(listener: () => void): void {
    this.listener = listener;
    if (this.fired) listener();
  }

  /** Resolves with 'timeout' when the time is up (never without a timeout). */
  whenExpired(): Promise<'timeout'> {
    return new Promise((resolve) => this.onExpire(() => resolve('timeout')));
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.listener = undefined;
  }
}
