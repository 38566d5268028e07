// `tabvisor run`: turns checked options into a BootConfig (or a bare-metal run), runs the guest
// with its console on stdin/stdout, and returns the exit status (docs/CLI.md).

import { Worker } from 'node:worker_threads';
import type { BootConfig, Engine, EngineKind, ExitReason } from '../engines/engine.js';
import type { BareRunResult as BareResult } from '../engines/rv64/bare.js';
import { NodeAssetLoader } from '../engines/assets-node.js';
import { createEngine, EngineConfigError } from '../engines/create.js';
import { DiskFileError, FileDisk } from '../devices/backends/file-disk.js';
import { ENGINE_STATE_SECTION, SnapshotWriter } from '../snapshot/format.js';
import { checkOutputFile, describeFsError, formatBytes, OutputFileError, readSnapshotFile, writeFileAtomic } from '../snapshot/node-file.js';
import type { RunOptions } from './args.js';
import { ConsoleBridge } from './console.js';
import { Deadline } from './deadline.js';
import { EXIT_INTERNAL, EXIT_POWEROFF, EXIT_TEST_FAILED, EXIT_TIMEOUT, EXIT_USAGE, UsageError } from './errors.js';
import { readBootFile } from './inputs.js';
import type { BareJob, BareMessage } from './bare-worker.js';
import { findImage, loadImageFile } from './manifest.js';
import { onStopRequest } from './signals.js';
import { formatStats, type RunStats } from './stats.js';

export { formatStats, type RunStats } from './stats.js';

const DEFAULT_MEMORY_MIB = 128;
export const DEFAULT_READY_MARKER = 'tabvisor-guest-ready';
/** A machine state carries its disk whole; rv64 states hold at most 2 GiB of disk. */
const MAX_SNAPSHOT_DISK_BYTES = 2 ** 31;

