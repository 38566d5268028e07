// AssetLoader for Node: files under the project root, found from this module's own location
// (src/engines/ when run from source, dist/engines/ when built; both are two levels down).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import type { AssetLoader } from './engine.js';

/** The project root (the folder holding package.json, images/ and node_modules/). */
export const PROJECT_ROOT = resolvePath(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A file named by the manifest or an engine is missing or unreadable. */
export class AssetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssetError';
  }
}

export class NodeAssetLoader implements AssetLoader {
  constructor(readonly root: string = PROJECT_ROOT) {}

  resolve(path: string): string {
    return isAbsolute(path) ? path : join(this.root, path);
  }

  async load(path: string): Promise<Uint8Array> {
    const full = this.resolve(path);
    try {
      const buf = await readFile(full);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (code ?? String(err));
      throw new AssetError(`cannot read ${path}: ${why}`);
    }
  }
}
