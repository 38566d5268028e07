// The device tree of the virt board, generated from the VM's configuration (ARCHITECTURE.md, "The RV64
// machine"). Node names, compatibles and phandle wiring follow QEMU's hw/riscv/virt.c so the same
// firmware and kernel boot on both; only devices that exist are described (docs/DEVICES.md lists the
// differences from QEMU's tree).

import { cells64, FdtWriter } from './fdt.js';
import { PLIC_NUM_SOURCES, PLIC_SIZE } from './plic.js';
import { SYSCON_POWEROFF, SYSCON_REBOOT, SYSCON_SIZE } from './syscon.js';
import { VIRTIO_MMIO_SIZE } from './virtio/mmio-transport.js';

export const VIRT_MEMORY_MAP = {
  test: 0x0010_0000,
  clint: 0x0200_0000,
  clintSize: 0x1_0000,
  plic: 0x0c00_0000,
  uart0: 0x1000_0000,
  uartSize: 0x100,
  virtio: 0x1000_1000,
  dram: 0x8000_0000,
} as const;

export const UART0_IRQ = 10;
export const VIRTIO_IRQ_BASE = 1;
export const VIRTIO_SLOTS = 8;
export const TIMEBASE_FREQUENCY = 10_000_000;
export const UART_CLOCK_FREQUENCY = 3_686_400;
export const RISCV_ISA = 'rv64imafdc_zicsr_zifencei';

// Interrupt numbers at the hart's local controller (mip bits).
const IRQ_M_SOFT = 3;
const IRQ_M_TIMER = 7;
const IRQ_S_EXT = 9;
const IRQ_M_EXT = 11;

/** Address of virtio-mmio slot `n` and its PLIC source. */
export function virtioSlot(n: number): { base: number; irq: number } {
  if (!Number.isInteger(n) || n < 0 || n >= VIRTIO_SLOTS) throw new RangeError(`no virtio slot ${n}`);
  return { base: VIRT_MEMORY_MAP.virtio + n * VIRTIO_MMIO_SIZE, irq: VIRTIO_IRQ_BASE + n };
}

export interface DeviceTreeConfig {
  /** Guest RAM in bytes, at 0x8000_0000. */
  memoryBytes: number | bigint;
  mmuType?: 'sv39' | 'sv48';
  bootargs?: string;
  /** Guest-physical range [start, end) of the initrd, when one is loaded. */
  initrd?: { start: number | bigint; end: number | bigint };
  /** Occupied virtio-mmio slots (0..7). */
  virtioSlots?: number[];
  /** Seed for the kernel's entropy pool (/chosen/rng-seed), e.g. fresh for every clone. */
  rngSeed?: Uint8Array;
  /** Whether the UART is present (default true); stdout-path points at it. */
  uart?: boolean;
}

