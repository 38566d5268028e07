// Files in and out of a running guest through its exchange folder (a bounded 9p share its worker
// keeps, mounted at /mnt/host by the image's init; src/worker/file-exchange.ts). Upload: the
// files go to a fresh folder of the share, then a script in the guest copies them to
// /root/upload and the folder is removed. Download: a script copies the guest path into a
// fresh folder of the share, the worker hands back that file (or the folder as a tar), and the
// folder is removed. The copy makes uploads ordinary guest files (kept by snapshots, which do
// not hold the share's contents). The scripts run at the guest's shell prompt (runInGuest).

import { isShareName } from '../devices/backends/file-share.js';
import type { ExchangeFile, ExchangeItem } from '../worker/file-exchange.js';
import { HypervisorError } from './errors.js';
import { runInGuest, type GuestConsole } from './guest-command.js';

export const UPLOAD_DIR = '/root/upload';
export const MAX_UPLOAD_FILES = 32;
export const MAX_UPLOAD_BYTES = 32 << 20;
const MAX_GUEST_PATH = 4096;
const GUEST_MOUNT = '/mnt/host';
const COPY_TIMEOUT_MS = 180_000;

/** What the hypervisor gives this module for one VM: its console and its exchange folder. */
export interface GuestFilesTarget {
  name: string;
  console: GuestConsole;
  putFiles(dir: string[], files: ExchangeFile[]): Promise<void>;
  take(path: string[]): Promise<ExchangeItem>;
  remove(path: string[]): Promise<void>;
}

export interface UploadReport {
  /** Where the files are in the guest. */
  dir: string;
  names: string[];
  bytes: number;
}

export interface Download {
  /** NAME for a file, NAME.tar for a folder. */
  fileName: string;
  kind: 'file' | 'tar';
  bytes: Uint8Array;
}

/** One transfer at a time per VM: two scripts typed at one prompt would mix. */
const queues = new Map<string, Promise<unknown>>();

function serial<T>(key: string, job: () => Promise<T>): Promise<T> {
  const run = (queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(job);
  queues.set(key, run);
  void run.finally(() => { if (queues.get(key) === run) queues.delete(key); }).catch(() => undefined);
  return run;
}

/** Why these files cannot be uploaded, in one line, or undefined. Checked before anything moves. */
export function uploadProblem(files: readonly { name: string; size: number }[]): string | undefined {
  if (files.length === 0) return 'no files to upload';
  if (files.length > MAX_UPLOAD_FILES) return `at most ${MAX_UPLOAD_FILES} files at a time (got ${files.length})`;
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total > MAX_UPLOAD_BYTES) return `at most ${MAX_UPLOAD_BYTES >> 20} MiB at a time (got ${(total / (1 << 20)).toFixed(1)} MiB)`;
  const seen = new Set<string>();
  for (const f of files) {
    if (!isShareName(f.name) || /[\x00-\x1f\x7f]/.test(f.name)) return `'${f.name}' cannot be a file name in the guest`;
    if (seen.has(f.name)) return `'${f.name}' is there twice`;
    seen.add(f.name);
  }
  return undefined;
}

/** Why `path` cannot be downloaded, or undefined. */
export function downloadProblem(path: string): string | undefined {
  if (!path.startsWith('/') || /[\x00-\x1f\x7f]/.test(path)) return `give an absolute path in the guest, such as /root/results (got '${path}')`;
  if (path.length > MAX_GUEST_PATH) return `the path is longer than ${MAX_GUEST_PATH} characters`;
  if (baseName(path) === undefined) return 'give a file or folder below /, not / itself';
  return undefined;
}

function baseName(path: string): string | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const last = parts[parts.length - 1];
  return last === undefined || last === '..' ? undefined : last;
}

/** Single-quoted for sh. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function transferId(kind: string): string {
  const b = new Uint8Array(6);
  globalThis.crypto.getRandomValues(b);
  return `.tv-${kind}-${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

const MOUNTED = `grep -q ' ${GUEST_MOUNT} 9p ' /proc/mounts || { echo 'no exchange folder is mounted at ${GUEST_MOUNT} in this VM'; exit 3; }`;

export function uploadFiles(t: GuestFilesTarget, files: ExchangeFile[]): Promise<UploadReport> {
  const problem = uploadProblem(files.map((f) => ({ name: f.name, size: f.bytes.length })));
  if (problem) return Promise.reject(new HypervisorError('bad-argument', `cannot upload to VM '${t.name}': ${problem}`));
  const bytes = files.reduce((n, f) => n + f.bytes.length, 0);
  const names = files.map((f) => f.name);
  return serial(t.name, async () => {
    const id = transferId('up');
    try {
      await t.putFiles([id], files);
    } catch (err) {
      throw new HypervisorError('bad-argument', `cannot upload to VM '${t.name}': ${messageOf(err)}`);
    }
    try {
      const sources = names.map((n) => q(`${GUEST_MOUNT}/${id}/${n}`)).join(' ');
      const script = `${MOUNTED}\nmkdir -p ${UPLOAD_DIR} && cp -f -- ${sources} ${UPLOAD_DIR}/`;
      const r = await runInGuest(t.console, t.name, script, { timeoutMs: COPY_TIMEOUT_MS, maxOutputBytes: 2048 });
      if (r.exitCode !== 0) throw new HypervisorError('host-failure', `cannot upload to VM '${t.name}': ${lastLine(r.output)}`);
    } finally {
      await t.remove([id]).catch(() => undefined);
    }
    return { dir: UPLOAD_DIR, names, bytes };
  });
}

export function downloadFromGuest(t: GuestFilesTarget, path: string): Promise<Download> {
  const problem = downloadProblem(path);
  if (problem) return Promise.reject(new HypervisorError('bad-argument', `cannot download from VM '${t.name}': ${problem}`));
  const name = baseName(path)!;
  return serial(t.name, async () => {
    const id = transferId('down');
    try {
      // A symlink named on the command line is followed (the user means what it points to);
      // links inside a folder stay links in the tar.
      const script = `${MOUNTED}\np=${q(path)}\n[ -e "$p" ] || { echo "$p: no such file or folder"; exit 2; }\n` +
        `[ -L "$p" ] && p=$(readlink -f "$p")\nmkdir ${GUEST_MOUNT}/${id} && cp -a -- "$p" ${q(`${GUEST_MOUNT}/${id}/${name}`)}`;
      const r = await runInGuest(t.console, t.name, script, { timeoutMs: COPY_TIMEOUT_MS, maxOutputBytes: 2048 });
      if (r.exitCode !== 0) {
        const why = /No space left/i.test(r.output) ? 'it is larger than the exchange folder (64 MiB)' : lastLine(r.output);
        throw new HypervisorError('bad-argument', `cannot download ${path} from VM '${t.name}': ${why}`);
      }
      let item: ExchangeItem;
      try {
        item = await t.take([id, name]);
      } catch (err) {
        throw new HypervisorError('bad-argument', `cannot download ${path} from VM '${t.name}': ${messageOf(err)}`);
      }
      return { fileName: item.kind === 'tar' ? `${name}.tar` : name, kind: item.kind, bytes: item.bytes };
    } finally {
      await t.remove([id]).catch(() => undefined);
    }
  });
}

function lastLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? 'the copy in the guest failed';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
