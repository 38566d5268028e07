// `tabvisor run`: turns checked options into a BootConfig (or a bare-metal run), runs the guest
// with its console on stdin/stdout, and returns the exit status (docs/CLI.md).

import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import type { BootConfig, Engine, EngineKind, ExitReason } from '../engines/engine.js';
import { NodeAssetLoader } from '../engines/assets-node.js';
import { createEngine, EngineConfigError } from '../engines/create.js';
import { ENGINE_STATE_SECTION, SnapshotWriter } from '../snapshot/format.js';
import { readSnapshotFile, writeFileAtomic, describeFsError } from '../snapshot/node-file.js';
import type { RunOptions } from './args.js';
import { ConsoleBridge } from './console.js';
import { EXIT_INTERNAL, EXIT_POWEROFF, EXIT_TEST_FAILED, EXIT_TIMEOUT, EXIT_USAGE, UsageError } from './errors.js';
import { findImage, loadImageFile } from './manifest.js';

const DEFAULT_MEMORY_MIB = 128;
export const DEFAULT_READY_MARKER = 'tabvisor-guest-ready';

export interface Io {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** What the options resolve to: a machine for an engine, or a bare RISC-V program. */
type Plan =
  | { kind: 'machine'; config: BootConfig; image?: string; readyMarker: string; restored: boolean }
  | { kind: 'bare'; elf: Uint8Array; memoryMiB: number };

export async function runCommand(o: RunOptions, io: Io): Promise<number> {
  const startedAt = performance.now();
  const assets = new NodeAssetLoader();
  const plan = await makePlan(o, assets);
  if (o.snapshotOut !== undefined) await checkWritableFolder(o.snapshotOut);
  if (plan.kind === 'bare') return runBare(plan, o, io);
  return runMachine(plan, o, io, assets, startedAt);
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

  const disk = o.disk !== undefined ? await readInput('--disk', o.disk) : undefined;

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
      disk,
    };
    if (image.firmware) config.firmware = await loadImageFile(assets, image, image.firmware);
    if (image.vgaBios) config.vgaBios = await loadImageFile(assets, image, image.vgaBios);
    if (image.initrd) config.initrd = await loadImageFile(assets, image, image.initrd);
    return { kind: 'machine', config, image: image.name, readyMarker: o.readyMarker ?? image.readyMarker, restored: false };
  }

  const kernelPath = o.kernel!;
  const kernel = await readInput('--kernel', kernelPath);
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
    return { kind: 'bare', elf: kernel, memoryMiB: o.memoryMiB ?? DEFAULT_MEMORY_MIB };
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
    memoryMiB: o.memoryMiB ?? DEFAULT_MEMORY_MIB,
    kernel,
    firmware: await readInput('--firmware', o.firmware),
    cmdline: o.append ?? (engine === 'v86' ? 'console=ttyS0' : 'console=ttyS0 earlycon=sbi'),
    disk,
  };
  if (o.initrd !== undefined) config.initrd = await readInput('--initrd', o.initrd);
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

async function readInput(flag: string, path: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    if (buf.length === 0) throw new UsageError(`${flag} ${path} is empty`);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${flag} ${path}: ${describeFsError(err)}`);
  }
}

async function checkWritableFolder(file: string): Promise<void> {
  const dir = dirname(resolvePath(file));
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new UsageError(`cannot write --snapshot-out ${file}: ${dir} is not a folder`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot write --snapshot-out ${file}: folder ${dir}: ${describeFsError(err)}`);
  }
  try {
    const s = await stat(file);
    if (s.isDirectory()) throw new UsageError(`cannot write --snapshot-out ${file}: it is a folder`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
  }
}

// --- running a machine ------------------------------------------------------------------------

