// Entry point of the VM-host worker in Node (node:worker_threads): the same VmHost as in the
// page, exposed through comlink's Node adapter. Start it with startNodeVmHost() (node-client.ts).
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { AssetLoader } from '../engines/engine.js';
import { createEngine } from '../engines/create.js';
import { VmHost } from './vm-host.js';

/** What the parent passes as workerData. */
export interface NodeVmHostData {
  /** Directory that repo-relative asset paths are resolved against; the repo root by default. */
  root?: string;
}

/** Reads repo-relative asset paths from the file system. */
class FileAssetLoader implements AssetLoader {
  constructor(private readonly root: string) {}

  resolve(path: string): string {
    return isAbsolute(path) ? path : join(this.root, path);
  }

  async load(path: string): Promise<Uint8Array> {
    const file = this.resolve(path);
    try {
      const bytes = await readFile(file);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      throw new Error(`could not read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
}

if (!parentPort) throw new Error('node-entry.js runs as a worker_threads worker; use startNodeVmHost()');
const data = (workerData ?? {}) as NodeVmHostData;
// dist/worker/node-entry.js -> the repo root is two levels up.
const root = data.root ?? fileURLToPath(new URL('../../', import.meta.url));
expose(new VmHost({ assets: new FileAssetLoader(root), createEngine }), nodeEndpoint(parentPort));
