// Template (and saved-work) snapshots in the page's origin private file system: they survive
// reloads without asking the user for anything. Writes go through createWritable(), which
// writes a swap file and replaces the entry on close(), so a tab closed mid-write leaves the
// previous snapshot intact.

import type { TemplateStore } from './template-store.js';

const SUFFIX = '.tvsnap';

export class OpfsTemplateStore implements TemplateStore {
  private dir: Promise<FileSystemDirectoryHandle> | undefined;

  /** `folder` is a directory at the root of the origin's private file system. */
  constructor(readonly folder = 'tabvisor-templates') {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const dir = await this.directory();
    try {
      const file = await (await dir.getFileHandle(fileName(key))).getFile();
      return new Uint8Array(await file.arrayBuffer());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, snapshot: Uint8Array): Promise<void> {
    const handle = await (await this.directory()).getFileHandle(fileName(key), { create: true });
    const writable = await handle.createWritable();
    try {
      await writable.write(snapshot as Uint8Array<ArrayBuffer>);
      await writable.close();
    } catch (error) {
      await writable.abort().catch(() => undefined);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await (await this.directory()).removeEntry(fileName(key));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async keys(): Promise<string[]> {
    const dir = (await this.directory()) as unknown as { keys(): AsyncIterable<string> };
    const keys: string[] = [];
    for await (const name of dir.keys()) if (name.endsWith(SUFFIX)) keys.push(name.slice(0, -SUFFIX.length));
    return keys.sort();
  }

  private directory(): Promise<FileSystemDirectoryHandle> {
    this.dir ??= navigator.storage.getDirectory().then((root) => root.getDirectoryHandle(this.folder, { create: true }));
    return this.dir;
  }
}

function fileName(key: string): string {
  // Keys come from templateKey() and workKey(); refuse anything else.
  if (!/^[A-Za-z0-9._-]+$/.test(key) || key.startsWith('.')) throw new Error(`bad template key '${key}'`);
  return key + SUFFIX;
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: string }).name === 'NotFoundError';
}
