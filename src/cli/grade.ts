// `tabvisor grade FILE... [--csv] [--check-timeout SEC]`: restores the machines of each hand-in
// file and runs the lab's checks again in them (the results recorded in the file are never
// trusted), then prints one row per file: a table for people, or CSV.

import { lstat, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { NodeAssetLoader } from '../engines/assets-node.js';
import { HandInError, readHandIn } from '../hypervisor/hand-in.js';
import { Hypervisor } from '../hypervisor/hypervisor.js';
import { parseLab, type Lab } from '../hypervisor/lab.js';
import { runTaskCheck, type TaskResult } from '../hypervisor/lab-tasks.js';
import { runInGuest } from '../hypervisor/guest-command.js';
import { nodeWorkerHosts } from '../hypervisor/node-hosts.js';
import { describeFsError } from '../snapshot/node-file.js';
import { UsageError } from './errors.js';
import { loadManifest } from './manifest.js';

export const GRADE_HELP = `Usage: tabvisor grade FILE... [--csv] [--check-timeout SEC]

Restores the machines of each hand-in file and runs the lab's checks again in them,
then prints one row per file (pass or FAIL per task). --csv prints CSV instead.
Exit status: 0 when every file was graded, 1 when a file could not be graded, 2 for bad arguments.
`;

const MAX_HANDIN_BYTES = 4 * 1024 ** 3;

interface GradeOptions {
  files: string[];
  csv: boolean;
  checkTimeoutMs: number;
}

interface Row {
  file: string;
  student: string;
  results: Map<string, TaskResult>;
  error?: string;
}

export function parseGradeArgs(argv: string[]): GradeOptions | 'help' {
  const o: GradeOptions = { files: [], csv: false, checkTimeoutMs: 30_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--csv') o.csv = true;
    else if (a === '--check-timeout') {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 1 || v > 3600) throw new UsageError('--check-timeout takes seconds from 1 to 3600');
      o.checkTimeoutMs = v * 1000;
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a} for grade (see tabvisor grade --help)`);
    else o.files.push(a);
  }
  if (o.files.length === 0) throw new UsageError('grade needs one or more hand-in files (see tabvisor grade --help)');
  return o;
}

export async function gradeCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const parsed = parseGradeArgs(argv);
  if (parsed === 'help') {
    out.write(GRADE_HELP);
    return 0;
  }
  const images = await loadManifest(new NodeAssetLoader());
  const hv = new Hypervisor({ images, memoryBudgetBytes: 8 * 1024 ** 3, poolSize: 1, hosts: nodeWorkerHosts() });
  const rows: Row[] = [];
  const taskIds: string[] = [];
  try {
    for (const file of parsed.files) {
      const row: Row = { file: basename(file), student: '', results: new Map() };
      rows.push(row);
      try {
        const lab = await gradeFile(hv, file, row, parsed.checkTimeoutMs, images);
        for (const t of lab.tasks) if (!taskIds.includes(t.id)) taskIds.push(t.id);
      } catch (e) {
        row.error = e instanceof Error ? e.message.split('\n')[0] : String(e);
        err.write(`tabvisor: ${file}: ${row.error}\n`);
      }
    }
  } finally {
    await hv.shutdown();
  }
  out.write(parsed.csv ? csv(rows, taskIds) : table(rows, taskIds));
  return rows.some((r) => r.error !== undefined) ? 1 : 0;
}

async function gradeFile(hv: Hypervisor, file: string, row: Row, checkTimeoutMs: number, images: Parameters<typeof parseLab>[1]): Promise<Lab> {
  let bytes: Uint8Array;
  try {
    const st = await lstat(file);
    if (!st.isFile()) throw new UsageError('not a regular file');
    if (st.size > MAX_HANDIN_BYTES) throw new UsageError('larger than 4 GiB: not a hand-in file');
    bytes = await readFile(file);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(describeFsError(e));
  }
  const handIn = readHandIn(bytes);
  row.student = handIn.student ?? '';
  const lab = parseLab(handIn.lab, images);
  const vmIds = new Map<string, string>();
  try {
    for (const vm of lab.vms) {
      const saved = handIn.vms.find((v) => v.name === vm.name);
      if (saved === undefined) throw new HandInError(`the hand-in has no machine for VM '${vm.name}'`);
      const summary = await hv.importSnapshot(saved.snapshot, { identity: 'new' });
      vmIds.set(vm.name, summary.id);
      // A restored shell answers once the console has delivered a line; a few tries cover a
      // guest that prints a message or two first.
      await untilAnswers(hv, summary.id);
    }
    for (const task of lab.tasks) row.results.set(task.id, await runTaskCheck(hv, task, vmIds.get(task.vm)!, checkTimeoutMs));
  } finally {
    for (const id of vmIds.values()) {
      await hv.stop(id).catch(() => undefined);
      await hv.delete(id).catch(() => undefined);
    }
  }
  return lab;
}

async function untilAnswers(hv: Hypervisor, vm: string): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const r = await runInGuest(hv, vm, 'echo up', { timeoutMs: 15_000 });
      if (r.output === 'up') return;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`the restored VM's shell does not answer${last instanceof Error ? ` (${last.message})` : ''}`);
}

function cell(r: TaskResult | undefined): string {
  if (r === undefined) return '-';
  return r.passed ? 'pass' : r.error ? 'error' : 'FAIL';
}

function table(rows: Row[], ids: string[]): string {
  const head = ['file', 'student', ...ids, 'passed'];
  const body = rows.map((r) => r.error !== undefined
    ? [r.file, r.student, ...ids.map(() => '-'), `error: ${r.error}`]
    : [r.file, r.student, ...ids.map((id) => cell(r.results.get(id))), `${[...r.results.values()].filter((x) => x.passed).length}/${ids.length}`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (i === head.length - 1 ? 0 : b[i].length))));
  const line = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[line(head), ...body.map(line)].join('\n')}\n`;
}

function csv(rows: Row[], ids: string[]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [['file', 'student', ...ids, 'passed', 'total', 'error'].join(',')];
  for (const r of rows) {
    const passed = [...r.results.values()].filter((x) => x.passed).length;
    lines.push([r.file, r.student, ...ids.map((id) => cell(r.results.get(id))), String(passed), String(ids.length), r.error ?? ''].map(q).join(','));
  }
  return `${lines.join('\n')}\n`;
}
