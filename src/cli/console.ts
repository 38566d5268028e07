// The guest console on the process's stdin/stdout, like `qemu -nographic`.
// A terminal is put in raw mode (restored on close) and keys go straight to the guest, with
// QEMU's Ctrl-A escapes. Piped input waits until the guest can take it (its ready marker, or its
// serial driver opened the port) and then goes a line at a time (piped-input.ts); the end of
// piped input ends the run once the guest falls silent (docs/CLI.md, "Console input").

import { GuestNotes } from './guest-notes.js';
import { PipedInput } from './piped-input.js';

const CTRL_A = 0x01;
/** How often piped input and the end-of-input rule are looked at. */
const POLL_MS = 20;
export const QUIT_HINT = 'console on this terminal: Ctrl-A x quits, Ctrl-A h lists the escapes';

export interface ConsoleBridgeOptions {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Delivers bytes to the guest. */
  send(bytes: Uint8Array): void;
  /**
   * Text whose appearance on the console means the guest is ready for input; '' = none expected
   * (input goes once the console receives, or at once if the engine cannot tell).
   */
  readyMarker: string;
  /**
   * Runs when the marker appears, before piped input is released (e.g. to take a snapshot). With
   * onReady and a marker, piped input waits for the marker even if the console receives earlier.
   */
  onReady?(): Promise<void> | void;
  /** True once the guest's console driver can receive (Engine.consoleReceiving); absent = unknown. */
  consoleReceiving?(): boolean;
  /** The user typed Ctrl-A x. */
  onQuit(): void;
  /** Piped stdin ended, all of it went to the guest, and the guest then fell silent. */
  onInputDone?(): void;
}

export class ConsoleBridge {
  private readonly interactive: boolean;
  private ready = false;
  private releasing = false;
  private markerTail = '';
  private escape = false;
  private started = false;
  private readonly piped: PipedInput | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private rawMode = false;
  /** The guest's last output byte was not a newline (a message must start on a fresh line). */
  private lineOpen = false;
  private readonly notes = new GuestNotes();
  private readonly onData = (chunk: Buffer): void => this.input(chunk);
  private readonly onEnd = (): void => this.piped?.end();
  private readonly restoreOnExit = (): void => this.restoreTerminal();
  /** performance.now() of the first guest output byte. */
  firstOutputAt: number | undefined;

  constructor(private readonly o: ConsoleBridgeOptions) {
    this.interactive = !!o.stdin.isTTY;
    if (this.interactive && typeof o.stdin.setRawMode === 'function') {
      o.stdin.setRawMode(true);
      this.rawMode = true;
      process.on('exit', this.restoreOnExit);
    }
    if (this.interactive) {
      this.o.stderr.write(`tabvisor: ${QUIT_HINT}${this.rawMode ? '\r\n' : '\n'}`);
    } else {
      this.piped = new PipedInput({
        send: (bytes) => this.o.send(bytes),
        onDone: () => this.o.onInputDone?.(),
        readyMarker: o.readyMarker,
      });
      o.stdin.on('end', this.onEnd);
      this.pollTimer = setInterval(() => this.poll(), POLL_MS);
    }
    o.stdin.on('data', this.onData);
    o.stdin.on('error', this.onEnd); // a closed or broken stdin just means no more input
    o.stdin.resume();
  }

  /**
   * Call once the machine runs. With an empty ready marker the guest counts as ready now (onReady
   * runs); input still waits until the console receives, when the engine can tell.
   */
  machineStarted(): void {
    this.started = true;
    if (this.o.readyMarker === '') void this.becomeReady();
    this.poll();
  }

  /** True once the ready marker appeared (and onReady finished). */
  get isReady(): boolean {
    return this.ready;
  }

  /** Guest console output: copied to stdout and watched for the ready marker. */
  output(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const now = performance.now();
    if (this.firstOutputAt === undefined) this.firstOutputAt = now;
    this.o.stdout.write(bytes);
    this.lineOpen = bytes[bytes.length - 1] !== 0x0a;
    this.piped?.output(bytes, now);
    const note = this.notes.scan(bytes);
    if (note !== undefined) this.message(note);
    if (this.ready || this.releasing) return;
    const marker = this.o.readyMarker;
    const text = this.markerTail + latin1(bytes);
    if (text.includes(marker)) {
      void this.becomeReady();
    } else {
      this.markerTail = text.slice(-Math.max(0, marker.length - 1));
    }
  }

  /**
   * One `tabvisor: TEXT` line on stderr, starting on a fresh line when the guest left its line
   * open on the same terminal (and with \r\n while the terminal is raw).
   */
  message(text: string): void {
    const eol = this.rawMode ? '\r\n' : '\n';
    const lead = this.lineOpen && this.o.stdout.isTTY && this.o.stderr.isTTY ? eol : '';
    this.lineOpen = false;
    this.o.stderr.write(`${lead}tabvisor: ${text}${eol}`);
  }

  /** Stops reading stdin and gives the terminal back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.o.stdin.off('data', this.onData);
    this.o.stdin.off('end', this.onEnd);
    this.o.stdin.pause();
    this.restoreTerminal();
    process.off('exit', this.restoreOnExit);
  }

  private restoreTerminal(): void {
    if (this.rawMode) {
      this.rawMode = false;
      try {
        this.o.stdin.setRawMode(false);
      } catch {
        // the terminal is gone
      }
    }
  }

  private async becomeReady(): Promise<void> {
    if (this.ready || this.releasing) return;
    this.releasing = true;
    try {
      await this.o.onReady?.();
    } finally {
      this.ready = true;
      this.releasing = false;
      this.poll();
    }
  }

  /** Opens piped input once the guest can take it, and lets it send what is due. */
  private poll(): void {
    const piped = this.piped;
    if (!piped || this.closed || !this.started) return;
    const now = performance.now();
    const receiving = this.o.consoleReceiving?.(); // undefined: the engine cannot tell
    const markerExpected = this.o.readyMarker !== '';
    if (this.ready) {
      // (Again after the gate opened early: the marker shortens the wait for a silent guest.)
      // Without a marker (a restore) nothing proves the shell runs yet: its prompt will.
      if (markerExpected || receiving !== false) piped.openGate(now, markerExpected);
    } else if (!piped.isOpen && !this.releasing && receiving === true && !(markerExpected && this.o.onReady)) {
      // The console driver is up. Before a marker that a snapshot waits for, input must not go.
      piped.openGate(now, false);
    }
    piped.poll(now);
  }

  private input(chunk: Buffer): void {
    if (this.closed) return;
    if (this.piped) {
      this.piped.push(new Uint8Array(chunk));
      this.poll();
      return;
    }
    // Terminal: QEMU-style escapes, everything else to the guest at once.
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.escape) {
        this.escape = false;
        if (byte === 0x78 /* x */ || byte === 0x18 /* Ctrl-X */) {
          this.message('terminated (Ctrl-A x)');
          this.o.onQuit();
          return;
        }
        if (byte === CTRL_A) out.push(CTRL_A);
        else if (byte === 0x68 /* h */ || byte === 0x3f /* ? */) {
          this.o.stderr.write('\r\nCtrl-A x  quit\r\nCtrl-A Ctrl-A  send Ctrl-A\r\nCtrl-A h  this help\r\n');
        }
        continue;
      }
      if (byte === CTRL_A) this.escape = true;
      else out.push(byte);
    }
    if (out.length > 0) this.o.send(Uint8Array.from(out));
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}
