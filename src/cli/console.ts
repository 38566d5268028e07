// The guest console on the process's stdin/stdout, like `qemu -nographic`.
// A terminal is put in raw mode (restored on close) and keys go straight to the guest, with
// QEMU's Ctrl-A escapes. Piped input is held until the guest prints its ready marker (bytes sent
// earlier are eaten or echoed oddly while the guest boots), then fed in small paced chunks.

const CTRL_A = 0x01;
/** Piped input pacing: the guest's tty buffer is a few KiB and there is no flow control. */
const PIPE_CHUNK_BYTES = 256;
const PIPE_CHUNK_GAP_MS = 5;

export interface ConsoleBridgeOptions {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Delivers bytes to the guest. */
  send(bytes: Uint8Array): void;
  /** Text whose appearance on the console means the guest is ready for input; '' = ready now. */
  readyMarker: string;
  /** Runs when the marker appears, before piped input is released (e.g. to take a snapshot). */
  onReady?(): Promise<void> | void;
  /** The user typed Ctrl-A x. */
  onQuit(): void;
}

export class ConsoleBridge {
  private readonly interactive: boolean;
  private ready = false;
  private releasing = false;
  private markerTail = '';
  private escape = false;
  private queued: Uint8Array[] = [];
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private rawMode = false;
  private readonly onData = (chunk: Buffer): void => this.input(chunk);
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
    o.stdin.on('data', this.onData);
    o.stdin.on('error', () => undefined); // a closed or broken stdin just means no more input
    o.stdin.resume();
  }

  /** Call once the machine runs: with an empty ready marker, input is released now. */
  machineStarted(): void {
    if (this.o.readyMarker === '') void this.becomeReady();
  }

  /** True once the ready marker appeared (and onReady finished). */
  get isReady(): boolean {
    return this.ready;
  }

  /** Guest console output: copied to stdout and watched for the ready marker. */
  output(bytes: Uint8Array): void {
    if (this.firstOutputAt === undefined) this.firstOutputAt = performance.now();
    this.o.stdout.write(bytes);
    if (this.ready || this.releasing) return;
    const marker = this.o.readyMarker;
    const text = this.markerTail + latin1(bytes);
    if (text.includes(marker)) {
      void this.becomeReady();
    } else {
      this.markerTail = text.slice(-Math.max(0, marker.length - 1));
    }
  }

  /** Stops reading stdin and gives the terminal back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pumpTimer !== undefined) clearTimeout(this.pumpTimer);
    this.o.stdin.off('data', this.onData);
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
      this.pump();
    }
  }

  private input(chunk: Buffer): void {
    if (this.closed) return;
    if (!this.interactive) {
      this.queued.push(new Uint8Array(chunk));
      if (this.ready) this.pump();
      return;
    }
    // Terminal: QEMU-style escapes, everything else to the guest at once.
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.escape) {
        this.escape = false;
        if (byte === 0x78 /* x */ || byte === 0x18 /* Ctrl-X */) {
          this.o.stderr.write('\r\ntabvisor: terminated (Ctrl-A x)\r\n');
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

  /** Feeds queued piped input to the guest in paced chunks. */
  private pump(): void {
    if (this.pumpTimer !== undefined || this.closed) return;
    const step = (): void => {
      this.pumpTimer = undefined;
      if (this.closed || this.queued.length === 0) return;
      const head = this.queued[0];
      const part = head.subarray(0, PIPE_CHUNK_BYTES);
      if (part.length === head.length) this.queued.shift();
      else this.queued[0] = head.subarray(PIPE_CHUNK_BYTES);
      this.o.send(part);
      if (this.queued.length > 0) this.pumpTimer = setTimeout(step, PIPE_CHUNK_GAP_MS);
    };
    step();
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}
