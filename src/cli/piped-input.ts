// Piped stdin for a guest shell, one line at a time, each when the guest waits for input.
//
// Why lines and waiting: a line that arrives while the guest's tty is in canonical mode (the
// shell starting, a command running) is echoed by the tty and then again by the shell's line
// editor when it reads it, so every piped line used to show twice. Sending each line once the
// guest shows a prompt (its output ends in an unfinished line and then stops) means only the line
// editor echoes it. A guest that waits without a prompt (`cat`, a password) gets the line after a
// longer silence. Nothing is dropped by these rules; at worst a line is echoed twice.
//
// The clock is passed in (poll(now)), so the rules are testable without timers.

/** The guest's last output is an unfinished line (a prompt) and then nothing for this long. */
export const PROMPT_QUIET_MS = 200;
/** Silence after which the next line goes even without a prompt. */
export const IDLE_QUIET_MS = 1000;
/** The same before the expected ready marker appeared (the guest may still be starting up). */
export const STARTUP_IDLE_QUIET_MS = 3000;
/** After stdin ended and every byte went to the guest: this much silence ends the run. */
export const EOF_QUIET_MS = 2000;
/** A long line goes in pieces of this size, one per poll (the guest's tty has no flow control). */
export const PIECE_BYTES = 256;

const NL = 0x0a;

export interface PipedInputOptions {
  send(bytes: Uint8Array): void;
  /** stdin ended, all of it was delivered, and the guest then stayed silent for EOF_QUIET_MS. */
  onDone?(): void;
}

export class PipedInput {
  private buffer = new Uint8Array(0);
  private piecesLeft: Uint8Array | undefined;
  private open = false;
  private markerSeen = false;
  private ended = false;
  private done = false;
  private lastActivity = 0;
  private lineOpen = false;
  private newlineSinceSend = true;

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
    this.markerSeen ||= afterMarker;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Guest console output. */
  output(bytes: Uint8Array, now: number): void {
    if (bytes.length === 0) return;
    this.lastActivity = now;
    if (bytes.includes(NL)) this.newlineSinceSend = true;
    this.lineOpen = bytes[bytes.length - 1] !== NL;
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
      const nl = this.buffer.indexOf(NL);
      const end = nl >= 0 ? nl + 1 : this.buffer.length;
      this.piecesLeft = this.buffer.subarray(0, end);
      this.buffer = this.buffer.slice(end);
      this.newlineSinceSend = false;
      this.sendPiece(now);
      return;
    }
    if (this.ended && now - this.lastActivity >= EOF_QUIET_MS) {
      this.done = true;
      this.o.onDone?.();
    }
  }

  /** True while input is queued or being sent. */
  get pending(): boolean {
    return this.buffer.length > 0 || this.piecesLeft !== undefined;
  }

  private guestWaits(now: number): boolean {
    const quiet = now - this.lastActivity;
    // A prompt: the echo of the last line (its newline) came back, then an unfinished line.
    if (this.lineOpen && this.newlineSinceSend) return quiet >= PROMPT_QUIET_MS;
    return quiet >= (this.markerSeen ? IDLE_QUIET_MS : STARTUP_IDLE_QUIET_MS);
  }

  private sendPiece(now: number): void {
    const left = this.piecesLeft!;
    const piece = left.subarray(0, PIECE_BYTES);
    this.piecesLeft = left.length > PIECE_BYTES ? left.subarray(PIECE_BYTES) : undefined;
    this.lastActivity = now;
    this.o.send(piece.slice());
  }
}
