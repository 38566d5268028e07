// The engine factory: the one place that maps an engine kind to its implementation.
// Engines are imported on demand, so a page or CLI run pays only for the engine it uses.

import type { AssetLoader, BootConfig, Engine } from './engine.js';

/**
 * The configuration cannot run on the chosen engine (wrong file type, too little memory, missing
 * piece, engine not built). Its message is one line meant for the user; the CLI exits with 2.
 */
export class EngineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineConfigError';
  }
}

/** Creates (but does not start) an engine for `config.engine`. */
export async function createEngine(config: BootConfig, assets: AssetLoader): Promise<Engine> {
  switch (config.engine) {
    case 'v86': {
      const { V86Engine } = await import('./v86/engine.js');
      return new V86Engine(config, assets);
    }
    case 'rv64': {
      const { Rv64Engine } = await import('./rv64/engine.js');
      return new Rv64Engine(config, assets);
    }
    default:
      throw new EngineConfigError(`unknown engine '${String((config as { engine: unknown }).engine)}' (have: v86, rv64)`);
  }
}

/**
 * Imports a module that another part of the project may not have built yet: undefined when the
 * module itself is missing (a missing dependency inside it is still an error). The specifier is a
 * URL (resolve it against the caller's import.meta.url) so that type checking and bundling do not
 * require the file to exist.
 */
export async function importOptional(url: URL): Promise<Record<string, unknown> | undefined> {
  try {
    return (await import(/* @vite-ignore */ url.href)) as Record<string, unknown>;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: string }).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module|Failed to (fetch|load)|does not exist/i.test(message);
    const stem = url.pathname.replace(/\.js$/, '');
    if (missing && message.includes(stem)) return undefined;
    throw err;
  }
}
