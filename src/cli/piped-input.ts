// Piped stdin for a guest shell, one line at a time, each when the guest waits for input.
//
// Why lines and waiting: a line that arrives while the guest's tty is in canonical mode (the
// shell starting, a command running) is echoed by the tty and then again by the shell's line
// editor when it reads it, so every piped line used to show twice. Sending each line once the
// guest shows a prompt (its output ends in an unfinished line and then stops) means only the line
// editor echoes it. A prompt seen before is trusted after a shorter pause, so long scripts flow. A guest that waits without a prompt (`cat`, a password) gets the line after a
// longer silence. Nothing is dropped by these rules; at worst a line is echoed twice.
//
// The clock is passed in (poll(now)), so the rules are testable without timers.

/** The guest's last output is an unfinished line (a prompt) and then nothing for this long. */
export const PROMPT_QUIET_MS = 200;
/** The same for a prompt seen before (the shell's "/ # ", a here-document's "> "). */
export const KNOWN_PROMPT_QUIET_MS = 30;
/**
 * The same until the guest is up (marker or a line taken): under host load the output can stop
 * mid-line for a while during the boot, which must not pass for a prompt.
 */
export const STARTUP_PROMPT_QUIET_MS = 1000;
/** Silence after which the next line goes even without a prompt. */
export const IDLE_QUIET_MS = 1000;
/**
 * The same before the expected ready marker appeared: init scripts can be silent for seconds on a
 * slow emulator, and a line sent then is echoed twice (the marker or a prompt usually comes first).
 */
export const STARTUP_IDLE_QUIET_MS = 10_000;
/**
 * After stdin ended and every byte went to the guest: this much silence ends the run (before the
 * expected marker appeared, STARTUP_IDLE_QUIET_MS: a guest that is still starting is often quiet).
 */
export const EOF_QUIET_MS = 2000;
/**
 * The same while the guest is not at a prompt it showed before (its last command still runs,
 * silently: `sleep 5; echo done` as the last line must not be cut off after 2 s). A guest that
 * never showed a prompt (a bare program) keeps EOF_QUIET_MS.
 */
export const EOF_BUSY_QUIET_MS = 30_000;
/** A long line goes in pieces of this size, one per poll (the guest's tty has no flow control). */
export const PIECE_BYTES = 256;

const NL = 0x0a;
/** Prompts longer than this are not remembered (and an unfinished line is kept up to this). */
const MAX_PROMPT_CHARS = 120;
const MAX_KNOWN_PROMPTS = 16;

export interface PipedInputOptions {
  send(bytes: Uint8Array): void;
  /** The expected ready marker: an unfinished line that could be its beginning is no prompt. */
  readyMarker?: string;
  /** stdin ended, all of it was delivered, and the guest then stayed silent for EOF_QUIET_MS (EOF_BUSY_QUIET_MS away from its prompt). */
  onDone?(): void;
}

export class PipedInput {
  private buffer = new Uint8Array(0);
  private piecesLeft: Uint8Array | undefined;
  private open = false;
  /** The ready marker appeared (or none is expected), or the guest took a line at a prompt. */
  private guestUp = false;
  private ended = false;
  private done = false;
  private lastActivity = 0;
  private lineOpen = false;
  private newlineSinceSend = true;
  /** The guest's unfinished last line (latin1), up to MAX_PROMPT_CHARS. */
  private partial = '';
  private readonly knownPrompts = new Set<string>();

  constructor(private readonly o: PipedInputOptions) {}

  /** More bytes read from stdin. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const merged = new Uint8Array(this.buffer.length + bytes.length);
    merged.set(this.buffer);
    merged.set(bytes, this.buffer.length);
    this.buffer = merged;
  }

  /** stdin ended. */
  end(): void {
    this.ended = true;
  }

  /**
   * The guest's console can take input from now on. `afterMarker`: its ready marker appeared (or
   * none is expected), so a plain silence counts as waiting sooner.
   */
  openGate(now: number, afterMarker: boolean): void {
    if (!this.open) this.lastActivity = Math.max(this.lastActivity, now);
    this.open = true;
    this.guestUp ||= afterMarker;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Guest console output. */
  output(bytes: Uint8Array, now: number): void {
    if (bytes.length === 0) return;
    this.lastActivity = now;
    const nl = bytes.lastIndexOf(NL);
    if (nl >= 0) this.newlineSinceSend = true;
    this.lineOpen = nl !== bytes.length - 1;
    const tail = latin1(bytes.subarray(Math.max(nl + 1, bytes.length - MAX_PROMPT_CHARS - 1)));
    this.partial = (nl >= 0 ? tail : this.partial + tail).slice(-(MAX_PROMPT_CHARS + 1));
  }

  /** Sends what is due at `now`; call it every few tens of milliseconds. */
  poll(now: number): void {
    if (!this.open || this.done) return;
    if (this.piecesLeft) {
      this.sendPiece(now);
      return;
    }
    if (this.buffer.length > 0) {
      if (!this.guestWaits(now)) return;
      if (this.atPrompt()) {
        this.guestUp = true; // a shell prompts: the guest is up, marker or not
        if (this.partial.length <= MAX_PROMPT_CHARS && this.knownPrompts.size < MAX_KNOWN_PROMPTS) this.knownPrompts.add(this.partial);
      }
      const nl = this.buffer.indexOf(NL);
      const end = nl >= 0 ? nl + 1 : this.buffer.length;
      this.piecesLeft = this.buffer.subarray(0, end);
      this.buffer = this.buffer.slice(end);
      this.newlineSinceSend = false;
      this.sendPiece(now);
      return;
    }
    if (this.ended && now - this.lastActivity >= this.endQuietMs()) {
      this.done = true;
      this.o.onDone?.();
    }
  }

  /** Silence that ends the run once stdin ended and everything went in. */
  private endQuietMs(): number {
    if (!this.guestUp) return STARTUP_IDLE_QUIET_MS;
    const atKnownPrompt = this.atPrompt() && this.knownPrompts.has(this.partial);
    return this.knownPrompts.size > 0 && !atKnownPrompt ? EOF_BUSY_QUIET_MS : EOF_QUIET_MS;
  }

  /** True while input is queued or being sent. */
  get pending(): boolean {
    return this.buffer.length > 0 || this.piecesLeft !== undefined;
  }

  /** A prompt: the echo of the last line (its newline) came back, then an unfinished line. */
  private atPrompt(): boolean {
    if (!this.lineOpen || !this.newlineSinceSend) return false;
    const marker = this.o.readyMarker;
    return this.guestUp || !marker || !marker.startsWith(this.partial);
  }

  private guestWaits(now: number): boolean {
    const quiet = now - this.lastActivity;
    if (this.atPrompt()) {
      const wait = !this.guestUp ? STARTUP_PROMPT_QUIET_MS :
        this.knownPrompts.has(this.partial) ? KNOWN_PROMPT_QUIET_MS : PROMPT_QUIET_MS;
      return quiet >= wait;
    }
    return quiet >= (this.guestUp ? IDLE_QUIET_MS : STARTUP_IDLE_QUIET_MS);
  }

  private sendPiece(now: number): void {
    const left = this.piecesLeft!;
    const piece = left.subarray(0, PIECE_BYTES);
    this.piecesLeft = left.length > PIECE_BYTES ? left.subarray(PIECE_BYTES) : undefined;
    this.lastActivity = now;
    this.o.send(piece.slice());
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
