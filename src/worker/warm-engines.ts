// A new VM-host worker gets its engines ready before any VM arrives: while the page is still
// fetching and decoding template snapshots, the worker loads the engine code and compiles its
// wasm, so a restore does not wait for them. Failures are ignored here: the VM that needs the
// engine meets the same error again, with its name on it.
import type { AssetLoader } from '../engines/engine.js';
import { compileWasm } from '../engines/wasm-cache.js';

export function warmEngines(assets: AssetLoader): void {
  const quiet = (work: Promise<unknown>): void => void work.catch(() => undefined);
  quiet(import('../engines/rv64/engine.js').then((m) => compileWasm(assets, m.RV64_WASM_PATH)));
  quiet(import('../engines/v86/engine.js').then((m) => Promise.all([import('v86'), compileWasm(assets, m.V86_WASM_PATH)])));
}
