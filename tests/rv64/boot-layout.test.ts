// Where the loaders put firmware, kernel, initrd and device tree (QEMU virt's rules), and the
// configurations that cannot boot, refused with a message that names the fix.

import { describe, expect, it } from 'vitest';
import { FW_JUMP_FDT_ADDR, KERNEL_BASE, planBootLayout } from '../../src/engines/rv64/boot-layout.js';

const MiB = 1 << 20;
const base = { firmwareBytes: 115_328, kernelStart: KERNEL_BASE, kernelBytes: 4 * MiB, dtbBytes: 8192, fwJumpFdtCopy: true };

describe('rv64 boot layout', () => {
  it('puts the initrd halfway into RAM above the kernel and the tree at the end, as QEMU does (128 MiB)', () => {
    const l = planBootLayout({ ...base, memoryBytes: 128 * MiB, initrdBytes: 2 * MiB });
    expect(l.initrd).toEqual({ start: 0x8420_0000, end: 0x8420_0000 + 2 * MiB });
    expect(l.dtb).toBe(0x8700_0000);
  });

  it('keeps the initrd at most 128 MiB above the kernel in a large machine', () => {
    const l = planBootLayout({ ...base, memoryBytes: 1024 * MiB, initrdBytes: 2 * MiB });
    expect(l.initrd!.start).toBe(KERNEL_BASE + 128 * MiB);
    expect(l.dtb).toBe(0x8000_0000 + 1024 * MiB - 16 * MiB);
  });

  it('finds another place when the preferred one collides with the tree or fw_jump\'s copy of it (48 MiB)', () => {
    const l = planBootLayout({ ...base, memoryBytes: 48 * MiB, initrdBytes: Math.floor(1.7 * MiB) });
    const { start, end } = l.initrd!;
    expect(start).toBeGreaterThanOrEqual(KERNEL_BASE + 4 * MiB);
    expect(end).toBeLessThanOrEqual(0x8000_0000 + 48 * MiB);
    for (const r of l.ranges.filter((x) => x.name !== 'initrd')) expect(start < r.end && r.start < end).toBe(false);
  });

  it('refuses RAM too small for fw_jump\'s copy of the tree at 0x8220_0000', () => {
    expect(() => planBootLayout({ ...base, memoryBytes: 32 * MiB })).toThrow(
      `the fw_jump's copy of the device tree (0x${FW_JUMP_FDT_ADDR.toString(16)}..0x82202000) does not fit in 32.0 MiB of RAM; give more memory`);
  });

  it('refuses an initrd that fits nowhere, and a kernel that runs into fw_jump\'s copy of the tree', () => {
    expect(() => planBootLayout({ ...base, memoryBytes: 64 * MiB, initrdBytes: 60 * MiB })).toThrow(/60.0 MiB initrd does not fit in 64.0 MiB/);
    expect(() => planBootLayout({ ...base, memoryBytes: 64 * MiB, kernelBytes: 40 * MiB })).toThrow(/kernel and the fw_jump's copy of the device tree overlap/);
  });
});
