// Runs a bare-metal ELF on our RV64 core through runBareProgram (src/engines/rv64/bare.ts,
// compiled to dist/engines/rv64/bare.js). The core is built by `npm run build:core` and
// `npm run build:ts`; until then `coreAvailability()` says why it cannot run.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './toolchain.mjs';

export const BARE_JS = join(ROOT, 'dist', 'engines', 'rv64', 'bare.js');
export const CORE_WASM = join(ROOT, 'build', 'rv64.wasm');

/** @returns {{ ok: true } | { ok: false, reason: string }} */
export function coreAvailability() {
  if (!existsSync(BARE_JS)) return { ok: false, reason: `core not built: ${BARE_JS} missing (npm run build:ts)` };
  if (!existsSync(CORE_WASM)) return { ok: false, reason: `core not built: ${CORE_WASM} missing (npm run build:core)` };
  return { ok: true };
}

/** @type {Promise<any> | undefined} */
let modulePromise;

/**
 * @typedef {{ exitCode: number, stdout: string, instructions: number, wallMs: number,
 *   reason: string, failCase?: number, message?: string }} CoreResult
 */

/**
 * @param {string} elf path of the ELF
 * @param {{ memoryMiB?: number, maxInstructions?: number, timeoutMs?: number }} [opts]
 * @returns {Promise<CoreResult>}
 */
export async function runCore(elf, opts = {}) {
  const avail = coreAvailability();
  if (!avail.ok) throw new Error(avail.reason);
  modulePromise ??= import(BARE_JS);
  const mod = await modulePromise;
  /** @type {Buffer[]} */
  const chunks = [];
  const r = await mod.runBareProgram({
    elf: new Uint8Array(readFileSync(elf)),
    memoryMiB: opts.memoryMiB ?? 128,
    maxInstructions: opts.maxInstructions ?? 200_000_000,
    timeoutMs: opts.timeoutMs ?? 30_000,
    stdout: (/** @type {Uint8Array} */ b) => chunks.push(Buffer.from(b)),
  });
  return { ...r, stdout: Buffer.concat(chunks).toString('latin1') };
}
