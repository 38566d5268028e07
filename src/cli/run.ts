// `tabvisor run`: plans the run (plan.ts), then runs the machine with its console on
// stdin/stdout, or a bare program (bare-run.ts), and returns the exit status (docs/CLI.md).

import type { Engine, ExitReason } from '../engines/engine.js';
import { NodeAssetLoader } from '../engines/assets-node.js';
import { createEngine, EngineConfigError } from '../engines/create.js';
import type { FileDisk } from '../devices/backends/file-disk.js';
import { ENGINE_STATE_SECTION, SnapshotWriter } from '../snapshot/format.js';
import { describeFsError, formatBytes, OutputFileError, writeFileAtomic } from '../snapshot/node-file.js';
import type { RunOptions } from './args.js';
import { runBare } from './bare-run.js';
import { ConsoleBridge } from './console.js';
import { Deadline } from './deadline.js';
import { EXIT_INTERNAL, EXIT_POWEROFF, EXIT_TIMEOUT, EXIT_USAGE } from './errors.js';
import { engineRefusal, prepare, type MachinePlan } from './plan.js';
import { onStopRequest } from './signals.js';
import { formatStats } from './stats.js';
import { receiveMigration, sendMigration } from './migrate.js';
import { UsageError } from './errors.js';
import { resolve } from 'node:path';

export { DEFAULT_READY_MARKER, kernelKind } from './plan.js';
export { formatStats, type RunStats } from './stats.js';

