// Template snapshots: a VM image booted once to its ready marker and saved, so that labs start
// VMs by restoring instead of booting. Keyed by what determines the booted machine: the engine,
// the memory size, the command line and the sha256 of every file of the image.

import type { ImageEntry } from '../engines/engine.js';

export interface TemplateStore {
  /** The snapshot file stored under `key`, if any. */
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, snapshot: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

/** Templates for the life of the page or process. */
export class MemoryTemplateStore implements TemplateStore {
  private readonly entries = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key);
  }

  async put(key: string, snapshot: Uint8Array): Promise<void> {
    this.entries.set(key, snapshot);
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.entries.keys()];
  }
}

/**
 * `<image name>-<first 16 hex digits of a sha256>` over the engine, memory, command line and the
 * image's file hashes: a rebuilt image or a different memory size never reuses an old template.
 */
export async function templateKey(image: ImageEntry, memoryMiB = image.memoryMiB): Promise<string> {
  const files = Object.keys(image.sha256 ?? {})
    .sort()
    .map((path) => [path, image.sha256[path]!.toLowerCase()]);
  const canonical = JSON.stringify({ engine: image.engine, memoryMiB, cmdline: image.cmdline, files });
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${image.name}-${hex.slice(0, 16)}`;
}
