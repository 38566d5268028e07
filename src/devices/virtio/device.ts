// What a virtio device (block, console, rng, net, later balloon and 9p) implements to sit behind a
// transport, and what the transport offers it. Devices never see MMIO registers or interrupts.

import type { GuestMemory } from '../bus.js';
import type { Virtqueue } from './virtqueue.js';

// Device status bits (virtio 1.2, 2.1).
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

// Transport-level feature bits (virtio 1.2, 6).
export const VIRTIO_F_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_F_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;

export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;
export const VIRTIO_ID_BALLOON = 5;
export const VIRTIO_ID_9P = 9;

/** The transport, as a device sees it. */
export interface VirtioHost {
  readonly memory: GuestMemory;
  /** Features the driver accepted (valid once FEATURES_OK is set). */
  readonly driverFeatures: bigint;
  queue(index: number): Virtqueue;
  /** Host-side work arrived for queue `index` (input, a received frame): process it now if the driver is ready. */
  kick(index: number): void;
  /** The device's configuration changed: bumps the generation and raises a configuration interrupt. */
  configChanged(): void;
}

export interface VirtioDevice {
  readonly deviceId: number;
  /** Device-specific features offered; the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX. */
  readonly deviceFeatures: bigint;
  /** Maximum size of each queue (powers of two); the length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Called once by the transport. */
  attach(host: VirtioHost): void;
  /** The current device-specific configuration space, little-endian. */
  config(): Uint8Array;
  /** A driver write into the configuration space (most fields are read-only: ignore those). */
  writeConfig?(offset: number, data: Uint8Array): void;
  /** The driver set DRIVER_OK: the negotiated features are final. */
  activate?(features: bigint): void;
  /**
   * Buffers may be available on queue `index`. May throw VirtqueueError or GuestMemoryError on a
   * malformed request; the transport catches them and marks the device as needing reset.
   */
  processQueue(index: number): void;
  /** Device reset (status 0): forget requests in flight; keep host-side configuration and backends. */
  reset(): void;
  saveState(): object;
  loadState(s: object): void;
}