export interface Io {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export async function runCommand(o: RunOptions, io: Io): Promise<number> {
  // The --timeout clock runs from the start of the process, so it covers reading the input files.
  const deadline = new Deadline(o.timeoutSec);
  try {
    const assets = new NodeAssetLoader();
    if (o.migrateListen !== undefined) return await runIncoming(o, io, assets, deadline);
    const plan = await Promise.race([prepare(o, assets), deadline.whenExpired()]);
    if (plan === 'timeout') {
      io.stderr.write(`tabvisor: timeout: still reading the input files after ${o.timeoutSec} s\n`);
      return EXIT_TIMEOUT;
    }
    if (plan.kind === 'bare') return await runBare(plan, o, io, deadline);
    return await runMachine(plan, o, io, assets, deadline);
  } finally {
    deadline.cancel();
  }
}

// --- running a machine ------------------------------------------------------------------------

/** --migrate-listen: waits for one VM from a `--migrate-to` run, then runs it like any other. */
async function runIncoming(o: RunOptions, io: Io, assets: NodeAssetLoader, deadline: Deadline): Promise<number> {
  const port = o.migrateListen!;
  const received = await Promise.race([
    receiveMigration(port, {
      maxMemoryMiB: o.memoryMiB ?? 2048,
      assets,
      onListening: () => io.stderr.write(`tabvisor: waiting for a migration on 127.0.0.1:${port}\n`),
    }).catch((err: unknown) => {
      throw new UsageError(`--migrate-listen ${port}: ${err instanceof Error ? err.message : String(err)}`);
    }),
    deadline.whenExpired(),
  ]);
  if (received === 'timeout') {
    io.stderr.write(`tabvisor: timeout: no migration arrived within ${o.timeoutSec} s\n`);
    return EXIT_TIMEOUT;
  }
  io.stderr.write(`tabvisor: received a ${received.memoryMiB} MiB rv64 machine${received.overlay ? `; its disk goes on in ${received.overlay.overlayPath}` : ''}\n`);
  // The guest is up already: piped input goes to it at once.
  const plan: MachinePlan = {
    kind: 'machine', config: { engine: 'rv64', memoryMiB: received.memoryMiB }, readyMarker: o.readyMarker ?? '', restored: false,
    ...(received.overlay ? { overlay: received.overlay } : {}),
  };
  return runMachine(plan, o, io, assets, deadline, received.engine);
}

async function runMachine(plan: MachinePlan, o: RunOptions, io: Io, assets: NodeAssetLoader, deadline: Deadline, received?: Engine): Promise<number> {
  const disk = plan.disk;
  if (disk?.recovered) {
    const r = disk.recovered;
    io.stderr.write(r.merged
      ? `tabvisor: merged ${formatBytes(r.bytes)} of guest writes from an interrupted run into ${o.disk}\n`
      : `tabvisor: ${o.disk} has ${formatBytes(r.bytes)} of guest writes from an interrupted run in ${disk.journalPath}; the guest sees them, --disk-write-back keeps them\n`);
  }
  const overlay = plan.overlay;
  const closeDisks = (): void => {
    closeQuietly(disk);
    try { overlay?.closeAll(); } catch { /* what was flushed stays in the overlay */ }
  };
  let engine: Engine;
  try {
    engine = received ?? await createEngine(plan.config, assets);
  } catch (err) {
    closeDisks();
    throw err instanceof EngineConfigError ? await engineRefusal(err, plan.config) : err;
  }

  let settle!: (end: { code: number; message?: string }) => void;
  const outcome = new Promise<{ code: number; message?: string }>((resolve) => { settle = resolve; });
  let finished = false;
  const finish = (code: number, message?: string): void => {
    if (finished) return;
    finished = true;
    settle({ code, message });
  };

  // --snapshot-out: resolves to a failure (or undefined) once the file is written or given up.
  let snapshotTask: Promise<{ code: number; message: string } | undefined> | undefined;
  const bridge = new ConsoleBridge({
    ...io,
    readyMarker: plan.readyMarker,
    send: (bytes) => engine.sendConsole(bytes),
    consoleReceiving: engine.consoleReceiving ? () => engine.consoleReceiving!() : undefined,
    onQuit: () => finish(EXIT_POWEROFF),
    // With --migrate-to, the end of piped input sends the VM instead of ending the run.
    onInputDone: () => (o.migrateTo !== undefined ? migrate() : finish(EXIT_POWEROFF)),
    onReady: o.snapshotOut === undefined ? undefined : () => {
      // The state is captured before piped input is released (so the snapshot is the freshly
      // ready guest); the file is written while the guest goes on.
      let captured!: () => void;
      const capturedPromise = new Promise<void>((resolve) => { captured = resolve; });
      snapshotTask = (async () => {
        let state: Uint8Array;
        try {
          await engine.pause();
          state = await engine.saveState();
          await engine.resume();
        } catch (err) {
          return { code: EXIT_INTERNAL, message: `internal error: taking the snapshot failed: ${err instanceof Error ? err.message : String(err)}` };
        } finally {
          captured();
        }
        try {
          await saveSnapshot(o.snapshotOut!, plan, state);
          io.stderr.write(`tabvisor: saved snapshot ${o.snapshotOut}\n`);
          return undefined;
        } catch (err) {
          const why = err instanceof OutputFileError ? err.message : describeFsError(err);
          return { code: EXIT_USAGE, message: `cannot save snapshot ${o.snapshotOut}: ${why}` };
        }
      })();
      // A failure while the guest still runs ends the run (reported after it ends).
      void snapshotTask.then((failure) => { if (failure) finish(failure.code); });
      return capturedPromise;
    },
  });
  // tabvisor's own lines: the bridge starts them on a fresh line after guest output that stopped
  // mid-line on the terminal (console.ts, message()).
  const say = (text: string): void => bridge.message(text);
  // --migrate-to: sent when piped input is done, or on SIGUSR2 (a running run at a terminal).
  // The guest runs meanwhile; refused or failed, it keeps running here.
  let migrating = false;
  function migrate(): void {
    const to = o.migrateTo;
    if (!to || migrating || finished || !bridge.isReady) return;
    // Back ends a migration does not carry: refused before anything moves.
    const kept = o.share !== undefined ? '--share' : o.netListen !== undefined ? '--net-listen' : o.netConnect !== undefined ? '--net-connect'
      : plan.disk ? '--disk without --disk-overlay' : undefined;
    if (kept) {
      say(`cannot migrate to ${to.host}:${to.port}: a VM run with ${kept} cannot be moved (its back end stays in this process); the VM keeps running here`);
      return;
    }
    migrating = true;
    const disk = plan.overlay ? { base: resolve(o.disk!), overlay: resolve(o.diskOverlay!), pid: process.pid } : undefined;
    void sendMigration(engine, to, plan.config.memoryMiB, disk).then((r) => {
      const rounds = r.rounds.map((x) => x.pages).join('/');
      say(`moved the VM to ${to.host}:${to.port} (final pause ${r.pauseMs.toFixed(1)} ms; pre-copy rounds ${rounds} pages, ` +
        `${r.finalPages} in the pause${r.throttle ? `, the guest throttled to ${r.throttle.percent}% of its time in ${r.throttle.steps} step${r.throttle.steps === 1 ? '' : 's'}: it writes fast` : ''}` +
        `${r.converged === 'round-limit' ? ', stopped at the round limit: the guest writes fast' : ''}; ${formatBytes(r.sentBytes)} sent in ${(r.totalMs / 1000).toFixed(2)} s)`);
      finish(EXIT_POWEROFF);
    }, (err: unknown) => {
      migrating = false;
      say(`cannot migrate to ${to.host}:${to.port}: ${err instanceof Error ? err.message : String(err)}; the VM keeps running here`);
    });
  }
  const onUsr2 = (): void => migrate();
  if (o.migrateTo) process.on('SIGUSR2', onUsr2);
  engine.onConsole((bytes) => bridge.output(bytes));
  engine.onExit((reason: ExitReason) => {
    if (reason.kind === 'poweroff') finish(reason.code);
    else if (reason.kind === 'reboot') finish(EXIT_POWEROFF);
    else finish(EXIT_INTERNAL, `guest stopped: ${reason.message}`);
  });
  deadline.onExpire(() => finish(EXIT_TIMEOUT, `timeout: the guest was still running after ${o.timeoutSec} s`));
  const stopSignals = onStopRequest((code, why) => finish(code, why));

  // Starting races the outcome: --timeout, signals and Ctrl-A x must work even while the engine starts.
  let bootedAt = performance.now();
  let startError: { error: unknown } | undefined;
  engine.start().then(
    () => {
      bootedAt = performance.now();
      bridge.machineStarted();
    },
    (error: unknown) => {
      startError = { error };
      finish(EXIT_INTERNAL);
    });

  const end = await outcome;
  deadline.cancel();
  bridge.close();
  try {
    if (startError) {
      await engine.destroy().catch(() => undefined);
      closeDisks();
      const err = startError.error;
      throw err instanceof EngineConfigError ? await engineRefusal(err, plan.config) : err;
    }
    let exitCode = end.code;
    if (end.message) say(end.message);
    if (snapshotTask) {
      const failure = await snapshotTask;
      if (failure) {
        say(failure.message);
        if (exitCode === EXIT_POWEROFF) exitCode = failure.code;
      }
    } else if (o.snapshotOut !== undefined) {
      say(`no snapshot saved: the guest never printed its ready marker '${plan.readyMarker}'`);
      if (exitCode === EXIT_POWEROFF) exitCode = EXIT_USAGE;
    }
    await engine.pause().catch(() => undefined); // no guest write may race the write-back
    if (disk) {
      try {
        disk.close();
        if (o.diskWriteBack) io.stderr.write(`tabvisor: wrote the disk back to ${o.disk}\n`);
      } catch (err) {
        say(`cannot write the disk back to ${o.disk}: ${describeFsError(err)} (the guest's writes stay in ${disk.journalPath} for the next run)`);
        if (exitCode === EXIT_POWEROFF) exitCode = EXIT_USAGE;
      }
    }
    if (overlay) {
      try {
        overlay.closeAll();
      } catch (err) {
        say(`cannot write the disk overlay ${o.diskOverlay}: ${describeFsError(err)} (what the guest flushed is in it)`);
        if (exitCode === EXIT_POWEROFF) exitCode = EXIT_USAGE;
      }
    }
    const stats = engine.stats();
    await engine.destroy();
    if (o.stats) {
      io.stderr.write(formatStats({
        engine: plan.config.engine,
        instructions: stats.instructions,
        wallSeconds: performance.now() / 1000,
        firstOutputSeconds: bridge.firstOutputAt === undefined ? undefined : bridge.firstOutputAt / 1000,
        extra: plan.restored ? `restored from ${o.restore} in ${(bootedAt / 1000).toFixed(3)} s` : undefined,
      }));
    }
    return exitCode;
  } finally {
    stopSignals();
    process.off('SIGUSR2', onUsr2);
  }
}

/** Closes the disk on a failure path; if that fails too, the journal stays for the next run. */
function closeQuietly(disk: FileDisk | undefined): void {
  try {
    disk?.close();
  } catch {
    // the next run with this disk replays the journal
  }
}

async function saveSnapshot(path: string, plan: MachinePlan, state: Uint8Array): Promise<void> {
  const writer = new SnapshotWriter({
    engine: plan.config.engine,
    image: plan.image,
    memoryMiB: plan.config.memoryMiB,
    extra: plan.config.cmdline !== undefined ? { cmdline: plan.config.cmdline } : undefined,
  });
  writer.addSection(ENGINE_STATE_SECTION, state);
  await writeFileAtomic(path, await writer.encode());
}
