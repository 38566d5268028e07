// Snapshot files as the hypervisor writes and reads them (snapshot, restore, clone, export,
// import, lab templates and saved work): the container of src/snapshot with the engine's machine
// state in the section `engine-state` and the hypervisor's facts about the VM in the metadata.
// Every snapshot the hypervisor reads is decoded by `decodeSnapshotFile`, the one call of the
// container's decoder, with a size limit: a file cannot make the hypervisor hold more than the
// memory the VM may have.

import type { BootConfig, ImageEntry } from '../engines/engine.js';
import {
  ENGINE_STATE_SECTION, readSnapshot, readSnapshotMetadata, SnapshotFormatError, SnapshotTooLargeError, SnapshotWriter, type Snapshot, type SnapshotMetadata,
} from '../snapshot/index.js';
import type { SnapshotMetadataInput } from '../snapshot/format.js';
import { incrementalBaseOf, snapshotFileId } from '../snapshot/incremental.js';
import { HypervisorError } from './errors.js';
import { parseIdentity, type VmIdentity } from './identity.js';
import type { ManagedVm } from './managed-vm.js';
import { formatBytes } from './memory-budget.js';
import { capProblem, weightProblem } from '../worker/schedule-limits.js';

const MiB = 1024 * 1024;
/** Section name the first hypervisor snapshots used for the engine state; still read. */
const LEGACY_MACHINE_SECTION = 'machine';
/** Key of the hypervisor's facts inside SnapshotMetadata.extra. */
const META_KEY = 'tabvisorVm';
/**
 * What a machine state may hold beyond guest RAM (device state, video memory, a disk overlay):
 * a state larger than RAM plus this is refused before any engine sees it.
 */
export const STATE_ALLOWANCE_BYTES = 64 * MiB;
/** The metadata and section table around the machine state in a snapshot's payload. */
const PAYLOAD_ALLOWANCE_BYTES = MiB;

/** What the hypervisor stores about a VM inside a snapshot file. */
export interface SnapshotVmMeta {
  name?: string;
  identity?: VmIdentity;
  weight?: number;
  capPercent?: number;
  ready: boolean;
  imageSha256?: Record<string, string>;
}

/** A decoded snapshot file: its metadata, the hypervisor's facts and the engine's machine state. */
export interface SnapshotFile {
  snap: Snapshot;
  meta: SnapshotVmMeta;
  state: Uint8Array;
}

/** The file's metadata for a VM: engine, image, memory, and the hypervisor's facts in `extra`. */
export function snapshotMetadata(vm: ManagedVm): SnapshotMetadataInput {
  const meta: SnapshotVmMeta = {
    name: vm.name,
    identity: vm.identity,
    weight: vm.weight,
    ...(vm.capPercent !== undefined ? { capPercent: vm.capPercent } : {}),
    ready: vm.ready,
    imageSha256: vm.image.sha256,
  };
  return {
    engine: vm.image.engine,
    image: vm.image.name,
    memoryMiB: vm.memoryMiB,
    createdAt: new Date().toISOString(),
    extra: { [META_KEY]: meta, cmdline: vm.image.cmdline },
  };
}

export async function encodeSnapshotFile(vm: ManagedVm, state: Uint8Array): Promise<Uint8Array> {
  return new SnapshotWriter(snapshotMetadata(vm)).addSection(ENGINE_STATE_SECTION, state).encode();
}

/**
 * How much guest RAM the machine in a file may have: the VM's memory for a restore (a bigger
 * state is `bad-snapshot`), or the free budget for an import (a bigger state is `no-memory`:
 * the file may be fine, there is no room for it now).
 */
export type SnapshotLimit = { vmBytes: number } | { freeBudgetBytes: number; budgetBytes: number };

/**
 * Decodes a snapshot file within `limit`. Refuses, as `bad-snapshot`, a damaged file, one
 * without a machine state, and one whose state is larger than its declared memory can hold.
 */
