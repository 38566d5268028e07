// A learning Ethernet switch: the network between the VMs of a lab. Each NIC back end is a port;
// a frame goes to the port where its destination MAC was last seen as a source, or to every
// other port when the destination is unknown, broadcast or multicast. The MAC table is bounded
// (oldest entry evicted) and entries age out, so a guest that sends from random MACs cannot
// grow it. Frames shorter than an Ethernet header or longer than a VLAN-tagged frame are
// dropped. Delivery is synchronous; carrying frames between workers is the caller's business.

import type { NetBackend } from './net.js';

export const MIN_FRAME = 14;
/** 1500 bytes of payload + header + one VLAN tag (no FCS: virtio frames carry none). */
export const MAX_FRAME = 1522;

export interface SwitchStats {
  forwarded: number;
  flooded: number;
  dropped: number;
}

export interface SwitchOptions {
  /** MAC table entries at most. */
  maxMacs?: number;
  /** An entry not refreshed for this long is forgotten. */
  ageMs?: number;
  now?: () => number;
}

export class SwitchPort implements NetBackend {
  private receiver: ((frame: Uint8Array) => void) | undefined;
  /** Frames that arrived before anything was connected are dropped, like a cable with no NIC. */
  received = 0;
  sent = 0;

  constructor(readonly name: string, private readonly sw: EthernetSwitch) {}

  /** A frame from the NIC behind this port into the switch. */
  send(frame: Uint8Array): void {
    this.sent++;
    this.sw.forward(this, frame);
  }

  connect(receive: (frame: Uint8Array) => void): void {
    this.receiver = receive;
  }

  /** A frame from the switch out to the NIC behind this port. */
  deliver(frame: Uint8Array): void {
    this.received++;
    this.receiver?.(frame);
  }

  detach(): void {
    this.sw.detach(this);
  }
}

export class EthernetSwitch {
  readonly stats: SwitchStats = { forwarded: 0, flooded: 0, dropped: 0 };
  private readonly ports = new Set<SwitchPort>();
  /** MAC (as a 48-bit number) -> port and when it was last seen; Map order = age order. */
  private readonly table = new Map<number, { port: SwitchPort; seen: number }>();
  private readonly maxMacs: number;
  private readonly ageMs: number;
  private readonly now: () => number;

  constructor(options: SwitchOptions = {}) {
    this.maxMacs = options.maxMacs ?? 1024;
    this.ageMs = options.ageMs ?? 300_000;
    this.now = options.now ?? (() => Date.now());
  }

  attach(name: string): SwitchPort {
    const port = new SwitchPort(name, this);
    this.ports.add(port);
    return port;
  }

  detach(port: SwitchPort): void {
    this.ports.delete(port);
    for (const [mac, e] of this.table) if (e.port === port) this.table.delete(mac);
  }

  get portCount(): number {
    return this.ports.size;
  }

  /** The port a MAC was last seen on (for tests and diagnostics). */
  portOf(mac: Uint8Array): SwitchPort | undefined {
    return this.table.get(macKey(mac, 0))?.port;
  }

  forward(from: SwitchPort, frame: Uint8Array): void {
    if (!this.ports.has(from) || frame.length < MIN_FRAME || frame.length > MAX_FRAME) {
      this.stats.dropped++;
      return;
    }
    const now = this.now();
    const src = macKey(frame, 6);
    if ((frame[6] & 1) === 0) this.learn(src, from, now);
    const dst = macKey(frame, 0);
    if ((frame[0] & 1) === 0) {
      const e = this.table.get(dst);
      if (e !== undefined && now - e.seen <= this.ageMs && this.ports.has(e.port)) {
        if (e.port === from) {
          this.stats.dropped++; // both ends on one port: nothing to do
          return;
        }
        this.stats.forwarded++;
        e.port.deliver(frame.slice());
        return;
      }
    }
    this.stats.flooded++;
    for (const p of this.ports) if (p !== from) p.deliver(frame.slice());
  }

  private learn(mac: number, port: SwitchPort, now: number): void {
    this.table.delete(mac); // re-insert: Map order is age order
    if (this.table.size >= this.maxMacs) {
      const oldest = this.table.keys().next().value as number;
      this.table.delete(oldest);
    }
    this.table.set(mac, { port, seen: now });
  }
}

function macKey(b: Uint8Array, at: number): number {
  return b[at] * 2 ** 40 + b[at + 1] * 2 ** 32 + ((b[at + 2] << 24) >>> 0) + (b[at + 3] << 16) + (b[at + 4] << 8) + b[at + 5];
}
