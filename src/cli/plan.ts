// Planning `tabvisor run`: every input file is read and checked, and the output path and disk
// opened, before anything boots. The result is a Plan: a machine for an engine, or a bare program.

import type { BootConfig, EngineKind } from '../engines/engine.js';
import type { NodeAssetLoader } from '../engines/assets-node.js';
import { EngineConfigError } from '../engines/create.js';
import { DiskFileError, FileDisk } from '../devices/backends/file-disk.js';
import { openNodeOverlayDisk, type NodeOverlayDisk } from '../devices/backends/overlay-node-store.js';
import { NodeFileShare } from '../devices/backends/node-file-share.js';
import { SocketNetBackend } from '../devices/backends/socket-net.js';
import { EthernetSwitch } from '../devices/backends/ethernet-switch.js';
import { InternetGateway } from '../devices/backends/internet-gateway.js';
import type { NetBackend } from '../devices/backends/net.js';
import type { WebSocketFactory } from '../devices/backends/wisp-client.js';
import WebSocket from 'ws';
import { ENGINE_STATE_SECTION } from '../snapshot/format.js';
import { checkOutputFile, formatBytes, OutputFileError, readSnapshotFile } from '../snapshot/node-file.js';
import type { RunOptions } from './args.js';
import { UsageError } from './errors.js';
import { readBootFile } from './inputs.js';
import { findImage, loadImageFile } from './manifest.js';

const DEFAULT_MEMORY_MIB = 128;
export const DEFAULT_READY_MARKER = 'tabvisor-guest-ready';
/** A machine state carries its disk whole; rv64 states hold at most 2 GiB of disk. */
const MAX_SNAPSHOT_DISK_BYTES = 2 ** 31;

/** What the options resolve to: a machine for an engine, or a bare RISC-V program. */
export type Plan =
  | { kind: 'machine'; config: BootConfig; image?: string; readyMarker: string; restored: boolean; disk?: FileDisk; overlay?: NodeOverlayDisk }
  | { kind: 'bare'; elf: Uint8Array; memoryMiB: number };
export type MachinePlan = Extract<Plan, { kind: 'machine' }>;
export type BarePlan = Extract<Plan, { kind: 'bare' }>;

/** Everything that can be checked before the guest runs: input files, the output file, the disk. */
export async function prepare(o: RunOptions, assets: NodeAssetLoader): Promise<Plan> {
  const plan = await makePlan(o, assets);
  const snapshotTarget = o.snapshotOut === undefined ? undefined : await checkOutputFile(o.snapshotOut, '--snapshot-out').catch(toUsageError);
  if (plan.kind === 'machine' && o.disk !== undefined && o.diskOverlay !== undefined) {
    if (o.snapshotOut !== undefined) throw new UsageError('--snapshot-out cannot be combined with --disk-overlay yet (the overlay goes on changing after the snapshot)');
    const overlay = openOverlay(o);
    plan.overlay = overlay;
    plan.config.disk = overlay;
  } else if (plan.kind === 'machine' && o.disk !== undefined) {
    if (plan.config.engine === 'v86' && o.snapshotOut !== undefined) throw new UsageError('--snapshot-out cannot be combined with --disk on the v86 engine yet');
    // Opened last: with --disk-write-back this creates the journal beside the file.
    const disk = openDisk(o);
    const refuse = (why: string): never => {
      disk.close();
      throw new UsageError(why);
    };
    if (snapshotTarget === disk.path) refuse(`--snapshot-out ${o.snapshotOut} is the --disk file`);
    if (o.snapshotOut !== undefined && disk.byteLength > MAX_SNAPSHOT_DISK_BYTES) {
      refuse(`--snapshot-out saves the disk inside the snapshot, and ${o.disk} is ${formatBytes(disk.byteLength)} (at most ${formatBytes(MAX_SNAPSHOT_DISK_BYTES)})`);
    }
    plan.disk = disk;
    plan.config.disk = disk;
  }
  if (plan.kind === 'bare') {
    for (const [flag, set] of [['--share', o.share], ['--net-listen', o.netListen], ['--net-connect', o.netConnect], ['--net-relay', o.netRelay]] as const) {
      if (set !== undefined) throw new UsageError(`${flag} does not apply to a bare-metal ELF run (no --firmware)`);
    }
  } else {
    if (o.share !== undefined) plan.config.share = openShare(o.share, o.shareReadOnly);
    if (o.netListen !== undefined || o.netConnect !== undefined) plan.config.net = await openNet(o);
    if (o.netRelay !== undefined) {
      plan.config.net = await openRelay(o.netRelay);
      // The images configure eth0 from tabvisor.ip (docs/IMAGES.md): ask for the lease.
      if (plan.image !== undefined && !plan.restored && !/(^|\s)tabvisor\.ip=/.test(plan.config.cmdline ?? '')) {
        plan.config.cmdline = `${plan.config.cmdline ?? ''} tabvisor.ip=dhcp`.trim();
      }
    }
  }
  return plan;
}

function openShare(dir: string, readOnly: boolean): NodeFileShare {
  try {
    return new NodeFileShare(dir, readOnly);
  } catch (err) {
    throw new UsageError(`--share: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function openNet(o: RunOptions): Promise<SocketNetBackend> {
  if (o.netListen !== undefined) {
    try {
      return await SocketNetBackend.listen(o.netListen);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(`--net-listen ${o.netListen}: ${code === 'EADDRINUSE' ? 'the port is in use' : code ?? String(err)}`);
    }
  }
  try {
    return await SocketNetBackend.connect(o.netConnect!.port, o.netConnect!.host);
  } catch (err) {
    throw new UsageError(`--net-connect: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The subnet of `--net-relay`'s private network: the gateway is 10.0.2.1, the guest gets 10.0.2.100. */
export const RELAY_SUBNET = '10.0.2.0/24';

/**
 * `--net-relay URL`: the card sits on a switch with an internet gateway (DHCP, DNS, TCP and UDP
 * through the WISP relay). The relay must answer before the guest boots: a run that asked for the
 * internet and cannot have it stops with one line rather than booting a guest without it.
 */
async function openRelay(url: string): Promise<NetBackend> {
  const sw = new EthernetSwitch();
  const webSocket: WebSocketFactory = (u) => new WebSocket(u) as never;
  const gateway = new InternetGateway(sw.attach('gateway'), { subnet: RELAY_SUBNET, relay: url, webSocket });
  try {
    await gateway.connectNow();
  } catch (err) {
    gateway.close();
    throw new UsageError(`--net-relay: ${err instanceof Error ? err.message : String(err)}`);
  }
  return sw.attach('guest');
}

function openDisk(o: RunOptions): FileDisk {
  try {
    return FileDisk.open(o.disk!, { writeBack: o.diskWriteBack });
  } catch (err) {
    throw err instanceof DiskFileError ? new UsageError(err.message) : err;
  }
}

function openOverlay(o: RunOptions): NodeOverlayDisk {
  try {
    return openNodeOverlayDisk(o.disk!, o.diskOverlay!);
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
    if (o.diskOverlay !== undefined) throw new UsageError('--disk-overlay cannot be combined with --restore yet');
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
    if (image.acpi) config.acpi = true;
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
export async function engineRefusal(err: EngineConfigError, config: BootConfig): Promise<UsageError> {
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
