// The device side of the virt board in one place: PLIC, UART, syscon and the virtio-mmio slots mapped
// on an MmioBus at QEMU virt's addresses, their interrupt lines wired, and the device tree that
// describes exactly these. The CLINT lives in the core (assembly/) and is not on this bus.

import type { GuestMemory } from './bus.js';
import type { ConsoleBackend } from './backends/console.js';
import { buildDeviceTree, UART0_IRQ, VIRT_MEMORY_MAP, VIRTIO_SLOTS, virtioSlot, type DeviceTreeConfig } from './device-tree.js';
import { MmioBus } from './mmio-bus.js';
import { Plic } from './plic.js';
import { SysCon, type SysConHandlers } from './syscon.js';
import { Uart16550 } from './uart16550.js';
import type { VirtioDevice } from './virtio/device.js';
import { VirtioMmioTransport } from './virtio/mmio-transport.js';

export interface VirtDevicesOptions {
  memory: GuestMemory;
  /** Back end of the serial console (ttyS0). */
  console: ConsoleBackend;
  syscon: SysConHandlers;
  /** virtio devices by slot: index n goes to 0x1000_1000 + n*0x1000, PLIC source 1 + n. */
  virtio?: readonly (VirtioDevice | undefined)[];
}

export interface VirtDevicesState {
  version: 1;
  plic: object;
  uart: object;
  syscon: object;
  virtio: { slot: number; deviceId: number; state: object }[];
}

export class VirtDevices {
  readonly bus = new MmioBus();
  readonly plic = new Plic();
  readonly uart: Uart16550;
  readonly syscon: SysCon;
  /** Transports by slot (undefined where the slot is empty). */
  readonly transports: (VirtioMmioTransport | undefined)[] = [];

  constructor(options: VirtDevicesOptions) {
    const virtio = options.virtio ?? [];
    if (virtio.length > VIRTIO_SLOTS) throw new RangeError(`at most ${VIRTIO_SLOTS} virtio devices`);
    this.uart = new Uart16550(this.plic.line(UART0_IRQ), options.console);
    this.syscon = new SysCon(options.syscon);
    this.bus.map(VIRT_MEMORY_MAP.test, this.syscon, 'test');
    this.bus.map(VIRT_MEMORY_MAP.plic, this.plic, 'plic');
    this.bus.map(VIRT_MEMORY_MAP.uart0, this.uart, 'uart0');
    virtio.forEach((device, n) => {
      if (device === undefined) return;
      const { base, irq } = virtioSlot(n);
      const t = new VirtioMmioTransport(device, options.memory, this.plic.line(irq));
      this.transports[n] = t;
      this.bus.map(base, t, `virtio${n}`);
    });
  }

  /** Connects the PLIC's outputs to the hart: context 0 drives MEIP, context 1 drives SEIP. */
  connectHart(meip: (level: boolean) => void, seip: (level: boolean) => void): void {
    this.plic.connectOutput(0, meip);
    this.plic.connectOutput(1, seip);
  }

  /** Machine reset (reboot): every device back to its power-on state; back ends are kept. */
  reset(): void {
    for (const t of this.transports) t?.reset();
    this.uart.reset();
    this.plic.reset();
  }

  /** The occupied virtio slots. */
  get virtioSlots(): number[] {
    return this.transports.flatMap((t, n) => (t ? [n] : []));
  }

  /** The device tree for these devices and the given memory, command line and initrd. */
  deviceTree(config: Omit<DeviceTreeConfig, 'virtioSlots' | 'uart'>): Uint8Array {
    return buildDeviceTree({ ...config, virtioSlots: this.virtioSlots, uart: true });
  }

  saveState(): VirtDevicesState {
    return {
      version: 1,
      plic: this.plic.saveState(),
      uart: this.uart.saveState(),
      syscon: this.syscon.saveState(),
      virtio: this.transports.flatMap((t, slot) => (t ? [{ slot, deviceId: t.device.deviceId, state: t.saveState() }] : [])),
    };
  }

  /** Restores a state saved from a board with the same devices in the same slots (throws otherwise). */
  loadState(s: object): void {
    const st = s as Partial<VirtDevicesState>;
    if (st.version !== 1) throw new Error(`VirtDevices: unsupported state version ${String(st.version)}`);
    const saved = Array.isArray(st.virtio) ? st.virtio : [];
    const slots = this.virtioSlots;
    if (saved.length !== slots.length || saved.some((v) => this.transports[v.slot]?.device.deviceId !== v.deviceId)) {
      throw new Error('VirtDevices: saved state has different virtio devices');
    }
    // One entry per slot: a slot twice (and so another one missing) is not a state this board saves.
    if (new Set(saved.map((v) => v.slot)).size !== saved.length) throw new Error('VirtDevices: saved state names a virtio slot twice');
    this.plic.loadState(st.plic ?? {});
    this.syscon.loadState(st.syscon ?? {});
    this.uart.loadState(st.uart ?? {});
    for (const v of saved) this.transports[v.slot]!.loadState(v.state);
  }
}
