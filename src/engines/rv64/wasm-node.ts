// Node only: reads build/rv64.wasm (or the debug build) from the project tree and compiles it once.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const cache = new Map<string, Promise<WebAssembly.Module>>();

/** Project root, from src/engines/rv64 (tests via vitest) or dist/engines/rv64 (built). */
function projectRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export function rv64WasmPath(debug = false): string {
  return join(projectRoot(), 'build', debug ? 'rv64.debug.wasm' : 'rv64.wasm');
}

export function loadRv64Module(debug = false): Promise<WebAssembly.Module> {
  const path = rv64WasmPath(debug);
  let p = cache.get(path);
  if (!p) {
    p = readFile(path).then(
      (bytes) => WebAssembly.compile(bytes),
      (e: NodeJS.ErrnoException) => {
        cache.delete(path);
        throw new Error(`rv64 core: cannot read ${path} (${e.code ?? e.message}); run npm run build:core`);
      },
    );
    cache.set(path, p);
  }
  return p;
}
