// "Hand in" from the page: one file in the hand-in format (src/hypervisor/hand-in.ts) with the lab
// manifest as loaded, the results the page saw, the page's log and a snapshot of every lab VM.
// `tabvisor grade FILE` restores those machines and runs the checks again.
import { HypervisorError } from '../hypervisor/errors.js';
import { writeHandIn } from '../hypervisor/hand-in.js';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import type { Lab } from '../hypervisor/lab.js';
import type { TaskResult } from '../hypervisor/lab-tasks.js';

const STUDENT = /^[\p{L}\p{N} ._'-]{1,64}$/u;

/** Why a student name cannot go into a hand-in, or undefined when it can (empty is allowed). */
export function studentProblem(student: string): string | undefined {
  if (student === '' || STUDENT.test(student)) return undefined;
  return 'your name may have 1-64 letters, digits, spaces, ".", "_", "\'" or "-"';
}

export interface PageHandInInput {
  hv: Hypervisor;
  lab: Lab;
  /** The manifest's JSON as loaded (grading parses and checks it again). */
  labJson: unknown;
  student: string;
  seed: string | undefined;
  results: TaskResult[];
  log: string[];
  now: Date;
}

/** The hand-in file and its name; throws a HypervisorError with one line when a lab VM has no machine. */
export async function buildHandIn(input: PageHandInInput): Promise<{ fileName: string; bytes: Uint8Array }> {
  const { hv, lab } = input;
  const problem = studentProblem(input.student);
  if (problem) throw new HypervisorError('bad-argument', problem);
  for (const spec of lab.vms) {
    const state = hv.has(spec.name) ? hv.get(spec.name).state : 'deleted';
    if (state !== 'running' && state !== 'paused') {
      throw new HypervisorError('bad-argument', `cannot hand in: ${spec.name} is ${state}; start it or reset the lab first`);
    }
  }
  const vms: { name: string; snapshot: Uint8Array }[] = [];
  for (const spec of lab.vms) vms.push({ name: spec.name, snapshot: await hv.snapshot(spec.name) });
  const createdAt = input.now.toISOString();
  const log = [...input.log, `${createdAt} handed in: ${vms.map((v) => `${v.name} (${v.snapshot.length} bytes)`).join(', ')}`];
  const bytes = writeHandIn({
    createdAt,
    ...(input.student ? { student: input.student } : {}),
    ...(input.seed ? { seed: input.seed } : {}),
    lab: input.labJson,
    results: input.results,
    log: `${log.join('\n')}\n`,
    vms,
  });
  const who = input.student.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'student';
  const stamp = createdAt.replace(/[:.]/g, '-');
  return { fileName: `${lab.name}-${who}-${stamp}.handin.tar`, bytes };
}
