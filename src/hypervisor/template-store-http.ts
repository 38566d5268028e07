// Template snapshots served as static files next to the app (`npm run build` makes them, see
// scripts/build-templates.mjs), so even a first visit restores a lab instead of booting it; and
// a store that layers a local cache (OPFS) over them.

import type { TemplateStore } from './template-store.js';

/**
 * Reads `<base><key>.tvsnap` over HTTP; read-only (put and delete do nothing). Two VMs of a lab
 * made from the same image ask for the same key at once: they share one download.
 */
export class HttpTemplateStore implements TemplateStore {
  private index: Promise<string[]> | undefined;
  private readonly downloads = new Map<string, Promise<Uint8Array | undefined>>();

  constructor(
    private readonly base: string,
    private readonly fetchFn: typeof fetch = (...args) => globalThis.fetch(...args),
  ) {
    if (!base.endsWith('/')) this.base = `${base}/`;
  }

  /** Starts fetching the index now (the page does this first thing, so it is there when a lab asks). */
  prefetch(): this {
    void this.keys();
    return this;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!/^[A-Za-z0-9._-]+$/.test(key)) return undefined;
    let download = this.downloads.get(key);
    if (!download) {
      download = this.download(key);
      this.downloads.set(key, download);
      // Kept only while it runs: a finished template is the caller's (the page keeps it locally).
      void download.finally(() => this.downloads.delete(key));
    }
    // Every caller gets its own copy: the hypervisor hands the bytes on (and may transfer them).
    const bytes = await download;
    return bytes && bytes.slice();
  }

  private async download(key: string): Promise<Uint8Array | undefined> {
    // Only listed keys are fetched: a key the build has no template for is not a failed request.
    if (!(await this.keys()).includes(key)) return undefined;
    try {
      const response = await this.fetchFn(`${this.base}${key}.tvsnap`);
      if (!response.ok) return undefined;
      return new Uint8Array(await response.arrayBuffer());
    } catch {
      return undefined; // offline or blocked: the lab boots instead
    }
  }

  async put(): Promise<void> {}

  async delete(): Promise<void> {}

  /** The keys listed in `<base>index.json` (written by the build), fetched once. */
  keys(): Promise<string[]> {
    this.index ??= (async () => {
      try {
        const response = await this.fetchFn(`${this.base}index.json`);
        if (!response.ok) return [];
        const json = (await response.json()) as { templates?: unknown };
        return Array.isArray(json.templates) ? json.templates.filter((k): k is string => typeof k === 'string') : [];
      } catch {
        return [];
      }
    })();
    return this.index;
  }
}

/**
 * A local store (OPFS in the page) in front of a read-only one (the static files): reads try the
 * local one first and keep what the other gave, so the next visit reads locally (and offline);
 * writes and deletes go to the local one only.
 */
export class LayeredTemplateStore implements TemplateStore {
  private readonly writes = new Map<string, Promise<unknown>>();

  constructor(private readonly local: TemplateStore, private readonly remote: TemplateStore) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const mine = await this.local.get(key).catch(() => undefined); // an unreadable cache is a miss
    if (mine) return mine;
    const theirs = await this.remote.get(key);
    if (theirs && !this.writes.has(key)) {
      // Kept for the next visit in the background (once per key): the VM need not wait for the
      // write. A full quota only costs the cache.
      const write = this.local.put(key, theirs.slice()).catch(() => undefined);
      this.writes.set(key, write);
      void write.finally(() => this.writes.delete(key));
    }
    return theirs;
  }

  /** Resolves when the copies started by get() are written (tests; a page need not wait). */
  async settled(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes.values()]);
  }

  put(key: string, snapshot: Uint8Array): Promise<void> {
    return this.local.put(key, snapshot);
  }

  delete(key: string): Promise<void> {
    return this.local.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...new Set([...(await this.local.keys()), ...(await this.remote.keys())])];
  }
}
