// virtio-balloon (device id 5; virtio 1.2, 5.5): the hypervisor asks the guest for memory back.
// Queues: 0 inflateq, 1 deflateq, 2 reporting_vq (free page reporting). The host sets the target
// (num_pages, 4 KiB pages) and the guest's driver answers by inflating: it sends page frame
// numbers it gave up, and the device discards those pages (zeroes them, so snapshots and
// migration skip them). With PAGE_REPORTING the guest also reports ranges of free memory it does
// not need; those are discarded the same way and handed back at once. `actual` (written by the
// driver) is what the balloon holds. Every page number and range is checked against RAM.

import { VIRTIO_ID_BALLOON, type VirtioDevice, type VirtioHost } from './device.js';
import { readChain, VirtqueueError } from './virtqueue.js';

export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 1n << 2n;
export const VIRTIO_BALLOON_F_PAGE_REPORTING = 1n << 5n;

export const BALLOON_PAGE = 4096;
const QUEUE_SIZE = 128;
const INFLATEQ = 0;
const DEFLATEQ = 1;
const REPORTINGQ = 2;
/** PFNs in one inflate/deflate buffer at most (Linux sends 256). */
const MAX_PFNS = 4096;

export interface BalloonStats {
  /** Pages the guest says the balloon holds (config `actual`). */
  actualPages: number;
  /** Pages the host asked for (config `num_pages`). */
  targetPages: number;
  inflatedPages: number;
  deflatedPages: number;
  /** Bytes of free memory the guest reported (and the host discarded). */
  reportedBytes: number;
}

/**
 * Discards guest RAM in [addr, addr+len): afterwards it reads as zeros. `isRam` says whether a
 * range lies wholly in RAM (the device never discards anything else).
 */
export interface PageDiscarder {
  isRam(addr: number, len: number): boolean;
  discard(addr: number, len: number): void;
}

export class VirtioBalloon implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BALLOON;
  readonly deviceFeatures = VIRTIO_BALLOON_F_DEFLATE_ON_OOM | VIRTIO_BALLOON_F_PAGE_REPORTING;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE];
  readonly stats: BalloonStats = { actualPages: 0, targetPages: 0, inflatedPages: 0, deflatedPages: 0, reportedBytes: 0 };
  private host!: VirtioHost;
  // struct virtio_balloon_config: num_pages, actual (then fields for features we do not offer).
  private readonly configSpace = new Uint8Array(8);
  /** Called when the guest changes `actual` (the hypervisor's memory accounting listens). */
  onActualChanged: ((pages: number) => void) | undefined;

  constructor(private readonly ram: PageDiscarder, private readonly ramPages: number) {}

  attach(host: VirtioHost): void {
    this.host = host;
  }

  config(): Uint8Array {
    return this.configSpace;
  }

  /** Asks the guest to hold `pages` pages in the balloon (0 gives everything back). */
  setTarget(pages: number): void {
    const p = Math.max(0, Math.min(Math.floor(pages), this.ramPages));
    this.stats.targetPages = p;
    new DataView(this.configSpace.buffer).setUint32(0, p, true);
    this.host?.configChanged();
  }

  writeConfig(offset: number, data: Uint8Array): void {
    // Only `actual` (offset 4) is the driver's to write.
    if (offset < 4 || offset + data.length > 8) return;
    this.configSpace.set(data, offset);
    const actual = new DataView(this.configSpace.buffer).getUint32(4, true);
    this.stats.actualPages = Math.min(actual, this.ramPages);
    this.onActualChanged?.(this.stats.actualPages);
  }

  reset(): void {
    new DataView(this.configSpace.buffer).setUint32(4, 0, true);
    this.stats.actualPages = 0;
  }

  processQueue(index: number): void {
    const q = this.host.queue(index);
    const mem = this.host.memory;
    // A report names free guest memory, not data to copy: as much as RAM holds (Linux sends up
    // to 32 blocks of its reporting order, 128 MiB at 4 MiB blocks).
    if (index === REPORTINGQ) q.maxChainBytes = Math.max(q.maxChainBytes, this.ramPages * BALLOON_PAGE);
    for (let chain = q.pop(); chain !== null; chain = q.pop()) {
      if (index === INFLATEQ || index === DEFLATEQ) {
        if (chain.readableLength % 4 !== 0 || chain.readableLength > MAX_PFNS * 4) throw new VirtqueueError('balloon: PFN buffer of a bad length');
        const bytes = readChain(mem, chain.readable, 0, chain.readableLength);
        const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < bytes.length; i += 4) {
          const addr = v.getUint32(i, true) * BALLOON_PAGE;
          // A page outside RAM is ignored (the guest can only hurt itself; the spec has no error).
          if (!this.ram.isRam(addr, BALLOON_PAGE)) continue;
          if (index === INFLATEQ) {
            this.ram.discard(addr, BALLOON_PAGE);
            this.stats.inflatedPages++;
          } else {
            this.stats.deflatedPages++;
          }
        }
      } else if (index === REPORTINGQ) {
        // Each descriptor *is* a free range: discard it (content is neither read nor written).
        // Linux adds them as device-writable buffers (virtqueue_add_inbuf); accept either kind.
        for (const s of [...chain.readable, ...chain.writable]) {
          if (s.len % BALLOON_PAGE !== 0 || s.addr % BALLOON_PAGE !== 0) throw new VirtqueueError('balloon: reported range not page-aligned');
          this.ram.discard(s.addr, s.len);
          this.stats.reportedBytes += s.len;
        }
      }
      q.push(chain.head, 0);
    }
  }

  saveState(): object {
    const v = new DataView(this.configSpace.buffer);
    return { version: 1, numPages: v.getUint32(0, true), actual: v.getUint32(4, true) };
  }

  loadState(s: object): void {
    const st = s as { version?: unknown; numPages?: unknown; actual?: unknown };
    const ok = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= this.ramPages;
    if (st.version !== 1 || !ok(st.numPages) || !ok(st.actual)) throw new Error('VirtioBalloon: bad state');
    const v = new DataView(this.configSpace.buffer);
    v.setUint32(0, st.numPages, true);
    v.setUint32(4, st.actual, true);
    this.stats.targetPages = st.numPages;
    this.stats.actualPages = st.actual;
  }
}