export interface Io {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** What the options resolve to: a machine for an engine, or a bare RISC-V program. */
type Plan =
  | { kind: 'machine'; config: BootConfig; image?: string; readyMarker: string; restored: boolean; disk?: FileDisk }
  | { kind: 'bare'; elf: Uint8Array; memoryMiB: number };
type MachinePlan = Extract<Plan, { kind: 'machine' }>;

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

/** Everything that can be checked before the guest runs: input files, the output file, the disk. */
async function prepare(o: RunOptions, assets: NodeAssetLoader): Promise<Plan> {
  const plan = await makePlan(o, assets);
  if (o.snapshotOut !== undefined) await checkOutputFile(o.snapshotOut, '--snapshot-out').catch(toUsageError);
  if (plan.kind === 'machine' && o.disk !== undefined) {
    if (plan.config.engine === 'v86') throw new UsageError('the v86 engine does not support --disk yet (use an image with an initrd)');
    // Opened last: with --disk-write-back this creates the journal beside the file.
    const disk = openDisk(o);
    if (o.snapshotOut !== undefined && disk.byteLength > MAX_SNAPSHOT_DISK_BYTES) {
      disk.close();
      throw new UsageError(`--snapshot-out saves the disk inside the snapshot, and ${o.disk} is ${formatBytes(disk.byteLength)} (at most ${formatBytes(MAX_SNAPSHOT_DISK_BYTES)})`);
    }
    plan.disk = disk;
    plan.config.disk = disk;
  }
  return plan;
}

function openDisk(o: RunOptions): FileDisk {
  try {
    return FileDisk.open(o.disk!, { writeBack: o.diskWriteBack });
  } catch (err) {
    throw err instanceof DiskFileError ? new UsageError(err.message) : err;
  }
}

function toUsageError(err: unknown): never {
  throw err instanceof OutputFileError || err instanceof EngineConfigError ? new UsageError(err.message) : err;
}

// --- planning: every input file is read and checked before anything boots -------------------

async function makePlan(o: RunOptions, assets: NodeAssetLoader): Promise<Plan> {
  if (o.restore !== undefined) {
    let snapshot;
    try {
      snapshot = await readSnapshotFile(o.restore);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const meta = snapshot.metadata;
    if (o.engine !== undefined && o.engine !== meta.engine) {
      throw new UsageError(`${o.restore} is a ${meta.engine} snapshot, not ${o.engine}`);
    }
    // Snapshots exported by the hypervisor so far name the section 'machine'; read those too.
    const section = [ENGINE_STATE_SECTION, 'machine'].find((name) => snapshot.hasSection(name));
    if (section === undefined) {
      throw new UsageError(`${o.restore}: snapshot has no '${ENGINE_STATE_SECTION}' section`);
    }
    if (o.disk !== undefined) throw new UsageError('--disk cannot be combined with --restore yet');
    return {
      kind: 'machine',
      config: { engine: meta.engine, memoryMiB: meta.memoryMiB, state: snapshot.section(section) },
      image: meta.image,
      readyMarker: o.readyMarker ?? '',
      restored: true,
    };
  }

  if (o.image !== undefined) {
    const image = await findImage(assets, o.image);
    if (o.engine !== undefined && o.engine !== image.engine) {
      throw new UsageError(`image '${image.name}' runs on the ${image.engine} engine, not ${o.engine}`);
    }
    const config: BootConfig = {
      engine: image.engine,
      memoryMiB: o.memoryMiB ?? image.memoryMiB,
      kernel: await loadImageFile(assets, image, image.kernel),
      cmdline: o.append ?? image.cmdline,
    };
    if (image.firmware) config.firmware = await loadImageFile(assets, image, image.firmware);
    if (image.vgaBios) config.vgaBios = await loadImageFile(assets, image, image.vgaBios);
    if (image.initrd) config.initrd = await loadImageFile(assets, image, image.initrd);
    return { kind: 'machine', config, image: image.name, readyMarker: o.readyMarker ?? image.readyMarker, restored: false };
  }

  const kernelPath = o.kernel!;
  const memoryMiB = o.memoryMiB ?? DEFAULT_MEMORY_MIB;
  const kernel = await readBootFile('--kernel', kernelPath, memoryMiB, true);
  const kernelType = kernelKind(kernel);
  const engine: EngineKind = o.engine ?? (kernelType === 'bzimage' ? 'v86' : 'rv64');

  if (engine === 'rv64' && o.firmware === undefined) {
    if (kernelType !== 'riscv-elf') {
      const what = kernelType === 'elf' ? 'an ELF file for another architecture' :
        kernelType === 'riscv-image' ? 'a RISC-V Linux Image (give --firmware fw_jump.bin to boot it)' :
        kernelType === 'bzimage' ? 'an x86 Linux bzImage (use --engine v86 with --firmware bios.bin)' :
        'neither an ELF program nor a kernel';
      throw new UsageError(`${kernelPath} is ${what}; --kernel without --firmware runs a bare-metal RISC-V ELF`);
    }
    for (const [flag, set] of [['--initrd', o.initrd], ['--append', o.append], ['--snapshot-out', o.snapshotOut],
      ['--disk', o.disk]] as const) {
      if (set !== undefined) throw new UsageError(`${flag} does not apply to a bare-metal ELF run (no --firmware)`);
    }
    return { kind: 'bare', elf: kernel, memoryMiB };
  }

  if (engine === 'v86' && kernelType !== 'bzimage') {
    throw new UsageError(`${kernelPath} is not a Linux bzImage (the v86 engine boots x86 bzImage kernels)`);
  }
  if (engine === 'rv64' && kernelType !== 'riscv-image' && kernelType !== 'riscv-elf') {
    throw new UsageError(`${kernelPath} is not a RISC-V Linux kernel (Image or ELF)`);
  }
  if (o.firmware === undefined) {
    throw new UsageError('--engine v86 needs --firmware FILE (SeaBIOS bios.bin)');
  }
  const config: BootConfig = {
    engine,
    memoryMiB,
    kernel,
    firmware: await readBootFile('--firmware', o.firmware, memoryMiB, false),
    cmdline: o.append ?? (engine === 'v86' ? 'console=ttyS0' : 'console=ttyS0 earlycon=sbi'),
  };
  if (o.initrd !== undefined) config.initrd = await readBootFile('--initrd', o.initrd, memoryMiB, false);
  return { kind: 'machine', config, readyMarker: o.readyMarker ?? DEFAULT_READY_MARKER, restored: false };
}

type KernelKind = 'bzimage' | 'riscv-elf' | 'elf' | 'riscv-image' | 'unknown';

export function kernelKind(bytes: Uint8Array): KernelKind {
  if (bytes.length > 0x206 && bytes[0x202] === 0x48 && bytes[0x203] === 0x64 && bytes[0x204] === 0x72 && bytes[0x205] === 0x53) {
    return 'bzimage';
  }
  if (bytes.length >= 20 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const machine = bytes[5] === 2 ? (bytes[18] << 8) | bytes[19] : bytes[18] | (bytes[19] << 8);
    return machine === 0xf3 ? 'riscv-elf' : 'elf';
  }
  // RISC-V Linux Image header: magic2 "RSC\x05" at 0x38 (Documentation/arch/riscv/boot-image-header.rst).
  if (bytes.length >= 0x40 && bytes[0x38] === 0x52 && bytes[0x39] === 0x53 && bytes[0x3a] === 0x43 && bytes[0x3b] === 0x05) {
    return 'riscv-image';
  }
  return 'unknown';
}

/**
 * An engine's refusal as a usage error. When rv64 says the boot files do not fit in RAM, the
 * smallest --mem that fits is looked up with the engine's own check and named.
 */
async function engineRefusal(err: EngineConfigError, config: BootConfig): Promise<UsageError> {
  if (config.engine !== 'rv64' || config.state || !/give more memory/.test(err.message)) return new UsageError(err.message);
  const { checkRv64Config } = await import('../engines/rv64/engine.js');
  const fits = (mib: number): boolean => {
    try {
      checkRv64Config({ ...config, memoryMiB: mib });
      return true;
    } catch {
      return false;
    }
  };
  let lo = config.memoryMiB + 1;
  let hi = 2048;
  if (!fits(hi)) return new UsageError(err.message);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return new UsageError(`${err.message.replace(/; give more memory$/, '')}; needs --mem ${lo}M or more`);
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

  // The console's last byte: a tabvisor line after guest output that stopped mid-line on the
  // terminal needs a newline first; anywhere else the line stands alone as it is.
  let lastByte = 0x0a;
  const say = (text: string): void => {
    const midLine = lastByte !== 0x0a && !!io.stdout.isTTY && !!io.stderr.isTTY;
    io.stderr.write(`${midLine ? '\n' : ''}tabvisor: ${text}\n`);
    lastByte = 0x0a;
  };

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
    onQuit: () => finish(EXIT_POWEROFF),
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
  engine.onConsole((bytes) => {
    if (bytes.length > 0) lastByte = bytes[bytes.length - 1];
    bridge.output(bytes);
  });
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

// --- bare-metal RISC-V programs ---------------------------------------------------------------

async function runBare(plan: Extract<Plan, { kind: 'bare' }>, o: RunOptions, io: Io, deadline: Deadline): Promise<number> {
  const result = await runBareInWorker(plan, o, io, deadline);
  if (result === 'timeout') {
    io.stderr.write(`tabvisor: timeout: the program was still running after ${o.timeoutSec} s\n`);
    return EXIT_TIMEOUT;
  }
  let code = result.exitCode;
  switch (result.reason) {
    case 'pass':
      code = 0;
      break;
    case 'fail':
      code = EXIT_TEST_FAILED;
      io.stderr.write(`tabvisor: test failed${result.failCase !== undefined ? ` (case ${result.failCase})` : ''}\n`);
      break;
    case 'timeout':
      code = EXIT_TIMEOUT;
      // The worker runs without a clock of its own (the deadline here is the only one), so this is
      // a program that waits for an interrupt that can never come.
      io.stderr.write(`tabvisor: the program can never go on: ${result.message ?? 'it stopped'}\n`);
      break;
    case 'limit':
    case 'fault':
      io.stderr.write(`tabvisor: ${result.message ?? (result.reason === 'limit' ? 'instruction limit reached' : 'guest fault')}\n`);
      break;
    case 'poweroff':
      break;
  }
  if (o.stats) {
    io.stderr.write(formatStats({
      engine: 'rv64 (bare)',
      instructions: result.instructions,
      wallSeconds: result.wallMs / 1000,
      firstOutputSeconds: result.firstOutputMs === undefined ? undefined : result.firstOutputMs / 1000,
    } satisfies RunStats));
  }
  return code;
}

/**
 * Runs the program in a worker thread (bare-worker.ts) and ends it there when the deadline
 * passes, even in the middle of a long slice. Errors about the program or its memory size are the
 * user's input (exit 2); anything else is internal.
 */
function runBareInWorker(plan: Extract<Plan, { kind: 'bare' }>, o: RunOptions, io: Io, deadline: Deadline): Promise<BareResult | 'timeout'> {
  const job: BareJob = { elf: plan.elf, memoryMiB: plan.memoryMiB, timeoutMs: undefined, stats: o.stats };
  const worker = new Worker(new URL('./bare-worker.js', import.meta.url), { workerData: job });
  return new Promise<BareResult | 'timeout'>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
      void worker.terminate();
    };
    worker.on('message', (m: BareMessage) => {
      if (m.kind === 'out') io.stdout.write(m.bytes);
      else if (m.kind === 'done') settle(() => resolve(m.result));
      else settle(() => reject(bareError(m.name, m.message, plan.memoryMiB)));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the bare-metal runner stopped (exit ${code})`))));
    deadline.onExpire(() => settle(() => resolve('timeout')));
  });
}

function bareError(name: string, message: string, memoryMiB: number): Error {
  if (/^(EngineConfigError|ElfError|MachineConfigError|BootLayoutError)$/.test(name)) return new UsageError(message);
  if (name === 'RangeError' && /memory/i.test(message)) return new UsageError(`cannot give the program ${memoryMiB} MiB of RAM (${message})`);
  const err = new Error(message);
  err.name = name;
  return err;
}