export function buildDeviceTree(config: DeviceTreeConfig): Uint8Array {
  const mem = BigInt(config.memoryBytes);
  if (mem <= 0n || mem % 4096n !== 0n) throw new RangeError('memory size must be a positive multiple of 4 KiB');
  const slots = [...new Set(config.virtioSlots ?? [])].sort((a, b) => a - b);
  const uart = config.uart ?? true;
  const fdt = new FdtWriter();
  const cpuPhandle = fdt.allocPhandle();
  const intcPhandle = fdt.allocPhandle();
  const plicPhandle = fdt.allocPhandle();
  const testPhandle = fdt.allocPhandle();
  const hex = (n: number): string => n.toString(16);

  fdt.beginNode('');
  fdt.prop('#address-cells', 2);
  fdt.prop('#size-cells', 2);
  fdt.prop('compatible', 'riscv-virtio');
  fdt.prop('model', 'riscv-virtio,tabvisor');

  fdt.beginNode('chosen');
  if (config.bootargs !== undefined) fdt.prop('bootargs', config.bootargs);
  if (uart) fdt.prop('stdout-path', `/soc/serial@${hex(VIRT_MEMORY_MAP.uart0)}`);
  if (config.initrd !== undefined) {
    const start = BigInt(config.initrd.start);
    const end = BigInt(config.initrd.end);
    if (end < start) throw new RangeError('initrd end before start');
    fdt.prop('linux,initrd-start', cells64(start));
    fdt.prop('linux,initrd-end', cells64(end));
  }
  if (config.rngSeed !== undefined) fdt.prop('rng-seed', config.rngSeed);
  fdt.endNode();

  fdt.beginNode('poweroff');
  fdt.prop('value', SYSCON_POWEROFF);
  fdt.prop('offset', 0);
  fdt.prop('regmap', testPhandle);
  fdt.prop('compatible', 'syscon-poweroff');
  fdt.endNode();

  fdt.beginNode('reboot');
  fdt.prop('value', SYSCON_REBOOT);
  fdt.prop('offset', 0);
  fdt.prop('regmap', testPhandle);
  fdt.prop('compatible', 'syscon-reboot');
  fdt.endNode();

  fdt.beginNode(`memory@${hex(VIRT_MEMORY_MAP.dram)}`);
  fdt.prop('device_type', 'memory');
  fdt.prop('reg', [...cells64(VIRT_MEMORY_MAP.dram), ...cells64(mem)]);
  fdt.endNode();

  fdt.beginNode('cpus');
  fdt.prop('#address-cells', 1);
  fdt.prop('#size-cells', 0);
  fdt.prop('timebase-frequency', TIMEBASE_FREQUENCY);
  fdt.beginNode('cpu@0');
  fdt.prop('phandle', cpuPhandle);
  fdt.prop('device_type', 'cpu');
  fdt.prop('reg', 0);
  fdt.prop('status', 'okay');
  fdt.prop('compatible', 'riscv');
  fdt.prop('riscv,isa', RISCV_ISA);
  fdt.prop('mmu-type', `riscv,${config.mmuType ?? 'sv48'}`);
  fdt.beginNode('interrupt-controller');
  fdt.prop('#interrupt-cells', 1);
  fdt.prop('interrupt-controller', null);
  fdt.prop('compatible', 'riscv,cpu-intc');
  fdt.prop('phandle', intcPhandle);
  fdt.endNode();
  fdt.endNode();
  fdt.beginNode('cpu-map');
  fdt.beginNode('cluster0');
  fdt.beginNode('core0');
  fdt.prop('cpu', cpuPhandle);
  fdt.endNode();
  fdt.endNode();
  fdt.endNode();
  fdt.endNode();

  fdt.beginNode('soc');
  fdt.prop('#address-cells', 2);
  fdt.prop('#size-cells', 2);
  fdt.prop('compatible', 'simple-bus');
  fdt.prop('ranges', null);

  if (uart) {
    fdt.beginNode(`serial@${hex(VIRT_MEMORY_MAP.uart0)}`);
    fdt.prop('interrupts', UART0_IRQ);
    fdt.prop('interrupt-parent', plicPhandle);
    fdt.prop('clock-frequency', UART_CLOCK_FREQUENCY);
    fdt.prop('reg', [...cells64(VIRT_MEMORY_MAP.uart0), ...cells64(VIRT_MEMORY_MAP.uartSize)]);
    fdt.prop('compatible', 'ns16550a');
    fdt.endNode();
  }

  fdt.beginNode(`test@${hex(VIRT_MEMORY_MAP.test)}`);
  fdt.prop('phandle', testPhandle);
  fdt.prop('reg', [...cells64(VIRT_MEMORY_MAP.test), ...cells64(SYSCON_SIZE)]);
  fdt.prop('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);
  fdt.endNode();

  for (const n of slots) {
    const { base, irq } = virtioSlot(n);
    fdt.beginNode(`virtio_mmio@${hex(base)}`);
    fdt.prop('interrupts', irq);
    fdt.prop('interrupt-parent', plicPhandle);
    fdt.prop('reg', [...cells64(base), ...cells64(VIRTIO_MMIO_SIZE)]);
    fdt.prop('compatible', 'virtio,mmio');
    fdt.endNode();
  }

  fdt.beginNode(`plic@${hex(VIRT_MEMORY_MAP.plic)}`);
  fdt.prop('phandle', plicPhandle);
  fdt.prop('riscv,ndev', PLIC_NUM_SOURCES - 1);
  fdt.prop('reg', [...cells64(VIRT_MEMORY_MAP.plic), ...cells64(PLIC_SIZE)]);
  fdt.prop('interrupts-extended', [intcPhandle, IRQ_M_EXT, intcPhandle, IRQ_S_EXT]);
  fdt.prop('interrupt-controller', null);
  fdt.prop('compatible', ['sifive,plic-1.0.0', 'riscv,plic0']);
  fdt.prop('#address-cells', 0);
  fdt.prop('#interrupt-cells', 1);
  fdt.endNode();

  fdt.beginNode(`clint@${hex(VIRT_MEMORY_MAP.clint)}`);
  fdt.prop('interrupts-extended', [intcPhandle, IRQ_M_SOFT, intcPhandle, IRQ_M_TIMER]);
  fdt.prop('reg', [...cells64(VIRT_MEMORY_MAP.clint), ...cells64(VIRT_MEMORY_MAP.clintSize)]);
  fdt.prop('compatible', ['sifive,clint0', 'riscv,clint0']);
  fdt.endNode();

  fdt.endNode(); // soc
  fdt.endNode(); // root
  return fdt.finish();
}
