// SIGTERM, SIGINT and SIGHUP. While a guest runs, the first one ends the run cleanly (the disk
// journal is merged into the --disk file, the terminal restored) and tabvisor exits 128 + the
// signal number. A second one, or one that arrives while nothing runs, exits at once (a
// --disk-write-back journal left behind is replayed by the next run).

export const STOP_SIGNALS = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

let handler: ((signal: StopSignal) => void) | undefined;
let handled = false;

export function installStopSignals(exitNow: (code: number) => void): void {
  for (const signal of Object.keys(STOP_SIGNALS) as StopSignal[]) {
    process.on(signal, () => {
      if (handler && !handled) {
        handled = true;
        handler(signal);
      } else {
        exitNow(STOP_SIGNALS[signal]);
      }
    });
  }
}

/** Routes the first stop signal to `h` (instead of exiting) until the returned function is called. */
export function onStopSignal(h: (signal: StopSignal) => void): () => void {
  handler = h;
  return () => {
    if (handler === h) handler = undefined;
  };
}