async function runMachine(plan: Extract<Plan, { kind: 'machine' }>, o: RunOptions, io: Io,
  assets: NodeAssetLoader, startedAt: number): Promise<number> {
  let engine: Engine;
  try {
    engine = await createEngine(plan.config, assets);
  } catch (err) {
    throw err instanceof EngineConfigError ? new UsageError(err.message) : err;
  }

  if (o.diskWriteBack && !canExportDisk(engine)) {
    throw new UsageError(`--disk-write-back is not supported by the ${engine.kind} engine yet`);
  }

  let settle!: (code: number) => void;
  const outcome = new Promise<number>((resolve) => { settle = resolve; });
  let finished = false;
  const finish = (code: number, message?: string): void => {
    if (finished) return;
    finished = true;
    if (message) bridge.message(message);
    settle(code);
  };

  let snapshotWrite: Promise<void> | undefined;
  const bridge = new ConsoleBridge({
    ...io,
    readyMarker: plan.readyMarker,
    send: (bytes) => engine.sendConsole(bytes),
    consoleReceiving: engine.consoleReceiving ? () => engine.consoleReceiving!() : undefined,
    onQuit: () => finish(EXIT_POWEROFF),
    onInputDone: () => finish(EXIT_POWEROFF),
    onReady: o.snapshotOut === undefined ? undefined : async () => {
      // Captured before piped input is released, so the snapshot is the freshly ready guest.
      try {
        await engine.pause();
        const state = await engine.saveState();
        await engine.resume();
        snapshotWrite = saveSnapshot(o.snapshotOut!, plan, state).then(
          () => { io.stderr.write(`tabvisor: saved snapshot ${o.snapshotOut}\n`); },
          (err) => finish(EXIT_USAGE, `cannot save snapshot ${o.snapshotOut}: ${describeFsError(err)}`));
      } catch (err) {
        finish(EXIT_INTERNAL, `internal error: taking the snapshot failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  });
  engine.onConsole((bytes) => bridge.output(bytes));
  engine.onExit((reason: ExitReason) => {
    if (reason.kind === 'poweroff') finish(reason.code);
    else if (reason.kind === 'reboot') finish(EXIT_POWEROFF);
    else finish(EXIT_INTERNAL, `guest stopped: ${reason.message}`);
  });
  const timer = o.timeoutSec === undefined ? undefined : setTimeout(
    () => finish(EXIT_TIMEOUT, `timeout: the guest was still running after ${o.timeoutSec} s`), o.timeoutSec * 1000);

  // Starting races the outcome: --timeout and Ctrl-A x must work even while the engine starts.
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

  const code = await outcome;
  if (startError) {
    bridge.close();
    if (timer) clearTimeout(timer);
    await engine.destroy().catch(() => undefined);
    const err = startError.error;
    throw err instanceof EngineConfigError ? new UsageError(err.message) : err;
  }
  if (timer) clearTimeout(timer);
  bridge.close();
  if (o.snapshotOut !== undefined && !bridge.isReady) {
    io.stderr.write(`tabvisor: no snapshot saved: the guest never printed its ready marker '${plan.readyMarker}'\n`);
  }
  if (snapshotWrite) await snapshotWrite;
  let exitCode = code;
  if (o.diskWriteBack && o.disk !== undefined && canExportDisk(engine)) {
    try {
      await engine.pause();
      await writeFileAtomic(o.disk, await engine.exportDisk());
      io.stderr.write(`tabvisor: wrote the disk back to ${o.disk}\n`);
    } catch (err) {
      io.stderr.write(`tabvisor: cannot write the disk back to ${o.disk}: ${describeFsError(err)}\n`);
      exitCode = EXIT_USAGE;
    }
  }
  const stats = engine.stats();
  await engine.destroy();
  if (o.stats) {
    printStats(io, {
      engine: plan.config.engine,
      instructions: stats.instructions,
      wallSeconds: (performance.now() - startedAt) / 1000,
      firstOutputSeconds: bridge.firstOutputAt === undefined ? undefined : (bridge.firstOutputAt - startedAt) / 1000,
      extra: plan.restored ? `restored from ${o.restore} in ${((bootedAt - startedAt) / 1000).toFixed(3)} s` : undefined,
    });
  }
  return exitCode;
}

/** An engine whose disk overlay can be read back whole (for --disk-write-back). */
interface DiskExporter {
  exportDisk(): Promise<Uint8Array>;
}

function canExportDisk(engine: Engine): engine is Engine & DiskExporter {
  return typeof (engine as Partial<DiskExporter>).exportDisk === 'function';
}

async function saveSnapshot(path: string, plan: Extract<Plan, { kind: 'machine' }>, state: Uint8Array): Promise<void> {
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

async function runBare(plan: Extract<Plan, { kind: 'bare' }>, o: RunOptions, io: Io): Promise<number> {
  // Loaded only for bare programs, so Linux runs do not pay for it at start-up.
  const { runBareProgram } = await import('../engines/rv64/bare.js');
  const result = await runBareProgram({
    elf: plan.elf,
    memoryMiB: plan.memoryMiB,
    timeoutMs: o.timeoutSec === undefined ? undefined : o.timeoutSec * 1000,
    stdout: (bytes) => { io.stdout.write(bytes); },
    stats: o.stats,
  });
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
      io.stderr.write(`tabvisor: timeout: the program was still running after ${o.timeoutSec} s\n`);
      break;
    case 'limit':
    case 'fault':
      io.stderr.write(`tabvisor: ${result.message ?? (result.reason === 'limit' ? 'instruction limit reached' : 'guest fault')}\n`);
      break;
    case 'poweroff':
      break;
  }
  if (o.stats) {
    printStats(io, {
      engine: 'rv64 (bare)',
      instructions: result.instructions,
      wallSeconds: result.wallMs / 1000,
      firstOutputSeconds: result.firstOutputMs === undefined ? undefined : result.firstOutputMs / 1000,
    });
  }
  return code;
}

// --- statistics -------------------------------------------------------------------------------

export interface RunStats {
  engine: string;
  instructions: number;
  wallSeconds: number;
  firstOutputSeconds?: number;
  extra?: string;
}

export function formatStats(s: RunStats): string {
  const mips = s.wallSeconds > 0 ? s.instructions / s.wallSeconds / 1e6 : 0;
  const lines = [
    '--- tabvisor stats ---',
    `engine:               ${s.engine}`,
    `instructions retired: ${s.instructions}`,
    `wall seconds:         ${s.wallSeconds.toFixed(3)}`,
    `MIPS:                 ${mips.toFixed(1)}`,
    `first console byte:   ${s.firstOutputSeconds === undefined ? 'none' : `${s.firstOutputSeconds.toFixed(3)} s`}`,
  ];
  if (s.extra) lines.push(`note:                 ${s.extra}`);
  return lines.join('\n') + '\n';
}

function printStats(io: Io, s: RunStats): void {
  io.stderr.write(formatStats(s));
}
