// Persistent disks for Node VM hosts (VmHostOptions.openDisk): overlay files in a folder, over
// base images read from the project (the hypervisor's Node tests, a page-like host headless).
import { join } from 'node:path';
import { DiskFileError } from '../devices/backends/file-disk.js';
import { OverlayDisk, openOverlayDisk } from '../devices/backends/overlay-disk.js';
import { NodeOverlayStore, openBaseFile } from '../devices/backends/overlay-node-store.js';
import { hex, OverlayFormatError } from '../devices/backends/overlay-format.js';
import type { DiskRequest } from './protocol.js';
import type { OpenedDisk } from './vm-host.js';

const KEY = /^[A-Za-z0-9._-]{1,120}$/;

export function nodeDiskOpener(root: string, folder: string): (request: DiskRequest) => Promise<OpenedDisk> {
  return async (request) => {
    if (!KEY.test(request.key)) throw new Error(`bad disk name '${request.key}'`);
    const base = openBaseFile(join(root, request.base.file));
    if (hex(base.sha256) !== request.base.sha256.toLowerCase()) {
      base.close();
      throw new Error(`${request.base.file} does not match images/manifest.json`);
    }
    try {
      const store = NodeOverlayStore.open(join(folder, `${request.key}.tvoverlay`));
      const disk = openOverlayDisk(store, base, { serial: 'tabvisor-home', ...(request.reset ? { reset: true } : {}) });
      return Object.assign(disk, {
        close(): void {
          try {
            OverlayDisk.prototype.close.call(disk);
          } finally {
            base.close();
          }
        },
      });
    } catch (err) {
      base.close();
      if (err instanceof OverlayFormatError || err instanceof DiskFileError) throw new Error(`the saved disk ${request.key} cannot be used: ${err.message}`);
      throw err;
    }
  };
}
