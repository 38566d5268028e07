// compileWasm: one compile per wasm location, streaming when the loader can hand out a response
// that says application/wasm, the plain compile when it does not (a static host with other types).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AssetLoader } from '../../src/engines/engine.js';
import { compileWasm, type StreamingAssetLoader } from '../../src/engines/wasm-cache.js';

const wasm = readFileSync(new URL('../../build/rv64.wasm', import.meta.url));

function loader(base: string, contentType: string): StreamingAssetLoader & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    resolve: (path) => `${base}${path}`,
    load: async (path) => {
      calls.push(`load ${path}`);
      return new Uint8Array(wasm);
    },
    response: async (path) => {
      calls.push(`response ${path}`);
      return new Response(new Uint8Array(wasm), { headers: { 'Content-Type': contentType } });
    },
  };
}

describe('compileWasm', () => {
  it('compiles from the response when it is application/wasm, once per location', async () => {
    const assets = loader('http://a.test/', 'application/wasm');
    const [one, two] = await Promise.all([compileWasm(assets, 'build/rv64.wasm'), compileWasm(assets, 'build/rv64.wasm')]);
    expect(one).toBeInstanceOf(WebAssembly.Module);
    expect(two).toBe(one);
    expect(assets.calls).toEqual(['response build/rv64.wasm']);
  });

  it('falls back to the bytes when the server says another type, and without a response method', async () => {
    const assets = loader('http://b.test/', 'application/octet-stream');
    expect(await compileWasm(assets, 'build/rv64.wasm')).toBeInstanceOf(WebAssembly.Module);
    expect(assets.calls).toEqual(['response build/rv64.wasm', 'load build/rv64.wasm']);
    const plain: AssetLoader = { resolve: (p) => `http://c.test/${p}`, load: async () => new Uint8Array(wasm) };
    expect(await compileWasm(plain, 'build/rv64.wasm')).toBeInstanceOf(WebAssembly.Module);
  });

  it('forgets a failed compile, so the next VM tries again', async () => {
    let broken = true;
    const assets: AssetLoader = {
      resolve: (p) => `http://d.test/${p}`,
      load: async () => (broken ? new Uint8Array([0, 1, 2, 3]) : new Uint8Array(wasm)),
    };
    await expect(compileWasm(assets, 'build/rv64.wasm')).rejects.toThrow();
    broken = false;
    expect(await compileWasm(assets, 'build/rv64.wasm')).toBeInstanceOf(WebAssembly.Module);
  });
});
