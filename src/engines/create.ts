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

/**
 * A saved machine state that cannot be loaded: damaged, hostile, for another memory size, or one
 * this build cannot read. The engine that refused it is unchanged and can keep running. The
 * hypervisor maps it to `bad-snapshot`; its message (one line) starts with "bad snapshot: ".
 */
export class BadStateError extends EngineConfigError {
  constructor(message: string) {
    super(message.startsWith('bad snapshot: ') ? message : `bad snapshot: ${message}`);
    this.name = 'BadStateError';
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
