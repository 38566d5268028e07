// virtio-console (device id 3; virtio 1.2, 5.3) with a single port and no multiport: queue 0 is the
// port's receiveq (host -> guest), queue 1 its transmitq. Linux names it hvc0. The terminal size is
// in the config space (VIRTIO_CONSOLE_F_SIZE) so the guest follows the host terminal.

import type { ConsoleBackend } from '../backends/console.js';
import { ByteQueue } from '../byte-queue.js';
import { boolField, DeviceStateError, intField } from '../state-fields.js';
import { VIRTIO_ID_CONSOLE, type VirtioDevice, type VirtioHost } from './device.js';
import { readChain, VirtqueueError, writeChain } from './virtqueue.js';

export const VIRTIO_CONSOLE_F_SIZE = 1n << 0n;

const QUEUE_SIZE = 64;
const RECEIVEQ = 0;
const TRANSMITQ = 1;
/** Host input waiting for guest buffers beyond this is dropped. */
const MAX_PENDING_INPUT = 1 << 20;

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly deviceFeatures = VIRTIO_CONSOLE_F_SIZE;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  private host!: VirtioHost;
  private readonly pending = new ByteQueue(MAX_PENDING_INPUT);
  /** The driver set DRIVER_OK: hvc0 exists in the guest, and input waits in `pending` until it reads. */
  private driverReady = false;
  // struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr.
  private readonly configSpace = new Uint8Array(12);

  constructor(
    private readonly backend: ConsoleBackend,
    size: { cols: number; rows: number } = { cols: 80, rows: 25 },
  ) {
    const v = new DataView(this.configSpace.buffer);
    v.setUint16(0, size.cols, true);
    v.setUint16(2, size.rows, true);
    v.setUint32(4, 1, true);
    backend.connect?.((data) => this.receive(data));
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  config(): Uint8Array {
    return this.configSpace;
  }

  /** The host terminal was resized: the guest learns it through a configuration change (F_SIZE). */
  setSize(cols: number, rows: number): void {
    const v = new DataView(this.configSpace.buffer);
    if (v.getUint16(0, true) === (cols & 0xffff) && v.getUint16(2, true) === (rows & 0xffff)) return;
    v.setUint16(0, cols, true);
    v.setUint16(2, rows, true);
    this.host?.configChanged();
  }

  /** Host input for the guest; delivered as soon as the guest has receive buffers. */
  receive(data: Uint8Array): void {
    if (this.pending.push(data) > 0) this.host?.kick(RECEIVEQ);
  }

  /** Host input not yet placed in the guest's receive buffers. */
  get inputWaiting(): number {
    return this.pending.length;
  }

  /** True once the guest's driver is up (input sent now is kept until the guest reads it). */
  get receiving(): boolean {
    return this.driverReady;
  }

  activate(): void {
    this.driverReady = true;
  }

  reset(): void {
    this.driverReady = false;
  }

  processQueue(index: number): void {
    const q = this.host.queue(index);
    const mem = this.host.memory;
    if (index === TRANSMITQ) {
      for (let chain = q.pop(); chain !== null; chain = q.pop()) {
        if (chain.writableLength > 0) throw new VirtqueueError('console transmit buffer is device-writable');
        const data = readChain(mem, chain.readable, 0, chain.readableLength);
        q.push(chain.head, 0);
        if (data.length > 0) this.backend.write(data);
      }
    } else if (index === RECEIVEQ) {
      while (this.pending.length > 0) {
        const chain = q.pop();
        if (chain === null) break;
        if (chain.readableLength > 0 || chain.writableLength === 0) throw new VirtqueueError('console receive buffer is not device-writable');
        const data = this.pending.take(chain.writableLength);
        q.push(chain.head, writeChain(mem, chain.writable, 0, data));
      }
    }
  }

  saveState(): object {
    const v = new DataView(this.configSpace.buffer);
    return {
      version: 1, pendingInput: this.pending.toBytes(), cols: v.getUint16(0, true), rows: v.getUint16(2, true),
      driverReady: this.driverReady,
    };
  }

  loadState(s: object): void {
    const st = s as { version?: unknown; pendingInput?: unknown; cols?: unknown; rows?: unknown; driverReady?: unknown };
    if (st.version !== 1) throw new DeviceStateError('virtio-console state: unsupported version');
    // Strict, never repaired (issue 12): the fields saveState writes, in their ranges.
    if (!(st.pendingInput instanceof Uint8Array) || st.pendingInput.length > MAX_PENDING_INPUT) {
      throw new DeviceStateError('virtio-console state: bad pendingInput');
    }
    const f = st as Record<string, unknown>;
    const cols = intField(f, 'cols', 0xffff, 0xffff, 'virtio-console');
    const rows = intField(f, 'rows', 0xffff, 0xffff, 'virtio-console');
    // absent in states saved before it was recorded
    const driverReady = st.driverReady === undefined ? false : boolField(f, 'driverReady', 'virtio-console');
    this.pending.clear();
    this.pending.push(st.pendingInput);
    const v = new DataView(this.configSpace.buffer);
    v.setUint16(0, cols, true);
    v.setUint16(2, rows, true);
    this.driverReady = driverReady;
  }

}
