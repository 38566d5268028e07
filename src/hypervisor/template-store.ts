// Template snapshots: a VM image booted once to its ready marker and saved, so that labs start
// VMs by restoring instead of booting. Keyed by what determines the booted machine: the engine,
// the memory size, the command line and the sha256 of every file of the image.

import type { ImageEntry } from '../engines/engine.js';

export interface TemplateStore {
  /**
   * The snapshot file stored under `key`, if any: bytes of the caller's own (an import hands them
   * over to the VM's worker, which leaves the caller's buffer empty).
   */
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, snapshot: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

/** Templates for the life of the page or process. */
export class MemoryTemplateStore implements TemplateStore {
  private readonly entries = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key)?.slice();
  }

  async put(key: string, snapshot: Uint8Array): Promise<void> {
    this.entries.set(key, snapshot.slice());
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.entries.keys()];
  }
}

/**
 * `<image name>-<first 16 hex digits of a sha256>` over the engine, memory, command line, the
 * image's file hashes and the devices every VM gets: a rebuilt image or a different memory size
 * never reuses an old template. `disk`: the base image of the persistent disk the VM has (a
 * template for it is made with that disk; one without a disk has another key).
 */
export async function templateKey(image: ImageEntry, memoryMiB = image.memoryMiB, disk?: { sha256: string }): Promise<string> {
  const files = Object.keys(image.sha256 ?? {})
    .sort()
    .map((path) => [path, image.sha256[path]!.toLowerCase()]);
  // `devices`: what the hypervisor adds to every VM (its 9p exchange folder, guest-files.ts); a
  // template made without it would restore a machine without the device.
  // `acpi`: the machine's shape (v86), only when set, so other images keep their keys.
  const canonical = JSON.stringify({ engine: image.engine, memoryMiB, cmdline: image.cmdline, files, devices: ['exchange-9p'], ...(image.acpi ? { acpi: true } : {}), ...(disk ? { disk: disk.sha256.toLowerCase() } : {}) });
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${image.name}-${hex.slice(0, 16)}`;
}
