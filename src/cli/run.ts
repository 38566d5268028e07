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

async function runMachine(plan: MachinePlan, o: RunOptions, io: Io, assets: NodeAssetLoader, deadline: Deadline): Promise<number> {
  const disk = plan.disk;
  if (disk?.recovered) {
    const r = disk.recovered;
    io.stderr.write(r.merged
      ? `tabvisor: merged ${formatBytes(r.bytes)} of guest writes from an interrupted run into ${o.disk}\n`
      : `tabvisor: ${o.disk} has ${formatBytes(r.bytes)} of guest writes from an interrupted run in ${disk.journalPath}; the guest sees them, --disk-write-back keeps them\n`);
  }
  let engine: Engine;
  try {
    engine = await createEngine(plan.config, assets);
  } catch (err) {
    closeQuietly(disk);
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
    onInputDone: () => finish(EXIT_POWEROFF),
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
      closeQuietly(disk);
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
