// The hand-in file: one ustar archive a student gives the teacher. It holds the lab manifest,
// the check results the page saw (for the student's own record: grading never trusts them), a
// log, and one snapshot per VM. `tabvisor grade` restores the VMs and runs the checks again.
//
//   handin.json         { format, createdAt, student?, seed?, lab, results, vms: [{ name, file }] }
//   log.txt
//   vms/<name>.tvsnap   the VM's snapshot (the usual snapshot container, checksummed)

import { readTar, TarFormatError, writeTar, type TarEntry } from '../snapshot/tar.js';
import type { TaskResult } from './lab-tasks.js';

export const HANDIN_FORMAT = 'tabvisor-handin/1';
const MAX_VMS = 16;

export class HandInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandInError';
  }
}

export interface HandIn {
  createdAt: string;
  student?: string;
  seed?: string;
  /** The lab manifest as JSON (parsed again, and checked, by whoever reads the hand-in). */
  lab: unknown;
  results: TaskResult[];
  log: string;
  vms: { name: string; snapshot: Uint8Array }[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function writeHandIn(h: HandIn): Uint8Array {
  if (h.vms.length > MAX_VMS) throw new HandInError(`a hand-in holds at most ${MAX_VMS} VMs`);
  const vms = h.vms.map((v) => {
    if (!NAME.test(v.name)) throw new HandInError(`bad VM name ${JSON.stringify(v.name)}`);
    return { name: v.name, file: `vms/${v.name}.tvsnap` };
  });
  const index = {
    format: HANDIN_FORMAT, createdAt: h.createdAt,
    ...(h.student ? { student: h.student } : {}), ...(h.seed ? { seed: h.seed } : {}),
    lab: h.lab, results: h.results, vms,
  };
  const enc = new TextEncoder();
  const mtime = Math.floor(Date.parse(h.createdAt) / 1000) || 0;
  const entries: TarEntry[] = [
    { name: 'handin.json', type: 'file', data: enc.encode(`${JSON.stringify(index, null, 2)}\n`), mtime },
    { name: 'log.txt', type: 'file', data: enc.encode(h.log), mtime },
    { name: 'vms', type: 'dir', mtime },
    ...h.vms.map((v, i): TarEntry => ({ name: vms[i].file, type: 'file', data: v.snapshot, mtime })),
  ];
  return writeTar(entries);
}

/** Reads a hand-in file; throws HandInError with one line for anything that is not one. */
export function readHandIn(bytes: Uint8Array): HandIn {
  let entries: TarEntry[];
  try {
    entries = readTar(bytes, 64);
  } catch (err) {
    throw new HandInError(`not a hand-in file (${err instanceof TarFormatError ? err.message : String(err)})`);
  }
  const files = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.name, e.data ?? new Uint8Array(0)]));
  const indexBytes = files.get('handin.json');
  if (indexBytes === undefined) throw new HandInError('not a hand-in file (no handin.json)');
  let index: Record<string, unknown>;
  try {
    index = JSON.parse(new TextDecoder().decode(indexBytes)) as Record<string, unknown>;
  } catch {
    throw new HandInError('handin.json is not JSON');
  }
  if (index.format !== HANDIN_FORMAT) throw new HandInError(`handin.json: format must be "${HANDIN_FORMAT}", got ${JSON.stringify(index.format)}`);
  if (!Array.isArray(index.vms) || index.vms.length === 0 || index.vms.length > MAX_VMS) throw new HandInError('handin.json: "vms" must list 1 to 16 VMs');
  const vms = index.vms.map((v: unknown, i) => {
    const e = v as { name?: unknown; file?: unknown };
    if (typeof e?.name !== 'string' || !NAME.test(e.name) || typeof e.file !== 'string') throw new HandInError(`handin.json: bad vms[${i}]`);
    const snapshot = files.get(e.file);
    if (snapshot === undefined) throw new HandInError(`the hand-in has no file ${e.file} for VM '${e.name}'`);
    return { name: e.name, snapshot };
  });
  const results = Array.isArray(index.results) ? (index.results as TaskResult[]) : [];
  return {
    createdAt: typeof index.createdAt === 'string' ? index.createdAt : '',
    ...(typeof index.student === 'string' ? { student: index.student } : {}),
    ...(typeof index.seed === 'string' ? { seed: index.seed } : {}),
    lab: index.lab,
    results,
    log: new TextDecoder().decode(files.get('log.txt') ?? new Uint8Array(0)),
    vms,
  };
}
