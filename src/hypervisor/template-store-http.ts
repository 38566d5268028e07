// Template snapshots served as static files next to the app (`npm run build` makes them, see
// scripts/build-templates.mjs), so even a first visit restores a lab instead of booting it; and
// a store that layers a local cache (OPFS) over them.

import type { TemplateStore } from './template-store.js';

/** Reads `<base><key>.tvsnap` over HTTP; read-only (put and delete do nothing). */
export class HttpTemplateStore implements TemplateStore {
  private index: Promise<string[]> | undefined;

  constructor(
    private readonly base: string,
    private readonly fetchFn: typeof fetch = (...args) => globalThis.fetch(...args),
  ) {
    if (!base.endsWith('/')) this.base = `${base}/`;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!/^[A-Za-z0-9._-]+$/.test(key)) return undefined;
    const keys = await this.keys();
    if (!keys.includes(key)) return undefined;
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
 * local one first and keep what the other gave, so the next visit reads locally; writes and
 * deletes go to the local one only.
 */
export class LayeredTemplateStore implements TemplateStore {
  constructor(private readonly local: TemplateStore, private readonly remote: TemplateStore) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const mine = await this.local.get(key);
    if (mine) return mine;
    const theirs = await this.remote.get(key);
    if (theirs) await this.local.put(key, theirs).catch(() => undefined); // a full quota only costs the cache
    return theirs;
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
