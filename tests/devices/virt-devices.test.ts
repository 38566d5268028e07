import { describe, expect, it } from 'vitest';
import { ArrayGuestMemory } from '../../src/devices/guest-memory.js';
import { VirtDevices } from '../../src/devices/virt-devices.js';
import { BufferConsole } from '../../src/devices/backends/console.js';
import { MemoryOverlayDisk } from '../../src/devices/backends/disk.js';
import { VirtioBlock } from '../../src/devices/virtio/block.js';
import { VirtioRng } from '../../src/devices/virtio/rng.js';
import { MmioAccessFault } from '../../src/devices/mmio-bus.js';
import { REG } from '../../src/devices/virtio/mmio-transport.js';
import { readFdt } from './helpers/fdt-reader.js';

function board() {
  const memory = new ArrayGuestMemory(1 << 20);
  const console = new BufferConsole();
  const events: string[] = [];
  const hart = { meip: false, seip: false };
  const devices = new VirtDevices({
    memory,
    console,
    syscon: { poweroff: () => events.push('poweroff'), reboot: () => events.push('reboot'), fail: (c) => events.push(`fail ${c}`) },
    virtio: [new VirtioBlock(new MemoryOverlayDisk(new Uint8Array(4096))), undefined, new VirtioRng()],
  });
  devices.connectHart((l) => (hart.meip = l), (l) => (hart.seip = l));
  return { memory, console, events, hart, devices, bus: devices.bus };
}

describe('VirtDevices', () => {
  it('routes the guest-physical map: UART, syscon, PLIC and the occupied virtio slots only', () => {
    const { bus, console, events } = board();
    for (const c of 'ok') bus.mmioWrite(0x1000_0000, 1, c.charCodeAt(0));
    expect(console.takeText()).toBe('ok');
    bus.mmioWrite(0x10_0000, 4, 0x5555);
    expect(events).toEqual(['poweroff']);
    expect(bus.mmioRead(0x1000_1000 + REG.DeviceID, 4)).toBe(2);
    expect(bus.mmioRead(0x1000_3000 + REG.DeviceID, 4)).toBe(4);
    expect(() => bus.mmioRead(0x1000_2000, 4)).toThrow(MmioAccessFault); // empty slot
    expect(() => bus.mmioRead(0x0200_0000, 4)).toThrow(MmioAccessFault); // CLINT is in the core
  });

  it('delivers the UART interrupt through the PLIC to SEIP, claimable as source 10', () => {
    const { bus, console, hart } = board();
    bus.mmioWrite(0x0c00_0000 + 4 * 10, 4, 1); // priority
    bus.mmioWrite(0x0c00_2080, 4, 1 << 10); // S-context enable
    bus.mmioWrite(0x1000_0001, 1, 0x01); // IER: RX data
    console.type('k');
    expect(hart).toEqual({ meip: false, seip: true });
    expect(bus.mmioRead(0x0c20_1004, 4)).toBe(10);
    expect(bus.mmioRead(0x1000_0000, 1)).toBe(0x6b);
    bus.mmioWrite(0x0c20_1004, 4, 10);
    expect(hart.seip).toBe(false);
  });

  it('resets every device on a machine reset, keeping back ends', () => {
    const { bus, console, hart, devices } = board();
    bus.mmioWrite(0x0c00_0000 + 4 * 10, 4, 1);
    bus.mmioWrite(0x0c00_2080, 4, 1 << 10);
    bus.mmioWrite(0x1000_0001, 1, 0x01);
    bus.mmioWrite(0x1000_0007, 1, 0x42);
    bus.mmioWrite(0x1000_1000 + REG.Status, 4, 3);
    console.type('ab');
    expect(hart.seip).toBe(true);
    devices.reset();
    expect(hart.seip).toBe(false);
    expect(bus.mmioRead(0x0c00_0000 + 4 * 10, 4)).toBe(0);
    expect(bus.mmioRead(0x0c00_2080, 4)).toBe(0);
    expect(bus.mmioRead(0x1000_0001, 1)).toBe(0);
    expect(bus.mmioRead(0x1000_0007, 1)).toBe(0);
    expect(bus.mmioRead(0x1000_1000 + REG.Status, 4)).toBe(0);
    expect(bus.mmioRead(0x1000_0000, 1)).toBe(0x61); // typed input survives for the next boot
    console.type('c');
    bus.mmioWrite(0x1000_0000, 1, 0x21);
    expect(console.takeText()).toBe('!');
  });

  it('describes exactly its devices in the device tree', () => {
    const { devices } = board();
    const tree = readFdt(devices.deviceTree({ memoryBytes: 1 << 20 }));
    const virtio = [...tree.keys()].filter((k) => k.includes('virtio_mmio'));
    expect(virtio).toEqual(['/soc/virtio_mmio@10001000', '/soc/virtio_mmio@10003000']);
  });

  it('saves and restores the whole device state, and refuses a state for other devices', () => {
    const a = board();
    a.bus.mmioWrite(0x0c00_0000 + 4 * 10, 4, 5);
    a.bus.mmioWrite(0x1000_0007, 1, 0x99);
    a.bus.mmioWrite(0x1000_1000 + REG.Status, 4, 1);
    const state = structuredClone(a.devices.saveState());
    const b = board();
    b.devices.loadState(state);
    expect(b.bus.mmioRead(0x0c00_0000 + 4 * 10, 4)).toBe(5);
    expect(b.bus.mmioRead(0x1000_0007, 1)).toBe(0x99);
    expect(b.bus.mmioRead(0x1000_1000 + REG.Status, 4)).toBe(1);
    const other = new VirtDevices({
      memory: new ArrayGuestMemory(4096),
      console: new BufferConsole(),
      syscon: { poweroff() {}, reboot() {}, fail() {} },
      virtio: [new VirtioRng()],
    });
    expect(() => other.loadState(state)).toThrow(/different virtio devices/);
  });
});