export async function decodeSnapshotFile(file: Uint8Array, context: string, limit: SnapshotLimit): Promise<SnapshotFile> {
  const maxRamBytes = 'vmBytes' in limit ? limit.vmBytes : limit.freeBudgetBytes;
  const maxStateBytes = maxRamBytes + STATE_ALLOWANCE_BYTES;
  let snap: Snapshot;
  try {
    // The one decode of a snapshot in the hypervisor: nothing past the limit is inflated.
    snap = await readSnapshot(file, { maxPayloadBytes: maxStateBytes + PAYLOAD_ALLOWANCE_BYTES });
  } catch (error) {
    if (error instanceof SnapshotTooLargeError && 'vmBytes' in limit) {
      throw new HypervisorError('bad-snapshot', `${context}: it holds ${formatBytes(error.declaredBytes)}, more than a machine of ${formatBytes(maxRamBytes)} can hold`);
    }
    if (error instanceof SnapshotTooLargeError && 'budgetBytes' in limit) {
      throw new HypervisorError(
        'no-memory',
        `${context}: it holds ${formatBytes(error.declaredBytes)}, more than fits in the ${formatBytes(maxRamBytes)} free of the ` +
          `${formatBytes(limit.budgetBytes)} budget`,
      );
    }
    if (error instanceof SnapshotFormatError) throw new HypervisorError('bad-snapshot', `${context}: ${error.message}`);
    throw error;
  }
  const memoryMiB = snap.metadata.memoryMiB;
  if (!Number.isInteger(memoryMiB) || memoryMiB <= 0) {
    throw new HypervisorError('bad-snapshot', `${context}: the snapshot's memory size is not a whole number of MiB (${String(memoryMiB)})`);
  }
  if (!snap.hasSection(ENGINE_STATE_SECTION) && !snap.hasSection(LEGACY_MACHINE_SECTION)) {
    throw new HypervisorError('bad-snapshot', `${context}: the snapshot has no '${ENGINE_STATE_SECTION}' section`);
  }
  const state = snap.section(snap.hasSection(ENGINE_STATE_SECTION) ? ENGINE_STATE_SECTION : LEGACY_MACHINE_SECTION);
  // The budget is charged for the declared memory: a state too big for it is a lie, not a VM.
  const declared = memoryMiB * MiB;
  if (state.length > declared + STATE_ALLOWANCE_BYTES) {
    throw new HypervisorError(
      'bad-snapshot',
      `${context}: its machine state is ${formatBytes(state.length)}, more than the ${memoryMiB} MiB machine its metadata declares can hold`,
    );
  }
  if (state.length > maxStateBytes) {
    const size = formatBytes(state.length);
    if ('vmBytes' in limit) {
      throw new HypervisorError(
        'bad-snapshot',
        `${context}: its machine state is ${size}, more than a machine of ${formatBytes(maxRamBytes)} can hold`,
      );
    }
    throw new HypervisorError(
      'no-memory',
      `${context}: its machine state is ${size}, more than fits in the ${formatBytes(maxRamBytes)} free of the ` +
        `${formatBytes(limit.budgetBytes)} budget`,
    );
  }
  return { snap, meta: readMeta(snap.metadata), state };
}

/**
 * What the hypervisor needs to place a snapshot file before its host decodes it: the metadata
 * (from the first bytes of the payload) and the same limits as decodeSnapshotFile, applied to the
 * payload's declared size. The host then reads the whole file with `stateFromSnapshotFile`
 * (checksum included) and refuses it if it is not what this said.
 */
export async function peekSnapshotFile(file: Uint8Array, context: string, limit: SnapshotLimit): Promise<{ metadata: SnapshotMetadata; meta: SnapshotVmMeta }> {
  let peeked: { metadata: SnapshotMetadata; payloadBytes: number };
  try {
    peeked = await readSnapshotMetadata(file);
  } catch (error) {
    if (error instanceof SnapshotFormatError) throw new HypervisorError('bad-snapshot', `${context}: ${error.message}`);
    throw error;
  }
  const { metadata, payloadBytes } = peeked;
  const maxRamBytes = 'vmBytes' in limit ? limit.vmBytes : limit.freeBudgetBytes;
  const declared = metadata.memoryMiB * MiB;
  if (payloadBytes > declared + STATE_ALLOWANCE_BYTES + PAYLOAD_ALLOWANCE_BYTES) {
    throw new HypervisorError('bad-snapshot', `${context}: its payload is ${formatBytes(payloadBytes)}, more than the ${metadata.memoryMiB} MiB machine its metadata declares can hold`);
  }
  if (declared > maxRamBytes) {
    throw new HypervisorError('no-memory', `${context}: it is a ${metadata.memoryMiB} MiB machine, more than the ${formatBytes(maxRamBytes)} free`);
  }
  return { metadata, meta: readMeta(metadata) };
}

