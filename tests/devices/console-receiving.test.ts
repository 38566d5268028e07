// The "guest console can receive" signals the CLI waits for before sending piped input:
// the 16550's receive interrupt enable (Linux sets it when ttyS0 is opened) and hvc0's DRIVER_OK.
import { describe, expect, it } from 'vitest';
import { Uart16550 } from '../../src/devices/uart16550.js';
import { VirtioConsole } from '../../src/devices/virtio/console.js';
import { VirtioMmioTransport } from '../../src/devices/virtio/mmio-transport.js';
import { ArrayGuestMemory } from '../../src/devices/guest-memory.js';
import { BufferConsole } from '../../src/devices/backends/console.js';
import { VIRTIO_F_VERSION_1 } from '../../src/devices/virtio/device.js';
import { TestIrq, TestVirtioDriver } from './helpers/virtio-driver.js';

const IER = 1;

describe('console receive signals', () => {
  it('16550: receiving once the driver enables the receive interrupt, not after a reset', () => {
    const uart = new Uart16550(new TestIrq(), new BufferConsole());
    expect(uart.receiverEnabled).toBe(false);
    uart.write(IER, 1, 0x02); // transmit interrupt only (the kernel's console writes)
    expect(uart.receiverEnabled).toBe(false);
    uart.write(IER, 1, 0x05); // RDI | RLSI: serial8250_do_startup
    expect(uart.receiverEnabled).toBe(true);
    uart.reset();
    expect(uart.receiverEnabled).toBe(false);
  });

  it('virtio console: receiving once the driver sets DRIVER_OK, kept across save and load, cleared by reset', () => {
    const device = new VirtioConsole(new BufferConsole());
    const mem = new ArrayGuestMemory(4 << 20);
    const t = new VirtioMmioTransport(device, mem, new TestIrq());
    expect(device.receiving).toBe(false);
    new TestVirtioDriver(t, mem).init(2, VIRTIO_F_VERSION_1);
    expect(device.receiving).toBe(true);
    const saved = t.saveState();
    t.reset();
    expect(device.receiving).toBe(false);
    t.loadState(saved);
    expect(device.receiving).toBe(true);
  });
});
