// The page worker's persistent disks (VmHostOptions.openDisk): the base image is loaded through
// the app's assets and checked against its sha256, the overlay is an OPFS file per lab VM.
import type { AssetLoader } from '../engines/engine.js';
import { openOpfsOverlayDisk } from '../devices/backends/overlay-opfs-store.js';
import { OverlayFormatError } from '../devices/backends/overlay-format.js';
import { sha256Hex } from './image-files.js';
import type { DiskRequest } from './protocol.js';
import type { OpenedDisk } from './vm-host.js';

/** Overlay file names: the key as given, so a key is restricted to safe characters. */
const KEY = /^[A-Za-z0-9._-]{1,120}$/;

export function opfsDiskOpener(assets: AssetLoader): (request: DiskRequest) => Promise<OpenedDisk> {
  // One copy of each base image per worker, shared by its VMs (it is never written).
  const bases = new Map<string, Promise<Uint8Array>>();
  const loadBase = (file: string, sha256: string): Promise<Uint8Array> => {
    let loaded = bases.get(file);
    if (!loaded) {
      loaded = (async () => {
        const bytes = await assets.load(file);
        const actual = await sha256Hex(bytes);
        if (actual !== sha256.toLowerCase()) throw new Error(`${file} does not match images/manifest.json (sha256 ${actual.slice(0, 12)}…)`);
        return bytes;
      })();
      loaded.catch(() => bases.delete(file));
      bases.set(file, loaded);
    }
    return loaded;
  };
  return async (request) => {
    if (!KEY.test(request.key)) throw new Error(`bad disk name '${request.key}'`);
    const base = await loadBase(request.base.file, request.base.sha256);
    if (base.length !== request.base.bytes) throw new Error(`${request.base.file} is ${base.length} bytes, the manifest says ${request.base.bytes}`);
    try {
      return await openOpfsOverlayDisk(`${request.key}.tvoverlay`, base, request.base.sha256, {
        ...(request.reset ? { reset: true } : {}),
        serial: 'tabvisor-home',
      });
    } catch (err) {
      if (err instanceof OverlayFormatError) throw new Error(`the saved disk ${request.key} cannot be used: ${err.message}; resetting the lab starts it over, empty`);
      throw err;
    }
  };
}
