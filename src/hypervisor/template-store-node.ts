// Template snapshots as files in a folder (Node: the CLI, tests, headless labs).

import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../snapshot/node-file.js';
import type { TemplateStore } from './template-store.js';

const SUFFIX = '.tvsnap';

export class FileTemplateStore implements TemplateStore {
  constructor(readonly dir: string) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const bytes = await readFile(this.path(key));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async put(key: string, snapshot: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.path(key), snapshot);
  }

  async delete(key: string): Promise<void> {
    await unlink(this.path(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async keys(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => f.endsWith(SUFFIX)).map((f) => f.slice(0, -SUFFIX.length));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  private path(key: string): string {
    // Keys come from templateKey(); refuse anything that could leave the folder.
    if (!/^[A-Za-z0-9._-]+$/.test(key) || key.startsWith('.')) throw new Error(`bad template key '${key}'`);
    return join(this.dir, key + SUFFIX);
  }
}
