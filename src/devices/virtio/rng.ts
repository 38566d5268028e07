// virtio-rng (device id 4; virtio 1.2, 5.4): one request queue of device-writable buffers filled from
// the host's cryptographic generator.

import { VIRTIO_ID_RNG, type VirtioDevice, type VirtioHost } from './device.js';
import { VirtqueueError, writeChain } from './virtqueue.js';

const QUEUE_SIZE = 64;
/** Bytes given per request at most (the spec lets the device fill less than offered). */
const MAX_PER_REQUEST = 64 * 1024;

export type RandomSource = (buffer: Uint8Array) => void;

/** crypto.getRandomValues fills at most 65536 bytes per call. */
export const cryptoRandom: RandomSource = (buffer) => {
  for (let off = 0; off < buffer.length; off += 65536) {
    globalThis.crypto.getRandomValues(buffer.subarray(off, Math.min(off + 65536, buffer.length)));
  }
};

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly deviceFeatures = 0n;
  readonly queueMaxSizes = [QUEUE_SIZE];
  private host!: VirtioHost;
  private readonly empty = new Uint8Array(0);

  constructor(private readonly random: RandomSource = cryptoRandom) {}

  attach(host: VirtioHost): void {
    this.host = host;
  }

  config(): Uint8Array {
    return this.empty;
  }

  reset(): void {}

  processQueue(index: number): void {
    if (index !== 0) return;
    const q = this.host.queue(0);
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      if (chain.readableLength > 0 || chain.writableLength === 0) throw new VirtqueueError('entropy request buffer is not device-writable');
      const bytes = new Uint8Array(Math.min(chain.writableLength, MAX_PER_REQUEST));
      this.random(bytes);
      q.push(chain.head, writeChain(this.host.memory, chain.writable, 0, bytes));
    }
  }

  saveState(): object {
    return { version: 1 };
  }

  loadState(s: object): void {
    if ((s as { version?: unknown }).version !== 1) throw new Error('VirtioRng: unsupported state version');
  }
}
