// What the disk-overlay CLI tests share: the ext4 base, the guests that mount it (and as which
// device), and the disk an overlay describes written out whole for the host's e2fsck.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { OverlayDisk } from '../../src/devices/backends/overlay-disk.js';
import { NodeOverlayStore, openBaseFile } from '../../src/devices/backends/overlay-node-store.js';
import { coreBuilt, findRv64Image } from '../rv64/helpers.js';

export const BASE = join(PROJECT_ROOT, 'images', 'disk-base', 'home.ext4');

export const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

export const overlayGuests = [
  { name: 'rv64', image: 'riscv64-busybox', device: '/dev/vda', run: coreBuilt() && !!findRv64Image() },
  { name: 'x86', image: 'x86-busybox', device: '/dev/sda', run: true },
] as const;

/** The whole disk as the guest would see it (base + overlay), written to a file for e2fsck. */
export function materialize(overlay: string, out: string): void {
  const base = openBaseFile(BASE);
  const disk = new OverlayDisk(NodeOverlayStore.open(overlay), base, { readOnly: true });
  writeFileSync(out, disk.read(0, disk.byteLength));
  base.close();
}
