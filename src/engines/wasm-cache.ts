// One compiled module per wasm location, shared by every engine in this process or worker (a
// worker that hosts three VMs compiles each engine once). In a browser the module is compiled
// while it downloads (compileStreaming), which also lets the browser keep the compiled code for
// the next visit; a server that does not say application/wasm gets the plain compile.
import type { AssetLoader } from './engine.js';

/** An AssetLoader that can also hand out the HTTP response itself (FetchAssetLoader). */
export interface StreamingAssetLoader extends AssetLoader {
  response(path: string): Promise<Response>;
}

const compiledWasm = new Map<string, Promise<WebAssembly.Module>>();

export function compileWasm(assets: AssetLoader, path: string): Promise<WebAssembly.Module> {
  const where = assets.resolve(path);
  let compiled = compiledWasm.get(where);
  if (!compiled) {
    compiled = compile(assets, path);
    compiledWasm.set(where, compiled);
    compiled.catch(() => compiledWasm.delete(where));
  }
  return compiled;
}

async function compile(assets: AssetLoader, path: string): Promise<WebAssembly.Module> {
  const streaming = (assets as Partial<StreamingAssetLoader>).response;
  if (typeof streaming === 'function' && typeof WebAssembly.compileStreaming === 'function') {
    try {
      return await WebAssembly.compileStreaming(streaming.call(assets, path));
    } catch (error) {
      // A wrong Content-Type is a TypeError; a bad module or a failed fetch fails the same below.
      if (!(error instanceof TypeError)) throw error;
    }
  }
  return WebAssembly.compile((await assets.load(path)) as Uint8Array<ArrayBuffer>);
}
