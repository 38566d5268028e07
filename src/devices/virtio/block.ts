// virtio-blk (device id 2; virtio 1.2, 5.2): IN, OUT, FLUSH, GET_ID over one request queue.
// A request is a 16-byte device-readable header, data, and a 1-byte device-writable status. A request the
// driver could not have meant (no header, no status byte) is malformed: the device needs reset. A
// well-formed request the disk cannot serve (beyond the end, partial sector, read-only) gets IOERR.

import { SECTOR_SIZE, type BlockBackend } from '../backends/disk.js';
import { VIRTIO_ID_BLOCK, type VirtioDevice, type VirtioHost } from './device.js';
import { readChain, VirtqueueError, writeChain, type DescriptorChain } from './virtqueue.js';

export const VIRTIO_BLK_F_SIZE_MAX = 1n << 1n;
export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n;
export const VIRTIO_BLK_F_RO = 1n << 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n;
export const VIRTIO_BLK_F_FLUSH = 1n << 9n;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

const QUEUE_SIZE = 128;
const ID_BYTES = 20;
const SEG_MAX = QUEUE_SIZE - 2; // header and status take two descriptors
/** Largest data segment; SEG_MAX * SIZE_MAX stays under the virtqueue's per-chain cap, so a driver
 *  that honours the limits can never trip it. */
const SIZE_MAX = 512 * 1024;

export interface VirtioBlockStats {
  reads: number;
  writes: number;
  flushes: number;
  errors: number;
}

export class VirtioBlock implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly deviceFeatures: bigint;
  readonly queueMaxSizes = [QUEUE_SIZE];
  readonly stats: VirtioBlockStats = { reads: 0, writes: 0, flushes: 0, errors: 0 };
  private host!: VirtioHost;
  private readonly sectors: number;
  private readonly configSpace: Uint8Array;

  constructor(readonly backend: BlockBackend) {
    this.sectors = Math.floor(backend.byteLength / SECTOR_SIZE);
    this.deviceFeatures = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH | (backend.readOnly ? VIRTIO_BLK_F_RO : 0n);
    // struct virtio_blk_config up to blk_size: capacity, size_max, seg_max, geometry, blk_size.
    this.configSpace = new Uint8Array(24);
    const v = new DataView(this.configSpace.buffer);
    v.setBigUint64(0, BigInt(this.sectors), true);
    v.setUint32(8, SIZE_MAX, true);
    v.setUint32(12, SEG_MAX, true);
    v.setUint32(20, SECTOR_SIZE, true);
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  config(): Uint8Array {
    return this.configSpace;
  }

  reset(): void {}

  processQueue(index: number): void {
    if (index !== 0) return;
    const q = this.host.queue(0);
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      q.push(chain.head, this.handle(chain));
    }
  }

  /** Serves one request; returns the number of bytes written into the driver's buffers. */
  private handle(chain: DescriptorChain): number {
    const mem = this.host.memory;
    if (chain.readableLength < 16) throw new VirtqueueError('block request without a 16-byte header');
    if (chain.writableLength < 1) throw new VirtqueueError('block request without a status byte');
    const header = new DataView(readChain(mem, chain.readable, 0, 16).buffer);
    const type = header.getUint32(0, true);
    const sector = header.getBigUint64(8, true);
    const dataIn = chain.writableLength - 1;
    let status = VIRTIO_BLK_S_OK;
    let written = 0;
    try {
      switch (type) {
        case VIRTIO_BLK_T_IN: {
          const offset = this.byteRange(sector, dataIn);
          if (offset < 0) {
            status = VIRTIO_BLK_S_IOERR;
            break;
          }
          written = writeChain(mem, chain.writable, 0, this.backend.read(offset, dataIn));
          this.stats.reads++;
          break;
        }
        case VIRTIO_BLK_T_OUT: {
          const length = chain.readableLength - 16;
          const offset = this.byteRange(sector, length);
          if (offset < 0 || this.backend.readOnly) {
            status = VIRTIO_BLK_S_IOERR;
            break;
          }
          this.backend.write(offset, readChain(mem, chain.readable, 16, length));
          this.stats.writes++;
          break;
        }
        case VIRTIO_BLK_T_FLUSH:
          this.backend.flush();
          this.stats.flushes++;
          break;
        case VIRTIO_BLK_T_GET_ID: {
          const id = new Uint8Array(ID_BYTES); // NUL-padded; no terminator when exactly 20 bytes
          id.set(new TextEncoder().encode(this.backend.serial).subarray(0, ID_BYTES));
          written = writeChain(mem, chain.writable, 0, id.subarray(0, Math.min(ID_BYTES, dataIn)));
          break;
        }
        default:
          status = VIRTIO_BLK_S_UNSUPP;
      }
    } catch (e) {
      // The guest's buffers were checked already; what can fail here is the back end (I/O error).
      if (e instanceof VirtqueueError) throw e;
      status = VIRTIO_BLK_S_IOERR;
    }
    if (status !== VIRTIO_BLK_S_OK) this.stats.errors++;
    writeChain(mem, chain.writable, dataIn, Uint8Array.of(status));
    return written + 1;
  }

  /** Byte offset of a transfer of `length` bytes at `sector`, or -1 when it is partial or beyond the disk. */
  private byteRange(sector: bigint, length: number): number {
    if (length % SECTOR_SIZE !== 0) return -1;
    const count = length / SECTOR_SIZE;
    if (sector > BigInt(this.sectors) || Number(sector) + count > this.sectors) return -1;
    return Number(sector) * SECTOR_SIZE;
  }

  saveState(): object {
    return { version: 1, stats: { ...this.stats } };
  }

  loadState(s: object): void {
    if ((s as { version?: unknown }).version !== 1) throw new Error('VirtioBlock: unsupported state version');
  }
}
