// A FIFO of bytes with a capacity, for host input waiting for the guest (UART, virtio console).
// Chunks are kept as given, so pushing and taking are O(bytes moved), whatever the backlog.

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0; // bytes of chunks[0] already taken
  private count = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.count;
  }

  /** Appends what fits; returns the number of bytes accepted (the rest is dropped by the caller). */
  push(data: Uint8Array): number {
    const n = Math.min(data.length, this.capacity - this.count);
    if (n <= 0) return 0;
    this.chunks.push(data.slice(0, n));
    this.count += n;
    return n;
  }

  /** Removes and returns the next byte, or -1 when empty. */
  shift(): number {
    if (this.count === 0) return -1;
    const c = this.chunks[0];
    const b = c[this.head++];
    this.count--;
    if (this.head === c.length) {
      this.chunks.shift();
      this.head = 0;
    }
    return b;
  }

  /** Removes and returns up to `max` bytes. */
  take(max: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(max, this.count)));
    let off = 0;
    while (off < out.length) {
      const c = this.chunks[0];
      const n = Math.min(c.length - this.head, out.length - off);
      out.set(c.subarray(this.head, this.head + n), off);
      off += n;
      this.head += n;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.count -= out.length;
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.count = 0;
  }

  /** A copy of the content, for snapshots. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.count);
    let off = 0;
    this.chunks.forEach((c, i) => {
      const part = i === 0 ? c.subarray(this.head) : c;
      out.set(part, off);
      off += part.length;
    });
    return out;
  }
}
