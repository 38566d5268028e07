// The page's (and its workers') AssetLoader: repo-relative paths such as
// "images/x86-busybox/bzImage" or "node_modules/v86/build/v86.wasm" become URLs under the
// app's base URL, where the dev server and the built app (vite.config.ts) serve them.
import type { StreamingAssetLoader } from './wasm-cache.js';

export class FetchAssetLoader implements StreamingAssetLoader {
  private readonly base: URL;

  /** `baseUrl` is the app's root, e.g. "http://localhost:8080/"; a trailing slash is added if missing. */
  constructor(baseUrl: string | URL) {
    const href = typeof baseUrl === 'string' ? baseUrl : baseUrl.href;
    this.base = new URL(href.endsWith('/') ? href : `${href}/`);
  }

  resolve(path: string): string {
    if (path.startsWith('/') || path.includes('..')) {
      // Repo-relative paths only: an absolute or escaping path is a caller's bug, not a URL to guess.
      throw new Error(`asset path must be relative to the project root: ${path}`);
    }
    return new URL(path, this.base).href;
  }

  async load(path: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.response(path)).arrayBuffer());
  }

  /** The successful response for `path` (compileStreaming takes it as it arrives). */
  async response(path: string): Promise<Response> {
    const url = this.resolve(path);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new Error(`could not fetch ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!response.ok) {
      throw new Error(`could not fetch ${path}: HTTP ${response.status} ${response.statusText}`.trim());
    }
    return response;
  }
}
