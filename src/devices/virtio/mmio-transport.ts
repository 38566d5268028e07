// virtio-mmio transport, version 2 only (virtio 1.2, section 4.2.2). One instance per board slot
// (0x1000_1000 + n*0x1000, PLIC source 1 + n). Registers are 32-bit; other access sizes outside the
// configuration space are ignored (read as 0). A device that trips over a malformed queue is put into
// DEVICE_NEEDS_RESET with a configuration-change interrupt and processes nothing more until reset.

import { GuestMemoryError, type GuestMemory, type IrqLine, type MmioDevice } from '../bus.js';
import { low32 } from '../mmio-bus.js';
import { DeviceStateError, intField } from '../state-fields.js';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  type VirtioDevice,
  type VirtioHost,
} from './device.js';
import { Virtqueue, VirtqueueError } from './virtqueue.js';

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
/** Vendor id reported to the guest: "TABV" little-endian. Drivers do not look at it. */
export const VIRTIO_MMIO_VENDOR = 0x56424154;
export const VIRTIO_MMIO_SIZE = 0x1000;

export const REG = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  SHMLenLow: 0x0b0,
  SHMLenHigh: 0x0b4,
  SHMBaseLow: 0x0b8,
  SHMBaseHigh: 0x0bc,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

export const INT_USED_BUFFER = 1;
export const INT_CONFIG_CHANGE = 2;

const TRANSPORT_FEATURES = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;
const MASK32 = 0xffff_ffffn;

export interface VirtioMmioState {
  version: 1;
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: string;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  failure: string | null;
  queues: object[];
  device: object;
}

function setLow(v: bigint, low: number): bigint {
  return (v & ~MASK32) | BigInt(low >>> 0);
}
function setHigh(v: bigint, high: number): bigint {
  return (v & MASK32) | (BigInt(high >>> 0) << 32n);
}

export class VirtioMmioTransport implements MmioDevice, VirtioHost {
  readonly size = VIRTIO_MMIO_SIZE;
  readonly offeredFeatures: bigint;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeaturesValue = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private irqLevel = false;
  private readonly queues: Virtqueue[];
  /** Why the device stopped (NEEDS_RESET), for logs and tests; null while healthy. */
  private failure: string | null = null;
  private processing = false;
  private readonly deferredKicks = new Set<number>();

  constructor(
    readonly device: VirtioDevice,
    readonly memory: GuestMemory,
    private readonly irq: IrqLine,
  ) {
    this.offeredFeatures = device.deviceFeatures | TRANSPORT_FEATURES;
    this.queues = device.queueMaxSizes.map((n) => new Virtqueue(memory, n));
    device.attach(this);
  }

  get driverFeatures(): bigint {
    return this.driverFeaturesValue;
  }

  /** The reason the device needs reset, or null. */
  get failureReason(): string | null {
    return this.failure;
  }

  queue(index: number): Virtqueue {
    const q = this.queues[index];
    if (q === undefined) throw new RangeError(`no queue ${index}`);
    return q;
  }

  private get driverOk(): boolean {
    return (this.status & STATUS_DRIVER_OK) !== 0 && this.failure === null;
  }

  kick(index: number): void {
    // A device may kick from inside its own processing (console input echoed while transmitting): the
    // outer pass picks that work up afterwards, never by recursion.
    this.deferredKicks.add(index);
    if (this.processing) return;
    this.processing = true;
    try {
      for (let round = 0; round < 64 && this.deferredKicks.size > 0; round++) {
        const [i] = this.deferredKicks;
        this.deferredKicks.delete(i);
        this.runQueue(i);
      }
    } finally {
      this.deferredKicks.clear();
      this.processing = false;
    }
    this.collectNotifications();
  }

  private runQueue(index: number): void {
    const q = this.queues[index];
    if (q === undefined || !q.ready || !this.driverOk) return;
    try {
      q.beginBatch();
      this.device.processQueue(index);
    } catch (e) {
      // A malformed ring is the guest's fault; anything else is ours, but it still only stops this device.
      this.fail(e instanceof VirtqueueError || e instanceof GuestMemoryError ? e.message : `device error: ${String(e)}`);
    }
  }

