// Saving and moving a machine while its guest runs, inside the VM's own worker: live snapshots
// (pre-copy into a shadow copy, a short pause, encoding after the guest runs again), restores
// prepared before the pause, and both ends of a pre-copy migration. Engines without dirty-page
// tracking (v86) fall back to a pause around saveState().

import type { Engine } from '../engines/engine.js';
import { EMPTY_PAGES, isLiveCapable, type LiveCapable } from '../engines/live-state.js';
import { precopy, ShadowRam, type PrecopyOptions, type PrecopyRound, type PrecopyThrottle } from '../snapshot/precopy.js';
import {
  ask, checkPageMessage, MIGRATION_FORMAT, MigrationRefused, type HandedOverDiskFiles, type MigrationChannel, type MigrationMessage, type MigrationReply,
} from '../snapshot/migration-stream.js';

/** A target that does not answer for this long (it died, the network broke) fails the migration. */
const ANSWER_TIMEOUT_MS = 60_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MigrationRefused(`the target did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Page batches a migration sends before it waits for the oldest answer. */
const PIPELINE_DEPTH = 4;

/** What the live operations need of a hosted VM: its engine, and the host's pause and resume. */
export interface LiveVm {
  engine: Engine;
  /** True when the guest runs now (the host's view). */
  running(): boolean;
  pause(): Promise<void>;
  resume(): Promise<void>;
  yieldNow(): Promise<void>;
  now(): number;
  /**
   * Gives the guest `percent` % of its normal share of time during pre-copy (100 = normal).
   * Without it a guest that writes too fast for pre-copy stops at the round limit.
   */
  throttle?(percent: number): void | Promise<void>;
}

export interface LiveSaveReport {
  /** The guest did not run for this long (the final pause; 0 for a VM that was paused already). */
  pauseMs: number;
  /** True when the RAM was copied while the guest ran (pre-copy); false: saved in one pause. */
  live: boolean;
  rounds: PrecopyRound[];
  finalPages: number;
  converged?: 'few-dirty-pages' | 'round-limit';
  /** Set when pre-copy throttled the guest (it wrote faster than the rounds shrink). */
  throttle?: PrecopyThrottle;
}

/**
 * The whole machine state, taken while the guest runs: its RAM is pre-copied into a shadow, the
 * guest is paused only for the last dirty pages and the device state, then it runs again while
 * the state is encoded. A paused VM is saved as it is.
 */
export async function saveLive(vm: LiveVm, options: PrecopyOptions = {}): Promise<{ state: Uint8Array; report: LiveSaveReport }> {
  const engine = vm.engine;
  const live = isLiveCapable(engine) ? engine.liveState() : undefined;
  if (!vm.running() || !live || !isLiveCapable(engine)) {
    const wasRunning = vm.running();
    const t0 = vm.now();
    if (wasRunning) await vm.pause();
    try {
      const state = await engine.saveState();
      return { state, report: { pauseMs: wasRunning ? vm.now() - t0 : 0, live: false, rounds: [], finalPages: 0 } };
    } finally {
      if (wasRunning) await vm.resume();
    }
  }
  const shadow = new ShadowRam(live.ramBytes);
  let pausedAt = 0;
  const source = (): NonNullable<ReturnType<LiveCapable['liveState']>> => {
    const s = engine.liveState();
    if (!s) throw new Error('the machine went away during a live save');
    return s;
  };
  let paused = false;
  let frozen: Uint8Array;
  let report;
  try {
    report = await precopy(source, shadow.sink, {
      pause: async () => {
        await vm.pause();
        paused = true;
        pausedAt = vm.now();
      },
      yieldNow: () => vm.yieldNow(),
      ...(vm.throttle ? { throttle: (percent: number) => vm.throttle!(percent) } : {}),
    }, options, vm.now);
    // Everything but RAM, while paused; RAM comes from the shadow, encoded after the resume.
    frozen = source().stateWithPages(EMPTY_PAGES, true);
  } finally {
    if (paused) await vm.resume();
  }
  const pauseMs = vm.now() - pausedAt;
  const state = withRam(engine as Engine & LiveCapable, frozen, shadow);
  return {
    state,
    report: {
      pauseMs, live: true, rounds: report.rounds, finalPages: report.finalPages, converged: report.converged,
      ...(report.throttle ? { throttle: report.throttle } : {}),
    },
  };
}

/** The frozen (RAM-less) state with the shadow's pages as its RAM: a complete state again. */
function withRam(engine: Engine & LiveCapable, frozen: Uint8Array, shadow: ShadowRam): Uint8Array {
  return engine.replaceRam(frozen, shadow.pages());
}

/** Sends a running (or paused) VM over `channel`; on any failure the VM keeps running here. */
export async function migrateOut(
  vm: LiveVm,
  channel: MigrationChannel<MigrationMessage, MigrationReply>,
  hello: { memoryMiB: number; name?: string; disk?: HandedOverDiskFiles },
  options: PrecopyOptions = {},
): Promise<LiveSaveReport & { sentBytes: number; totalMs: number }> {
  const engine = vm.engine;
  if (!isLiveCapable(engine) || !engine.liveState()) throw new MigrationRefused(`the ${engine.kind} engine cannot migrate live (no dirty-page tracking)`);
  const source = (): NonNullable<ReturnType<LiveCapable['liveState']>> => {
    const s = engine.liveState();
    if (!s) throw new Error('the machine went away during the migration');
    return s;
  };
  const start = vm.now();
  const wasRunning = vm.running();
  let paused = !wasRunning;
  let pausedAt = start;
  let sentBytes = 0;
  try {
    // The board and devices first (a short pause), so the target can build the machine.
    if (wasRunning) await vm.pause();
    const first = source().stateWithPages(EMPTY_PAGES, true);
    if (wasRunning) await vm.resume();
    await withTimeout(ask(channel, { t: 'hello', engine: engine.kind, format: MIGRATION_FORMAT, memoryMiB: hello.memoryMiB, ...(hello.name ? { name: hello.name } : {}), ...(hello.disk ? { disk: hello.disk } : {}), state: first }), ANSWER_TIMEOUT_MS);
    // Pages are pipelined: up to PIPELINE_DEPTH batches in flight, answers checked in order.
    const inFlight: Array<Promise<void>> = [];
    const post = (message: MigrationMessage): void => {
      channel.send(message);
      const answered = withTimeout(channel.next(), ANSWER_TIMEOUT_MS).then((reply) => {
        if (reply.t === 'refused') throw new MigrationRefused(reply.message);
      });
      answered.catch(() => undefined); // awaited below, in order
      inFlight.push(answered);
    };
    const drain = async (keep: number): Promise<void> => {
      while (inFlight.length > keep) await inFlight.shift();
    };
    const report = await precopy(source, async (pages) => {
      sentBytes += pages.data.length;
      post({ t: 'pages', indices: pages.indices, data: pages.data });
      await drain(paused ? Infinity : PIPELINE_DEPTH);
    }, {
      pause: async () => {
        if (!paused) await vm.pause();
        paused = true;
        pausedAt = vm.now();
      },
      yieldNow: () => vm.yieldNow(),
      ...(vm.throttle ? { throttle: (percent: number) => vm.throttle!(percent) } : {}),
    }, options, vm.now);
    const final = source().stateWithPages(EMPTY_PAGES, true);
    sentBytes += final.length;
    // The last pages, the final state and the commit go out back to back: one wait, not three.
    post({ t: 'final', state: final });
    post({ t: 'commit' });
    await drain(0);
    const now = vm.now();
    return {
      pauseMs: now - pausedAt, live: true, rounds: report.rounds, finalPages: report.finalPages, converged: report.converged,
      ...(report.throttle ? { throttle: report.throttle } : {}),
      sentBytes, totalMs: now - start,
    };
  } catch (error) {
    try {
      channel.send({ t: 'abort', message: error instanceof Error ? error.message : String(error) });
    } catch {
      // the channel is gone; the target drops its half on its own
    }
    if (wasRunning && paused) await vm.resume();
    throw error;
  } finally {
    channel.close();
  }
}

/** What the receiving host does with a conversation: make the engine, and start it at commit. */
export interface IncomingHost {
  /** Checks the hello (engine, memory budget) and makes a created VM for it; throws to refuse. */
  accept(hello: Extract<MigrationMessage, { t: 'hello' }>): Promise<Engine>;
  /** Told the final state before the engine loads it (a host that checks what it carries). */
  finalState?(state: Uint8Array): void;
  /** Starts the received machine (commit). */
  start(): Promise<void>;
  /** Forgets the half-received machine (abort, a broken channel, a refusal after hello). */
  discard(): Promise<void>;
}

/** Receives one migration; resolves when it is committed, rejects (after discarding) otherwise. */
export async function migrateIn(channel: MigrationChannel<MigrationReply, MigrationMessage>, host: IncomingHost): Promise<void> {
  let engine: (Engine & LiveCapable) | undefined;
  let ramBytes = 0;
  try {
    for (;;) {
      const m = await channel.next();
      try {
        if (m.t === 'abort') throw new MigrationRefused(`the sender gave up: ${m.message}`);
        if (m.t === 'hello') {
          if (engine) throw new MigrationRefused('a second hello');
          if (m.format !== MIGRATION_FORMAT) throw new MigrationRefused(`migration format ${String(m.format)} is not this build's (${MIGRATION_FORMAT})`);
          const made = await host.accept(m);
          if (!isLiveCapable(made)) throw new MigrationRefused(`the ${made.kind} engine cannot receive a live migration`);
          engine = made;
          ramBytes = m.memoryMiB * 1024 * 1024;
          await engine.incoming.beginIncoming(m.state);
        } else if (!engine) {
          throw new MigrationRefused('the conversation did not start with hello');
        } else if (m.t === 'pages') {
          engine.incoming.writePages(checkPageMessage(m, ramBytes));
        } else if (m.t === 'final') {
          host.finalState?.(m.state);
          await engine.incoming.finishIncoming(m.state);
        } else if (m.t === 'commit') {
          await host.start();
          channel.send({ t: 'ok' });
          return;
        } else {
          throw new MigrationRefused('an unknown message');
        }
        channel.send({ t: 'ok' });
      } catch (error) {
        if (m.t !== 'abort') channel.send({ t: 'refused', message: error instanceof Error ? error.message : String(error) });
        throw error;
      }
    }
  } catch (error) {
    await host.discard().catch(() => undefined);
    throw error;
  } finally {
    channel.close();
  }
}
