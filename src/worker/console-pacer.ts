// Console input on its last step to the guest, beside the device: a terminal's cursor position
// report goes in alone, and what follows it waits until the guest has read the report and run a
// little (REPORT_SETTLE_MS of its own run time).
//
// Why: a shell's line editor may ask the terminal where the cursor is (`ESC [ 6 n`; BusyBox ash
// does after every prompt when built with ASK_TERMINAL, as Debian's busybox-static is) and the
// terminal answers on the input side (`ESC [ row ; col R`). BusyBox 1.35 reads up to 15 bytes
// after the ESC while more keep coming within 50 ms, parses the report and drops the rest: a line
// typed or pasted right behind the report lost its first ten characters (`echo answer-42` ran as
// `r-42`). Spacing the two on the sender's wall clock is not enough: a worker busy with a slice,
// or a guest starved of CPU, receives both at once. So the wait is measured here, in what the
// guest has done: its device's receive buffer empty, then REPORT_SETTLE_MS of run time.

import type { Engine } from '../engines/engine.js';

/** Run time the guest gets, after reading a cursor report, before the next input reaches it. */
export const REPORT_SETTLE_MS = 100;
/** How often a held queue looks at the guest's progress. */
export const PACER_POLL_MS = 10;

type Piece = Uint8Array | string;

/** A terminal's cursor position report (CPR): ESC [ row ; col R. */
const REPORT = /\x1b\[\d{1,5};\d{1,5}R/;
const SINGLE_BYTE = new TextDecoder('latin1');

/**
 * Where the first cursor position report in `data` ends (the offset just after its `R`), or -1.
 * Most input holds no ESC at all: only then is it looked at as text.
 */
function reportEnd(data: Piece): number {
  const esc = typeof data === 'string' ? data.indexOf('\x1b') : data.indexOf(0x1b);
  if (esc < 0) return -1;
  // One UTF-16 unit per byte (windows-1252), so offsets in the text are offsets in the bytes.
  const text = typeof data === 'string' ? data.slice(esc) : SINGLE_BYTE.decode(data.subarray(esc));
  const m = REPORT.exec(text);
  return m ? esc + m.index + m[0].length : -1;
}

/**
 * `data` cut just after its first cursor position report: [up to and with the report, the rest],
 * or undefined when it holds none or nothing follows it.
 */
export function splitAfterReport(data: Piece): [Piece, Piece] | undefined {
  const end = reportEnd(data);
  return end < 0 || end === data.length ? undefined : [data.slice(0, end), data.slice(end)];
}

/** True when `data` ends with a cursor position report. */
export function endsWithReport(data: Piece): boolean {
  return reportEnd(data) === data.length;
}

/** What the pacer needs of an engine. */
export type PacedEngine = Pick<Engine, 'sendConsole' | 'stats' | 'consoleInputWaiting'>;

export class ConsolePacer {
  private readonly queue: Piece[] = [];
  /** Set while input waits behind a report: the guest's run time when its device was seen empty. */
  private hold: { drainedAtRunMs: number | undefined } | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly engine: PacedEngine,
    /** Called after input went to the engine (an idle guest should run soon). */
    private readonly sent: () => void = () => undefined,
  ) {}

  /** True while input waits behind a cursor report. */
  get holding(): boolean {
    return this.hold !== undefined;
  }

  send(data: Piece): void {
    if (data.length === 0) return;
    if (this.hold) {
      this.queue.push(typeof data === 'string' ? data : data.slice());
      return;
    }
    this.deliver(data);
  }

  /** Looks at the guest's progress; releases held input once the report has settled. */
  poll(): void {
    const hold = this.hold;
    if (!hold) return;
    if ((this.engine.consoleInputWaiting?.() ?? 0) > 0) {
      hold.drainedAtRunMs = undefined;
      return;
    }
    const runMs = this.engine.stats().runMs;
    hold.drainedAtRunMs ??= runMs;
    if (runMs - hold.drainedAtRunMs < REPORT_SETTLE_MS) return;
    this.release();
    while (this.queue.length > 0 && !this.hold) this.deliver(this.queue.shift()!);
  }

  /** Drops held input (the machine was replaced or destroyed). */
  clear(): void {
    this.queue.length = 0;
    this.release();
  }

  private deliver(data: Piece): void {
    const cut = splitAfterReport(data);
    const head = cut ? cut[0] : data;
    this.engine.sendConsole(head);
    this.sent();
    if (cut) this.queue.unshift(cut[1]);
    if (endsWithReport(head)) this.startHold();
  }

  private startHold(): void {
    this.hold = { drainedAtRunMs: undefined };
    this.timer ??= setInterval(() => this.poll(), PACER_POLL_MS);
  }

  private release(): void {
    this.hold = undefined;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