/**
 * The engine state inside a snapshot file, for a host that was asked to restore `expect`: the
 * whole file is verified (checksum, sizes) and must be of that engine, memory and image.
 * Throws one line saying what is wrong.
 */
export async function stateFromSnapshotFile(file: Uint8Array, expect: { engine: string; memoryMiB: number; image?: string }): Promise<Uint8Array> {
  const { snap, state } = await decodeSnapshotFile(file, 'bad snapshot', { vmBytes: expect.memoryMiB * MiB });
  const m = snap.metadata;
  if (m.engine !== expect.engine || m.memoryMiB !== expect.memoryMiB || (expect.image !== undefined && m.image !== expect.image)) {
    throw new Error(`bad snapshot: it is a ${m.engine} machine of ${m.memoryMiB} MiB from image '${m.image ?? '(none)'}', not what its first bytes said`);
  }
  return state;
}

/**
 * A file's id (its SHA-256) and, for an incremental file, the id of the base it needs: a restore
 * of a VM's own base rewrites only what changed; an incremental file restores only over its base.
 */
export function fileIdentity(file: Uint8Array, metadata: SnapshotMetadata, context: string): { id: string; baseId?: string } {
  let baseId: string | undefined;
  try {
    baseId = incrementalBaseOf(metadata.extra);
  } catch (error) {
    throw new HypervisorError('bad-snapshot', `${context}: ${messageOfError(error)}`);
  }
  return { id: snapshotFileId(file), ...(baseId ? { baseId } : {}) };
}

function messageOfError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Refuses (`bad-snapshot`) a snapshot of another engine or memory size than the VM's. */
export function checkCompatible(vm: ManagedVm, m: SnapshotMetadata): void {
  if (m.engine !== vm.image.engine || m.memoryMiB !== vm.memoryMiB) {
    throw new HypervisorError(
      'bad-snapshot',
      `cannot restore VM '${vm.name}' (${vm.image.engine}, ${vm.memoryMiB} MiB) from a snapshot of a ` +
        `${m.engine} machine with ${m.memoryMiB} MiB`,
    );
  }
}

/**
 * The BootConfig of a new engine instance made from a saved state. Its memory is the VM's (the
 * snapshot's metadata, the size the budget was charged for): an engine refuses a state whose RAM
 * differs, so a file cannot get more memory than it declared.
 */
export function restoreConfig(image: ImageEntry, memoryMiB: number, state: Uint8Array): BootConfig {
  return { engine: image.engine, memoryMiB, cmdline: image.cmdline, state };
}

function readMeta(metadata: SnapshotMetadata): SnapshotVmMeta {
  const raw = metadata.extra?.[META_KEY];
  if (typeof raw !== 'object' || raw === null) return { ready: false };
  const r = raw as Record<string, unknown>;
  const identity = parseIdentity(r.identity);
  // A weight or cap outside today's ranges (an older file) is dropped: the VM gets the default.
  const weight = typeof r.weight === 'number' && !weightProblem(r.weight) ? r.weight : undefined;
  const capPercent = typeof r.capPercent === 'number' && !capProblem(r.capPercent) ? r.capPercent : undefined;
  return {
    ready: r.ready === true,
    ...(typeof r.name === 'string' ? { name: r.name } : {}),
    ...(identity ? { identity } : {}),
    ...(weight !== undefined ? { weight } : {}),
    ...(capPercent !== undefined ? { capPercent } : {}),
  };
}

/** `bytes` alone in a buffer of its own (so it can be transferred without taking anything else along). */
export function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
}

export { MiB };
