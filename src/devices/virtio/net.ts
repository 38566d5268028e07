// virtio-net (device id 1; virtio 1.2, 5.1): MAC and link status in config, queue 0 receive, queue 1
// transmit, no control queue and no offloads. With VERSION_1 every buffer starts with the 12-byte
// struct virtio_net_hdr (num_buffers included); we only ever write flags 0, GSO_NONE, num_buffers 1.

import type { NetBackend } from '../backends/net.js';
import { boolField, DeviceStateError } from '../state-fields.js';
import { VIRTIO_ID_NET, type VirtioDevice, type VirtioHost } from './device.js';
import { readChain, VirtqueueError, writeChain } from './virtqueue.js';

export const VIRTIO_NET_F_MAC = 1n << 5n;
export const VIRTIO_NET_F_STATUS = 1n << 16n;
export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_HDR_SIZE = 12;

const QUEUE_SIZE = 256;
const RECEIVEQ = 0;
const TRANSMITQ = 1;
const ETH_HEADER = 14;
/** Largest frame without offloads: 65535-byte MTU plus the Ethernet and VLAN headers. */
const MAX_FRAME = 65535 + 18;
/** Frames waiting for receive buffers; more are dropped, as a real NIC drops when its ring is full. */
const MAX_PENDING_FRAMES = 256;

export interface VirtioNetStats {
  txFrames: number;
  rxFrames: number;
  txDropped: number;
  rxDropped: number;
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_NET;
  readonly deviceFeatures = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly stats: VirtioNetStats = { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0 };
  private host!: VirtioHost;
  private pending: Uint8Array[] = [];
  private readonly configSpace = new Uint8Array(8);
  private linkUp = true;

  constructor(
    readonly mac: Uint8Array,
    private readonly backend: NetBackend,
  ) {
    if (mac.length !== 6) throw new RangeError('MAC address must be 6 bytes');
    // struct virtio_net_config: mac[6], status, (max_virtqueue_pairs, mtu only with MQ / MTU).
    this.configSpace.set(mac, 0);
    this.writeStatus();
    backend.connect?.((frame) => this.receive(frame));
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  config(): Uint8Array {
    return this.configSpace;
  }

  private writeStatus(): void {
    new DataView(this.configSpace.buffer).setUint16(6, this.linkUp ? VIRTIO_NET_S_LINK_UP : 0, true);
  }

  /** Plugs or unplugs the virtual cable; the guest sees a configuration change. */
  setLinkUp(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.writeStatus();
    this.host?.configChanged();
  }

  /** A frame for the guest from the back end. */
  receive(frame: Uint8Array): void {
    if (!this.linkUp || frame.length < ETH_HEADER || frame.length > MAX_FRAME || this.pending.length >= MAX_PENDING_FRAMES) {
      this.stats.rxDropped++;
      return;
    }
    this.pending.push(frame.slice());
    this.host?.kick(RECEIVEQ);
  }

  reset(): void {
    this.pending = [];
  }

  processQueue(index: number): void {
    if (index === TRANSMITQ) this.transmit();
    else if (index === RECEIVEQ) this.deliver();
  }

  private transmit(): void {
    const q = this.host.queue(TRANSMITQ);
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      if (chain.writableLength > 0) throw new VirtqueueError('transmit buffer is device-writable');
      if (chain.readableLength < VIRTIO_NET_HDR_SIZE) throw new VirtqueueError('transmit buffer without virtio_net_hdr');
      const length = chain.readableLength - VIRTIO_NET_HDR_SIZE;
      const frame = length >= ETH_HEADER && length <= MAX_FRAME ? readChain(this.host.memory, chain.readable, VIRTIO_NET_HDR_SIZE, length) : null;
      q.push(chain.head, 0);
      if (frame === null || !this.linkUp) {
        this.stats.txDropped++;
        continue;
      }
      this.stats.txFrames++;
      this.backend.send(frame);
    }
  }

  private deliver(): void {
    const q = this.host.queue(RECEIVEQ);
    const header = new Uint8Array(VIRTIO_NET_HDR_SIZE);
    header[10] = 1; // num_buffers = 1 (little-endian u16 at offset 10)
    while (this.pending.length > 0) {
      const chain = q.pop();
      if (chain === null) return;
      if (chain.readableLength > 0 || chain.writableLength === 0) throw new VirtqueueError('receive buffer is not device-writable');
      const frame = this.pending.shift()!;
      if (chain.writableLength < VIRTIO_NET_HDR_SIZE + frame.length) {
        // Too big for the guest's buffers (no mergeable buffers offered): drop it, keep the buffer.
        q.unpop();
        this.stats.rxDropped++;
        continue;
      }
      const mem = this.host.memory;
      writeChain(mem, chain.writable, 0, header);
      writeChain(mem, chain.writable, VIRTIO_NET_HDR_SIZE, frame);
      q.push(chain.head, VIRTIO_NET_HDR_SIZE + frame.length);
      this.stats.rxFrames++;
    }
  }

  saveState(): object {
    return { version: 1, linkUp: this.linkUp, pendingFrames: this.pending.map((f) => f.slice()) };
  }

  loadState(s: object): void {
    const st = s as { version?: unknown; linkUp?: unknown; pendingFrames?: unknown };
    if (st.version !== 1) throw new DeviceStateError('virtio-net state: unsupported version');
    // Strict, never repaired: what saveState writes, or a refusal (issue 12: hostile states).
    const linkUp = boolField(st as Record<string, unknown>, 'linkUp', 'virtio-net');
    const frames = st.pendingFrames;
    if (!Array.isArray(frames) || frames.length > MAX_PENDING_FRAMES) throw new DeviceStateError('virtio-net state: bad pendingFrames');
    for (const f of frames) {
      if (!(f instanceof Uint8Array) || f.length < ETH_HEADER || f.length > MAX_FRAME) throw new DeviceStateError('virtio-net state: bad pending frame');
    }
    this.linkUp = linkUp;
    this.writeStatus();
    this.pending = frames.map((f: Uint8Array) => f.slice());
  }

}
