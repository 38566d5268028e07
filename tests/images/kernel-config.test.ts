// images/<name>/kernel.config is the exact configuration each committed kernel was built from:
// it must have what the guests' features rely on (docs/IMAGES.md, "What is in the kernels").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const common = ['CONFIG_NET_9P=y', 'CONFIG_NET_9P_VIRTIO=y', 'CONFIG_9P_FS=y', 'CONFIG_VIRTIO_BALLOON=y',
  'CONFIG_PAGE_REPORTING=y', 'CONFIG_VIRTIO_NET=y', 'CONFIG_VIRTIO_CONSOLE=y', 'CONFIG_INET=y', 'CONFIG_PACKET=y',
  'CONFIG_EXT4_FS=y'];
const wanted: Record<string, string[]> = {
  'riscv64-busybox': [...common, 'CONFIG_VIRTIO_MMIO=y', 'CONFIG_VIRTIO_BLK=y', 'CONFIG_NO_HZ_IDLE=y', 'CONFIG_HZ=100'],
  'x86-busybox': [...common, 'CONFIG_EXT4_USE_FOR_EXT2=y', 'CONFIG_NO_HZ_IDLE=y', 'CONFIG_VIRTIO_PCI=y', 'CONFIG_HIGHMEM4G=y', 'CONFIG_COMPAT_32BIT_TIME=y',
    'CONFIG_ATA_PIIX=y', 'CONFIG_BLK_DEV_SD=y', 'CONFIG_NE2K_PCI=y', 'CONFIG_CMDLINE="tsc=reliable"'],
};

describe('kernel configurations of the committed kernels', () => {
  for (const [name, options] of Object.entries(wanted)) {
    it(`${name} has the options its features need`, () => {
      const lines = new Set(readFileSync(join(root, 'images', name, 'kernel.config'), 'utf8').split('\n'));
      expect(options.filter((o) => !lines.has(o))).toEqual([]);
    });
  }
});
