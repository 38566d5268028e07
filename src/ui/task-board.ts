// The lab's tasks as the student sees them: each task's state (not checked, checking, passed,
// failed with the check's FAIL: lines), how many hints are shown, and the results the page saw
// (written into a hand-in for the student's record; grading runs the checks again).
import type { LabTask, TaskResult } from '../hypervisor/lab-tasks.js';

export type TaskState = 'not checked' | 'checking' | 'passed' | 'failed';

export interface TaskView {
  id: string;
  title: string;
  vm: string;
  /** Markdown (rendered by <tv-markdown>). */
  instructions: string;
  state: TaskState;
  /** What the student is shown of a failed check: its FAIL: lines, or why it could not run. */
  failures: string[];
  /** The hints revealed so far, in order. */
  hints: string[];
  hintsTotal: number;
  /** When it was last checked (HH:MM:SS). */
  checkedAt?: string;
}

export class TaskBoard {
  private readonly results = new Map<string, TaskResult>();
  private readonly checking = new Set<string>();
  private readonly hintsShown = new Map<string, number>();
  private readonly checkedAt = new Map<string, string>();
  /** Checks run one after another: two scripts typed on one console at once would mix their lines. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly tasks: readonly LabTask[],
    /** Runs a task's check in its VM; never throws (runTaskCheck). */
    private readonly runCheck: (task: LabTask) => Promise<TaskResult>,
    private readonly onChange: () => void,
    private readonly time: () => string,
  ) {}

  get views(): TaskView[] {
    return this.tasks.map((task) => {
      const result = this.results.get(task.id);
      const shown = this.hintsShown.get(task.id) ?? 0;
      const state: TaskState = this.checking.has(task.id) ? 'checking' : !result ? 'not checked' : result.passed ? 'passed' : 'failed';
      const failures = result && !result.passed ? (result.error ? [`the check could not run: ${result.error}`] : result.failures.length ? result.failures : [`the check failed (exit status ${result.exitCode})`]) : [];
      const at = this.checkedAt.get(task.id);
      return {
        id: task.id,
        title: task.title,
        vm: task.vm,
        instructions: task.instructions ?? '',
        state,
        failures: state === 'checking' ? [] : failures,
        hints: (task.hints ?? []).slice(0, shown),
        hintsTotal: task.hints?.length ?? 0,
        ...(at ? { checkedAt: at } : {}),
      };
    });
  }

  /** Runs the task's check; the state is 'checking' meanwhile. A second click while it runs waits for the same run. */
  async check(id: string): Promise<TaskResult | undefined> {
    const task = this.tasks.find((t) => t.id === id);
    if (!task || this.checking.has(id)) return this.results.get(id);
    this.checking.add(id);
    this.onChange();
    try {
      const run = this.queue.then(() => this.runCheck(task));
      this.queue = run.catch(() => undefined);
      const result = await run;
      this.results.set(id, result);
      this.checkedAt.set(id, this.time());
      return result;
    } finally {
      this.checking.delete(id);
      this.onChange();
    }
  }

  /** Shows the next hint of a task; false when all are shown. */
  revealHint(id: string): boolean {
    const task = this.tasks.find((t) => t.id === id);
    const shown = this.hintsShown.get(id) ?? 0;
    if (!task || shown >= (task.hints?.length ?? 0)) return false;
    this.hintsShown.set(id, shown + 1);
    this.onChange();
    return true;
  }

  /** Forgets the results of the tasks in these VMs (they were reset), or of every task. */
  forget(vmNames?: ReadonlySet<string>): void {
    for (const task of this.tasks) {
      if (vmNames && !vmNames.has(task.vm)) continue;
      this.results.delete(task.id);
      this.checkedAt.delete(task.id);
    }
    this.onChange();
  }

  /** The last result of every task that was checked (for a hand-in). */
  recorded(): TaskResult[] {
    return this.tasks.flatMap((t) => (this.results.has(t.id) ? [this.results.get(t.id)!] : []));
  }

  /** How many hints of each task were shown ('hello: 1 of 2'), for the hand-in's log. */
  hintSummary(): string[] {
    return this.tasks.filter((t) => (this.hintsShown.get(t.id) ?? 0) > 0).map((t) => `${t.id}: ${this.hintsShown.get(t.id)} of ${t.hints?.length ?? 0} hints shown`);
  }
}
