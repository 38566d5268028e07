// The tasks of a lab: instructions for the student, a check script run inside one of the lab's
// VMs (exit 0 passes; lines starting `FAIL:` are what the student is shown), and hints. The same
// check runs in the page (the student's "Check" button) and in `tabvisor grade` on handed-in
// machines, so a result is never taken on trust.

import { HypervisorError } from './errors.js';
import { runInGuest, type GuestConsole, MAX_SCRIPT_BYTES } from './guest-command.js';

export interface LabTask {
  /** Unique in the lab: letters, digits, '.', '_' or '-'. */
  id: string;
  title: string;
  /** Markdown. */
  instructions?: string;
  /** The VM (by its name in the lab) the check runs in. */
  vm: string;
  /** A POSIX shell script. */
  check: string;
  hints?: string[];
}

export interface TaskResult {
  id: string;
  passed: boolean;
  exitCode: number;
  /** The `FAIL:` lines the check printed, without the prefix. */
  failures: string[];
  /** Everything the check printed (bounded). */
  output: string;
  /** Set when the check could not run at all (no shell answered, VM not running). */
  error?: string;
}

const TASK_FIELDS = ['id', 'title', 'instructions', 'vm', 'check', 'hints'];
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MAX_TASKS = 100;

function bad(message: string): HypervisorError {
  return new HypervisorError('bad-lab', `lab: ${message}`);
}

/** Checks the manifest's `tasks` (undefined = none) against the lab's VM names. */
export function parseTasks(raw: unknown, vmNames: ReadonlySet<string>): LabTask[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw bad('"tasks" must be a list');
  if (raw.length > MAX_TASKS) throw bad(`"tasks" may hold at most ${MAX_TASKS} tasks`);
  const seen = new Set<string>();
  return raw.map((item: unknown, i): LabTask => {
    const at = `tasks[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw bad(`"${at}" must be an object`);
    const t = item as Record<string, unknown>;
    for (const key of Object.keys(t)) {
      if (!TASK_FIELDS.includes(key)) throw bad(`unknown field "${at}.${key}" (fields: ${TASK_FIELDS.join(', ')})`);
    }
    const text = (key: string, required: boolean): string | undefined => {
      const v = t[key];
      if (v === undefined && !required) return undefined;
      if (typeof v !== 'string' || v.length === 0) throw bad(`"${at}.${key}" must be a non-empty string`);
      return v;
    };
    const id = text('id', true)!;
    if (!ID.test(id)) throw bad(`"${at}.id" must be 1-63 letters, digits, '.', '_' or '-', got ${JSON.stringify(id)}`);
    if (seen.has(id)) throw bad(`"${at}.id" repeats ${JSON.stringify(id)}`);
    seen.add(id);
    const vm = text('vm', true)!;
    if (!vmNames.has(vm)) throw bad(`"${at}.vm" names no VM of the lab (${JSON.stringify(vm)}; have: ${[...vmNames].join(', ')})`);
    const check = text('check', true)!;
    if (new TextEncoder().encode(check).length > MAX_SCRIPT_BYTES) throw bad(`"${at}.check" is longer than ${MAX_SCRIPT_BYTES} bytes`);
    const task: LabTask = { id, title: text('title', true)!, vm, check };
    const instructions = text('instructions', false);
    if (instructions !== undefined) task.instructions = instructions;
    if (t.hints !== undefined) {
      if (!Array.isArray(t.hints) || t.hints.some((h) => typeof h !== 'string' || h.length === 0)) throw bad(`"${at}.hints" must be a list of non-empty strings`);
      task.hints = t.hints as string[];
    }
    return task;
  });
}

/**
 * Runs a task's check in the VM `vmRef` (the id or name the hypervisor knows it by). A check that
 * cannot run (no shell, VM not running) is a failed result with `error`, not an exception.
 */
export async function runTaskCheck(hv: GuestConsole, task: LabTask, vmRef: string, timeoutMs = 30_000): Promise<TaskResult> {
  try {
    const r = await runInGuest(hv, vmRef, task.check, { timeoutMs });
    const failures = r.output.split('\n').filter((l) => l.startsWith('FAIL:')).map((l) => l.slice(5).trim());
    return { id: task.id, passed: r.exitCode === 0, exitCode: r.exitCode, failures, output: r.output };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { id: task.id, passed: false, exitCode: -1, failures: [], output: '', error: message };
  }
}

const SEED = /^[A-Za-z0-9_-]{1,64}$/;

/** Why `seed` cannot be a lab seed, or undefined when it can. */
export function labSeedProblem(seed: string): string | undefined {
  return SEED.test(seed) ? undefined : 'a lab seed is 1-64 letters, digits, "_" or "-"';
}

/**
 * Gives a VM the student's seed (per-student variation of a lab): it lands in /etc/lab-seed,
 * where tasks, checks and the student's shell can read it. Letters, digits, '_' and '-' only.
 */
export async function applyLabSeed(hv: GuestConsole, vmRef: string, seed: string): Promise<void> {
  const problem = labSeedProblem(seed);
  if (problem) throw new HypervisorError('bad-argument', problem);
  // Typed right after a boot, the line could lose its start (seen: `sh: t: not found`): one more
  // try once the shell has settled; the command can run twice.
  const write = () => runInGuest(hv, vmRef, `echo ${seed} > /etc/lab-seed`, { timeoutMs: 20_000 });
  let r = await write().catch(() => undefined);
  if (!r || r.exitCode !== 0) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    r = await write();
  }
  if (r.exitCode !== 0) throw new HypervisorError('host-failure', `could not write /etc/lab-seed in the VM: ${r.output || `exit ${r.exitCode}`}`);
}