  private collectNotifications(): void {
    if (this.failure !== null) return;
    try {
      for (const q of this.queues) if (q.takeNotification()) this.interruptStatus |= INT_USED_BUFFER;
    } catch (e) {
      this.fail(e instanceof Error ? e.message : String(e));
    }
    this.updateIrq();
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & STATUS_DRIVER_OK) {
      this.interruptStatus |= INT_CONFIG_CHANGE;
      this.updateIrq();
    }
  }

  /** Puts the device into DEVICE_NEEDS_RESET (spec 2.1.2): a malformed queue or request. */
  fail(reason: string): void {
    if (this.failure !== null) return;
    this.failure = reason;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    this.interruptStatus |= INT_CONFIG_CHANGE;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  /** Device reset, as when the driver writes 0 to Status (also used when the machine resets). */
  reset(): void {
    this.status = 0;
    this.deviceFeaturesSel = this.driverFeaturesSel = 0;
    this.driverFeaturesValue = 0n;
    this.queueSel = 0;
    this.interruptStatus = 0;
    this.failure = null;
    for (const q of this.queues) q.reset();
    this.device.reset();
    this.updateIrq();
  }

  private writeStatus(v: number): void {
    if (v === 0) {
      this.reset();
      return;
    }
    const old = this.status;
    v &= 0xff & ~STATUS_DEVICE_NEEDS_RESET;
    // FEATURES_OK is only accepted for a subset of what we offered that includes VERSION_1 (legacy
    // drivers are not supported); otherwise the bit stays clear and the driver gives up (spec 3.1.1).
    if (v & STATUS_FEATURES_OK && !(old & STATUS_FEATURES_OK)) {
      const f = this.driverFeaturesValue;
      const ok = (f & ~this.offeredFeatures) === 0n && (f & VIRTIO_F_VERSION_1) !== 0n;
      if (!ok) v &= ~STATUS_FEATURES_OK;
      else {
        for (const q of this.queues) {
          q.indirectEnabled = (f & VIRTIO_F_INDIRECT_DESC) !== 0n;
          q.eventIdxEnabled = (f & VIRTIO_F_EVENT_IDX) !== 0n;
        }
      }
    }
    if (v & STATUS_DRIVER_OK && !((old | v) & STATUS_FEATURES_OK)) v &= ~STATUS_DRIVER_OK;
    // Status bits are only ever set by the driver (short of a reset).
    this.status = old | v;
    if (this.status & STATUS_DRIVER_OK && !(old & STATUS_DRIVER_OK) && this.failure === null) {
      this.device.activate?.(this.driverFeaturesValue);
      // Buffers the driver queued before DRIVER_OK (receive rings) are picked up now.
      for (let i = 0; i < this.queues.length; i++) this.kick(i);
    }
  }

  private selectedQueue(): Virtqueue | undefined {
    return this.queues[this.queueSel];
  }

  /** Queue configuration may only change while the queue is not ready (spec 4.2.3.2). */
  private configurableQueue(): Virtqueue | undefined {
    const q = this.selectedQueue();
    return q !== undefined && !q.ready && !(this.status & STATUS_FAILED) ? q : undefined;
  }

  read(offset: number, size: number): number {
    if (offset >= REG.Config) return this.readConfig(offset - REG.Config, size);
    if (size !== 4 || offset & 3) return 0;
    const q = this.selectedQueue();
    switch (offset) {
      case REG.MagicValue:
        return VIRTIO_MMIO_MAGIC;
      case REG.Version:
        return 2;
      case REG.DeviceID:
        return this.device.deviceId;
      case REG.VendorID:
        return VIRTIO_MMIO_VENDOR;
      case REG.DeviceFeatures:
        return this.deviceFeaturesSel < 2 ? Number((this.offeredFeatures >> BigInt(32 * this.deviceFeaturesSel)) & MASK32) : 0;
      case REG.QueueNumMax:
        return q?.maxSize ?? 0;
      case REG.QueueNum:
        return q?.size ?? 0;
      case REG.QueueReady:
        return q?.ready ? 1 : 0;
      case REG.InterruptStatus:
        return this.interruptStatus;
      case REG.Status:
        return this.status;
      case REG.QueueDescLow:
        return Number((q?.descAddr ?? 0n) & MASK32);
      case REG.QueueDescHigh:
        return Number((q?.descAddr ?? 0n) >> 32n);
      case REG.QueueDriverLow:
        return Number((q?.driverAddr ?? 0n) & MASK32);
      case REG.QueueDriverHigh:
        return Number((q?.driverAddr ?? 0n) >> 32n);
      case REG.QueueDeviceLow:
        return Number((q?.deviceAddr ?? 0n) & MASK32);
      case REG.QueueDeviceHigh:
        return Number((q?.deviceAddr ?? 0n) >> 32n);
      case REG.SHMLenLow:
      case REG.SHMLenHigh:
      case REG.SHMBaseLow:
      case REG.SHMBaseHigh:
        return 0xffff_ffff; // no shared memory regions (spec 4.2.2: length -1 means none)
      case REG.ConfigGeneration:
        return this.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, size: number, value: number | bigint): void {
    if (offset >= REG.Config) {
      this.writeConfig(offset - REG.Config, size, value);
      return;
    }
    if (size !== 4 || offset & 3) return;
    const v = low32(value);
    switch (offset) {
      case REG.DeviceFeaturesSel:
        this.deviceFeaturesSel = v;
        return;
      case REG.DriverFeatures:
        if (this.status & STATUS_FEATURES_OK || this.driverFeaturesSel > 1) return;
        this.driverFeaturesValue = this.driverFeaturesSel === 0 ? setLow(this.driverFeaturesValue, v) : setHigh(this.driverFeaturesValue, v);
        return;
      case REG.DriverFeaturesSel:
        this.driverFeaturesSel = v;
        return;
      case REG.QueueSel:
        this.queueSel = v;
        return;
      case REG.QueueNum: {
        const q = this.configurableQueue();
        if (q) q.size = v;
        return;
      }
      case REG.QueueReady: {
        const q = this.selectedQueue();
        if (q === undefined || this.failure !== null) return;
        if (v === 1 && !q.ready) {
          try {
            q.enable();
          } catch (e) {
            this.fail(e instanceof Error ? e.message : String(e));
          }
          if (this.status & STATUS_FEATURES_OK) {
            q.indirectEnabled = (this.driverFeaturesValue & VIRTIO_F_INDIRECT_DESC) !== 0n;
            q.eventIdxEnabled = (this.driverFeaturesValue & VIRTIO_F_EVENT_IDX) !== 0n;
          }
        } else if (v === 0) {
          q.ready = false;
        }
        return;
      }
      case REG.QueueNotify:
        // Notifications before DRIVER_OK are remembered by the rings themselves: DRIVER_OK kicks every queue.
        this.kick(v & 0xffff);
        return;
      case REG.InterruptACK:
        this.interruptStatus &= ~v;
        this.updateIrq();
        return;
      case REG.Status:
        this.writeStatus(v);
        return;
      case REG.QueueDescLow:
      case REG.QueueDescHigh:
      case REG.QueueDriverLow:
      case REG.QueueDriverHigh:
      case REG.QueueDeviceLow:
      case REG.QueueDeviceHigh: {
        const q = this.configurableQueue();
        if (q === undefined) return;
        const high = (offset & 4) !== 0;
        const base = offset & ~4;
        const set = (old: bigint): bigint => (high ? setHigh(old, v) : setLow(old, v));
        if (base === REG.QueueDescLow) q.descAddr = set(q.descAddr);
        else if (base === REG.QueueDriverLow) q.driverAddr = set(q.driverAddr);
        else q.deviceAddr = set(q.deviceAddr);
        return;
      }
      default:
        return; // read-only or unknown register
    }
  }

  private readConfig(offset: number, size: number): number {
    const cfg = this.device.config();
    if (size > 4 || offset + size > cfg.length) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + cfg[offset + i];
    return v;
  }

  private writeConfig(offset: number, size: number, value: number | bigint): void {
    if (size > 4 || this.device.writeConfig === undefined) return;
    const len = this.device.config().length;
    if (offset + size > len) return;
    const v = low32(value);
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (v >>> (8 * i)) & 0xff;
    this.device.writeConfig(offset, data);
  }

  saveState(): VirtioMmioState {
    return {
      version: 1,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeaturesValue.toString(),
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      failure: this.failure,
      queues: this.queues.map((q) => q.saveState()),
      device: this.device.saveState(),
    };
  }

  loadState(s: object): void {
    const st = s as Partial<VirtioMmioState>;
    if (st.version !== 1) throw new Error(`VirtioMmioTransport: unsupported state version ${String(st.version)}`);
    // Every register as the driver could have left it, or the state is refused (nothing changed yet).
    const f = st as Record<string, unknown>;
    const who = 'virtio transport';
    const u32 = 0xffff_ffff;
    const deviceFeaturesSel = intField(f, 'deviceFeaturesSel', u32, u32, who);
    const driverFeaturesSel = intField(f, 'driverFeaturesSel', u32, u32, who);
    const queueSel = intField(f, 'queueSel', u32, u32, who);
    const configGeneration = intField(f, 'configGeneration', u32, u32, who);
    const status = intField(f, 'status', 0xff, 0xff, who);
    const interruptStatus = intField(f, 'interruptStatus', 0xff, INT_USED_BUFFER | INT_CONFIG_CHANGE, who);
    if (typeof st.driverFeatures !== 'string' || !/^[0-9]{1,20}$/.test(st.driverFeatures) || BigInt(st.driverFeatures) >= 1n << 64n) {
      throw new DeviceStateError(`${who} state: bad driverFeatures`);
    }
    const driverFeatures = BigInt(st.driverFeatures);
    // FEATURES_OK is only granted for offered features with VERSION_1; DRIVER_OK only after it.
    if ((status & STATUS_FEATURES_OK) !== 0 && ((driverFeatures & ~this.offeredFeatures) !== 0n || (driverFeatures & VIRTIO_F_VERSION_1) === 0n)) {
      throw new DeviceStateError(`${who} state: FEATURES_OK with features the device does not offer`);
    }
    if ((status & STATUS_DRIVER_OK) !== 0 && (status & STATUS_FEATURES_OK) === 0) throw new DeviceStateError(`${who} state: DRIVER_OK without FEATURES_OK`);
    if (st.failure !== undefined && st.failure !== null && typeof st.failure !== 'string') throw new DeviceStateError(`${who} state: bad failure`);
    if (st.queues !== undefined && (!Array.isArray(st.queues) || st.queues.length > this.queues.length)) throw new DeviceStateError(`${who} state: bad queues`);
    this.reset();
    this.deviceFeaturesSel = deviceFeaturesSel;
    this.driverFeaturesSel = driverFeaturesSel;
    this.driverFeaturesValue = driverFeatures;
    this.queueSel = queueSel;
    this.configGeneration = configGeneration;
    this.status = status;
    const features = this.driverFeaturesValue;
    const saved = Array.isArray(st.queues) ? st.queues : [];
    this.queues.forEach((q, i) => {
      const qs = saved[i] as object | undefined;
      // A ready queue passed the same checks when the guest enabled it, in RAM of the same size:
      // one that fails them now was not saved by this board, so the whole state is refused.
      if (qs !== undefined) q.loadState(qs);
      q.indirectEnabled = (features & VIRTIO_F_INDIRECT_DESC) !== 0n;
      q.eventIdxEnabled = (features & VIRTIO_F_EVENT_IDX) !== 0n;
    });
    if (st.device !== undefined) this.device.loadState(st.device);
    if (typeof st.failure === 'string') this.fail(st.failure);
    this.interruptStatus = interruptStatus;
    // Drive the line unconditionally: the PLIC restored from the same snapshot must agree.
    this.irqLevel = this.interruptStatus !== 0;
    this.irq.set(this.irqLevel);
  }
}
