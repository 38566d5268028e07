// virtio-9p (device id 9; virtio 1.2, 5.x "9P transport"; Linux net/9p/trans_virtio.c): one
// request queue; each chain is a 9P request (device-readable) followed by room for the reply
// (device-writable). The mount tag sits in the configuration space (VIRTIO_9P_MOUNT_TAG). The
// protocol lives in src/devices/p9/server.ts; this file only moves bytes.

import type { FileShare } from '../backends/file-share.js';
import { MAX_MSIZE, P9Server, type P9ServerState, type P9Stats } from '../p9/server.js';
import { VIRTIO_ID_9P, type VirtioDevice, type VirtioHost } from './device.js';
import { readChain, VirtqueueError, writeChain } from './virtqueue.js';

export const VIRTIO_9P_MOUNT_TAG = 1n << 0n;
const QUEUE_SIZE = 128;
const MAX_TAG_BYTES = 255;

export class VirtioP9 implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_9P;
  readonly deviceFeatures = VIRTIO_9P_MOUNT_TAG;
  readonly queueMaxSizes = [QUEUE_SIZE];
  private host!: VirtioHost;
  private readonly server: P9Server;
  private readonly configSpace: Uint8Array;

  constructor(readonly share: FileShare, readonly tag = 'hostshare') {
    const bytes = new TextEncoder().encode(tag);
    if (bytes.length === 0 || bytes.length > MAX_TAG_BYTES) throw new Error(`9p mount tag must be 1 to ${MAX_TAG_BYTES} bytes`);
    this.configSpace = new Uint8Array(2 + bytes.length);
    new DataView(this.configSpace.buffer).setUint16(0, bytes.length, true);
    this.configSpace.set(bytes, 2);
    this.server = new P9Server(share);
  }

  get stats(): P9Stats {
    return this.server.stats;
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  config(): Uint8Array {
    return this.configSpace;
  }

  reset(): void {
    this.server.reset();
  }

  processQueue(index: number): void {
    if (index !== 0) return;
    const q = this.host.queue(0);
    const mem = this.host.memory;
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      if (chain.readableLength < 7 || chain.writableLength < 11) throw new VirtqueueError('9p request without a header or room for a reply');
      // A request longer than the largest msize is cut there; the server then finds it malformed.
      const request = readChain(mem, chain.readable, 0, Math.min(chain.readableLength, MAX_MSIZE));
      const reply = this.server.handle(request, chain.writableLength);
      q.push(chain.head, writeChain(mem, chain.writable, 0, reply));
    }
  }

  /** The guest's fids travel with the state (paths and open flags; files are reopened on load). */
  saveState(): object {
    return { version: 1, tag: this.tag, server: this.server.saveState() };
  }

  loadState(s: object): void {
    const st = s as { version?: unknown; server?: P9ServerState };
    if (st.version !== 1 || typeof st.server !== 'object' || st.server === null) throw new Error('VirtioP9: unsupported state version');
    this.server.loadState(st.server);
  }
}
