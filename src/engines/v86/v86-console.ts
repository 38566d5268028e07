// v86 reports through the global console: console.warn from set_state ("Note: Memory size
// mismatch"), console.log from its wasm (a Rust panic message just before the wasm traps). Those
// lines would land in the user's stdout/stderr between guest bytes, so every call into v86 that
// can print runs with the console captured, and the engine decides what (if anything) to say.

const CAPTURED = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/** Keeps the last lines v86 printed, for error messages. */
export class V86Messages {
  private lines: string[] = [];

  constructor(private readonly keep = 8) {}

  add(line: string): void {
    for (const part of line.split('\n')) {
      const text = part.trim();
      if (text === '') continue;
      this.lines.push(text);
      if (this.lines.length > this.keep) this.lines.shift();
    }
  }

  /** The lines printed since the last take(), oldest first. */
  take(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }

  /** Stands in for every captured console method (made once: capture() runs on every v86 tick). */
  private readonly sink = (...args: unknown[]): void => this.add(args.map(describe).join(' '));
  private readonly saved: ((...args: unknown[]) => void)[] = [];
  private capturing = false;

  /** Runs fn (synchronously) with the global console writing into this log instead. */
  capture<T>(fn: () => T): T {
    if (this.capturing) return fn(); // nested: the console is already ours
    this.capturing = true;
    const saved = this.saved;
    for (let i = 0; i < CAPTURED.length; i++) {
      const name = CAPTURED[i]!;
      saved[i] = console[name];
      console[name] = this.sink;
    }
    try {
      return fn();
    } finally {
      for (let i = 0; i < CAPTURED.length; i++) console[CAPTURED[i]!] = saved[i]!;
      this.capturing = false;
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The reason of a Rust panic that v86's wasm printed before trapping ("panicked at FILE:\nREASON"). */
export function panicReason(lines: readonly string[]): string | undefined {
  const at = lines.findIndex((l) => l.startsWith('panicked at '));
  if (at < 0) return undefined;
  const reason = lines.slice(at + 1).join('; ');
  return reason !== '' ? reason : lines[at];
}

/** v86's set_state warning: "Note: Memory size mismatch. we=N state=M" (bytes). */
export function memoryMismatch(lines: readonly string[]): { machine: number; state: number } | undefined {
  for (const line of lines) {
    const m = /Memory size mismatch\. we=(\d+) state=(\d+)/.exec(line);
    if (m) return { machine: Number(m[1]), state: Number(m[2]) };
  }
  return undefined;
}
