// The recent output of a VM's console, kept so that a console attached later (a UI tab opened
// after boot) shows what came before, and so that callers can wait for a line to appear.

const DEFAULT_LIMIT = 256 * 1024;

interface Waiter {
  text: string;
  from: number;
  resolve: (offset: number) => void;
}

export class ConsoleLog {
  private chunks: Uint8Array[] = [];
  private kept = 0;
  /** Bytes ever written; offsets below are positions in this stream. */
  private written = 0;
  private waiters = new Set<Waiter>();
  private readonly decoder = new TextDecoder();

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  get totalBytes(): number {
    return this.written;
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.kept += data.length;
    this.written += data.length;
    while (this.kept - this.chunks[0]!.length >= this.limit) this.kept -= this.chunks.shift()!.length;
    for (const waiter of [...this.waiters]) {
      const at = this.find(waiter.text, waiter.from);
      if (at >= 0) {
        this.waiters.delete(waiter);
        waiter.resolve(at + waiter.text.length);
      }
    }
  }

  /** The kept bytes (the last `limit` bytes or a little more). */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.kept);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** Kept output from stream offset `from` on, as text. */
  text(from = 0): string {
    const start = this.written - this.kept;
    return this.decoder.decode(this.bytes().subarray(Math.max(0, from - start)));
  }

  /** Resolves with the stream offset just after `text` once it appears at or after `from`. */
  waitFor(text: string, from = 0): { promise: Promise<number>; cancel: () => void } {
    const at = this.find(text, from);
    if (at >= 0) return { promise: Promise.resolve(at + text.length), cancel: () => {} };
    let waiter!: Waiter;
    const promise = new Promise<number>((resolve) => {
      waiter = { text, from, resolve };
      this.waiters.add(waiter);
    });
    return { promise, cancel: () => this.waiters.delete(waiter) };
  }

  private find(text: string, from: number): number {
    const start = this.written - this.kept;
    // Search in latin1 so a character offset is a byte offset; markers and prompts are ASCII.
    const haystack = latin1(this.bytes().subarray(Math.max(0, from - start)));
    const i = haystack.indexOf(text);
    return i < 0 ? -1 : Math.max(from, start) + i;
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}
