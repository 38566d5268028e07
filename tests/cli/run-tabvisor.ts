// Runs the real `tabvisor` binary (node bin/tabvisor.js) as a child process for the CLI tests:
// input on a pipe, optionally kept open, and optionally a signal sent once stdout shows a pattern.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';

/** TABVISOR_TEST_BIN runs another build (e.g. the main branch's, to see a test fail before a fix). */
export const BIN = process.env.TABVISOR_TEST_BIN ?? join(PROJECT_ROOT, 'bin', 'tabvisor.js');

export interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface RunSpec {
  args: string[];
  cwd: string;
  /** Written to stdin; stdin is closed after it unless `signalWhen` is given (then it stays open). */
  input?: string;
  /** Sends `signal` to the process the first time stdout matches `stdout` (`afterMs` later when given). */
  signalWhen?: { stdout: RegExp; signal: NodeJS.Signals; afterMs?: number };
  /** Shell commands run before tabvisor in a `sh -c` wrapper (e.g. `ulimit -f 64`). */
  shellPrefix?: string;
  /** The test's own guard against a hang: SIGKILL after this many ms. */
  guardMs?: number;
}

export function runTabvisor(spec: RunSpec): Promise<Result> {
  return new Promise((resolve, reject) => {
    const [command, argv] = spec.shellPrefix === undefined
      ? [process.execPath, [BIN, ...spec.args]]
      : ['sh', ['-c', `${spec.shellPrefix}; exec "$0" "$@"`, process.execPath, BIN, ...spec.args]];
    const child = spawn(command, argv, { cwd: spec.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('latin1');
      if (spec.signalWhen && !signalled && spec.signalWhen.stdout.test(stdout)) {
        signalled = true;
        const { signal, afterMs } = spec.signalWhen;
        if (afterMs === undefined) child.kill(signal);
        else setTimeout(() => child.kill(signal), afterMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('latin1'); });
    child.stdin.on('error', () => undefined);
    const guard = setTimeout(() => child.kill('SIGKILL'), spec.guardMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
    if (spec.signalWhen) child.stdin.write(spec.input ?? '');
    else child.stdin.end(spec.input ?? '');
  });
}

/** The lines a failed run printed on stderr (expected: exactly one, `tabvisor: ...`). */
export function stderrLines(r: Result): string[] {
  return r.stderr.split('\n').filter((l) => l !== '');
}

/** A TCP port on loopback that was free a moment ago (for --migrate-listen and the like). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A tabvisor process left running: its output so far, and its exit. */
export interface Proc { child: ChildProcessWithoutNullStreams; out: () => string; err: () => string; done: Promise<number | null> }

/** Starts `tabvisor args` in `cwd` with stdin on an open pipe. */
export function startTabvisor(cwd: string, args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString('latin1'); });
  child.stdin.on('error', () => undefined);
  const done = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => out, err: () => err, done };
}

/** Polls `what` every 100 ms; throws naming `label` after `ms`. */
export async function until(what: () => boolean, ms: number, label: string): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
