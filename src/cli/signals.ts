// Ending a run from outside: SIGTERM, SIGINT, SIGHUP, and a closed stdout. While a guest runs,
// the first of these ends the run cleanly (the disk journal is merged into the --disk file, the
// terminal restored); tabvisor then exits 128 + the signal number (0 for a closed stdout). A
// second one, or one that arrives while nothing runs, exits at once (a --disk-write-back journal
// left behind is replayed by the next run).

export const STOP_SIGNALS = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

/** Ends the active run with this exit status; `why` is printed as a `tabvisor:` line when given. */
type StopHandler = (code: number, why?: string) => void;

let handler: StopHandler | undefined;
let stopping = false;

/** Asks the active run to end; without one (or on a second request) exits at once. */
export function requestStop(code: number, why: string | undefined, exitNow: (code: number) => void): void {
  if (handler && !stopping) {
    stopping = true;
    handler(code, why);
  } else {
    exitNow(code);
  }
}

export function installStopSignals(exitNow: (code: number) => void): void {
  for (const signal of Object.keys(STOP_SIGNALS) as StopSignal[]) {
    process.on(signal, () => requestStop(STOP_SIGNALS[signal], `stopped by ${signal}`, exitNow));
  }
}

/** Routes the first stop request to `h` (instead of exiting) until the returned function is called. */
export function onStopRequest(h: StopHandler): () => void {
  handler = h;
  return () => {
    if (handler === h) handler = undefined;
  };
}
