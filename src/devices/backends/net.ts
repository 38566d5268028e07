// Network back ends: where a NIC's Ethernet frames go and come from. The virtual switch (later) is one;
// a pair of connected endpoints serves tests and two-VM setups.

/** Host side of a NIC. */
export interface NetBackend {
  /**
   * A frame the guest sent (without virtio header). The frame is the back end's to keep: the
   * card hands over a copy, never a view into memory it will reuse.
   */
  send(frame: Uint8Array): void;
  /** Called once by the front end: the back end hands frames for the guest to `receive`. */
  connect?(receive: (frame: Uint8Array) => void): void;
}

/** One end of a NetPair. */
export class NetPairEndpoint implements NetBackend {
  peer: NetPairEndpoint | undefined;
  private receiver: ((frame: Uint8Array) => void) | undefined;
  sent = 0;

  send(frame: Uint8Array): void {
    this.sent++;
    this.peer?.deliver(frame.slice());
  }

  connect(receive: (frame: Uint8Array) => void): void {
    this.receiver = receive;
  }

  /** Hands a frame to whatever is connected to this end (dropped when nothing is). */
  deliver(frame: Uint8Array): void {
    this.receiver?.(frame);
  }
}

/** Two endpoints wired back to back, like a crossover cable. */
export function createNetPair(): [NetPairEndpoint, NetPairEndpoint] {
  const a = new NetPairEndpoint();
  const b = new NetPairEndpoint();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
