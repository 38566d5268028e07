// Console back ends: where a serial or virtio console's bytes go and come from (a terminal, a pipe, a test).

/** Host side of a console. The front end calls write() with guest output; input arrives via connect(). */
export interface ConsoleBackend {
  /** Bytes the guest wrote. */
  write(data: Uint8Array): void;
  /** Called once by the front end: the back end hands host input (keyboard) to `input`. */
  connect?(input: (data: Uint8Array) => void): void;
}

/** Collects guest output in memory and lets the host type input; used by tests and headless runs. */
export class BufferConsole implements ConsoleBackend {
  private chunks: Uint8Array[] = [];
  private input: ((data: Uint8Array) => void) | undefined;

  write(data: Uint8Array): void {
    this.chunks.push(data.slice());
  }

  connect(input: (data: Uint8Array) => void): void {
    this.input = input;
  }

  /** Sends host input to the guest (no-op before a front end connected). */
  type(data: Uint8Array | string): void {
    this.input?.(typeof data === 'string' ? new TextEncoder().encode(data) : data);
  }

  /** Everything written so far, as bytes; `clear` empties the record. */
  takeBytes(clear = true): Uint8Array {
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    if (clear) this.chunks = [];
    return out;
  }

  takeText(clear = true): string {
    return new TextDecoder().decode(this.takeBytes(clear));
  }
}
