// Engines a VM host time-slices: the ones that can run a bounded slice of guest code on demand
// (the RV64 engine with drive 'external'). Several of them share the host's one thread through
// a SliceRunner (src/worker/slice-runner.ts); engines without slices (v86) keep their own loop.
import type { AssetLoader, BootConfig, Engine } from '../engines/engine.js';
import type { SliceOutcome, SliceTarget } from './slice-runner.js';

/** An engine driven from outside: runSlice() is the only way its guest code runs. */
export interface SliceableEngine extends Engine {
  /**
   * Runs at most `budget` guest instructions now. `idle` when the guest waits for an interrupt,
   * with the performance.now() time of its next timer (none: only an event wakes it).
   */
  runSlice(budget: number): { instructions: number; idle?: { wakeAt?: number } };
}

/** Makes an engine the host will slice, or undefined when this configuration has none (v86). */
export type SlicedEngineFactory = (config: BootConfig, assets: AssetLoader) => Promise<SliceableEngine | undefined>;

/** The RV64 engine, driven by the host's slice loop. */
export const createSlicedEngine: SlicedEngineFactory = async (config, assets) => {
  if (config.engine !== 'rv64') return undefined;
  const { Rv64Engine } = await import('../engines/rv64/engine.js');
  return new Rv64Engine(config, assets, { drive: 'external' });
};

/**
 * A guest that idles with no timer armed still gets looked at this often (as the engine's own
 * loop does), so a wake-up source the host does not know about cannot strand it.
 */
export const MAX_IDLE_MS = 1000;

/**
 * Adapts an engine's runSlice to the SliceRunner's SliceTarget. With `timerGridMs`, an idle
 * guest's timer deadline is rounded up to the next multiple of it (in host time), so the
 * deadlines of several VMs in the host fall together and one wake-up of the thread serves them
 * all; the guest sees its timer interrupt up to that much late.
 */
export function sliceTarget(engine: SliceableEngine, now: () => number, timerGridMs = 0): SliceTarget {
  return {
    runSlice(budget: number): SliceOutcome {
      const r = engine.runSlice(budget);
      // The engine stopped for good in this slice (power-off, reboot, crash): its exit listeners
      // report why; the runner only has to drop it.
      if (!engine.running && r.idle) return { instructions: r.instructions, exit: 'stopped' };
      if (!r.idle) return { instructions: r.instructions };
      const wakeAt = r.idle.wakeAt;
      const t = now();
      const due = wakeAt === undefined ? t + MAX_IDLE_MS : timerGridMs > 0 ? Math.ceil(wakeAt / timerGridMs) * timerGridMs : wakeAt;
      const ms = Math.min(MAX_IDLE_MS, Math.max(0, due - t));
      return { instructions: r.instructions, idle: { msUntilTimer: ms } };
    },
  };
}
