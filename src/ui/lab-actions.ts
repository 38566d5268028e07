// What the user does with the lab as a whole: check a task, reveal a hint, reset one VM to its
// template or the whole lab, hand in, and the idle-pause setting. Checks and hand-ins reach the
// guests through the Hypervisor (runTaskCheck, snapshots); nothing here trusts the page's results.
import { IDLE_PAUSE_MAX_SECONDS, IDLE_PAUSE_MIN_SECONDS } from '../hypervisor/lab.js';
import { runTaskCheck, type LabTask, type TaskResult } from '../hypervisor/lab-tasks.js';
import { formatSeconds } from './idle-pauser.js';
import { removeAllVms, resetVmToTemplate } from './lab-reset.js';
import { buildHandIn } from './page-hand-in.js';
import { IDLE_KEY, formatSize, type PageState } from './page-state.js';

/** Runs a task's check in its VM; the task shows passed, or failed with the check's FAIL: lines. */
export async function checkTask(p: PageState, taskId: string): Promise<void> {
  const result = await p.tasks?.check(taskId);
  if (result) p.logLine(`check ${taskId}: ${result.passed ? 'passed' : `failed${result.error ? ` (${result.error})` : ''}${result.failures.length ? `: ${result.failures.join('; ')}` : ''}`}`);
}

/** Shows the next hint of a task. */
export function revealHint(p: PageState, taskId: string): void {
  if (p.tasks?.revealHint(taskId)) p.logLine(`hint shown for ${taskId}`);
}

/** The check of a task, in the lab VM it names (resumed first when it was paused while idle). */
export async function runCheck(p: PageState, vmName: string, task: LabTask): Promise<TaskResult> {
  const hv = p.hv!;
  if (!hv.has(vmName)) return { id: task.id, passed: false, exitCode: -1, failures: [], output: '', error: `${vmName} is not there: reset the lab` };
  const vmId = hv.get(vmName).id;
  await p.idle?.wake(vmId).catch(() => undefined);
  p.idle?.activity(vmId);
  if (hv.get(vmId).state !== 'running') return { id: task.id, passed: false, exitCode: -1, failures: [], output: '', error: `${vmName} is ${hv.get(vmId).state}, not running` };
  return p.inGuest(vmId, () => runTaskCheck(hv, task, vmId));
}

/** Puts one lab VM back to its template (or boots its image again when it has none). */
export async function resetVm(p: PageState, vmId: string): Promise<void> {
  const lab = p.lab;
  if (!lab) return;
  await p.attempt(vmId, 'reset', async (hv) => {
    p.idle?.activity(vmId);
    const name = hv.get(vmId).name;
    const how = await resetVmToTemplate(hv, lab, vmId, p.options.templates);
    p.tasks?.forget(new Set([name]));
    p.logLine(`${name}: reset to its ${how === 'template' ? 'template' : 'image (no template)'}`);
    if (how === 'image') {
      p.note(vmId, `reset ${p.time()}: booting its image again`);
      p.info(`${name} is booting its image again`);
      return; // the ready marker greets it (and writes the seed)
    }
    const from = (await p.arrive(vmId, 'template')) ?? hv.consoleOffset(vmId);
    // The greeting clears the screen (printf '\33[H\33[J'): the note goes after that, so it stays visible.
    const note = `reset to its template ${p.time()}`;
    hv.waitForConsole(vmId, '\x1b[H\x1b[J', { from, timeoutMs: 15_000 })
      .catch(() => undefined)
      .finally(() => {
        if (!hv.has(vmId)) return;
        p.note(vmId, note);
        p.refresh();
      });
    p.info(`${name} is back to its template`);
  });
}

/** The whole lab as it loaded: every VM removed (clones and new VMs too), the lab's VMs started again. */
export async function resetLab(p: PageState): Promise<void> {
  const hv = p.hv;
  const lab = p.lab;
  if (!hv || !lab || p.view.labBusy) return;
  p.view.labBusy = 'Resetting the lab';
  p.refresh();
  try {
    await removeAllVms(hv);
    // Every lab VM starts again as the lab began: its disk too.
    hv.emptyDisksOf(lab.vms.map((vm) => vm.name));
    p.tasks?.forget();
    p.logLine('reset the whole lab');
    await p.startLabVms(lab, undefined);
    p.view.phase = 'ready';
    p.keeper?.touched();
    p.clearError();
    p.info(`Lab ${lab.name} was reset: every VM is back to its template`);
  } catch (error) {
    p.error(error);
  } finally {
    p.view.labBusy = undefined;
    p.refresh();
  }
}

/** One hand-in file (lab, results, log, every lab VM's machine) for download. */
export async function handIn(p: PageState, student: string): Promise<{ fileName: string; bytes: Uint8Array } | undefined> {
  const hv = p.hv;
  const lab = p.lab;
  if (!hv || !lab || p.view.labBusy) return undefined;
  p.view.labBusy = 'Handing in';
  p.refresh();
  try {
    const file = await buildHandIn({
      hv,
      lab,
      labJson: p.labJson,
      student: student.trim(),
      seed: p.seed,
      results: p.tasks?.recorded() ?? [],
      log: [...p.log, ...(p.tasks?.hintSummary() ?? [])],
      now: new Date(p.clock()),
    });
    p.logLine(`handed in ${file.fileName}`);
    p.clearError();
    p.info(`Handed in: ${file.fileName} (${formatSize(file.bytes.length)}); give this file to your teacher`);
    return file;
  } catch (error) {
    p.error(error);
    return undefined;
  } finally {
    p.view.labBusy = undefined;
    p.refresh();
  }
}

/**
 * The page's idle setting: seconds, 0 for never, or null to follow the lab (its
 * idlePauseSeconds, or never). Remembered for the next load. Returns the refusal, if any.
 */
export function setIdlePause(p: PageState, seconds: number | null): string | undefined {
  if (seconds !== null && seconds !== 0 && !(Number.isInteger(seconds) && seconds >= IDLE_PAUSE_MIN_SECONDS && seconds <= IDLE_PAUSE_MAX_SECONDS)) {
    const problem = `Idle pause must be a whole number of seconds from ${IDLE_PAUSE_MIN_SECONDS} to ${IDLE_PAUSE_MAX_SECONDS}, or 0 for never (got ${seconds})`;
    p.view.notice = { kind: 'error', text: problem };
    p.refresh();
    return problem;
  }
  p.options.settings.setItem(IDLE_KEY, seconds === null ? '' : String(seconds));
  applyIdleSetting(p);
  const idle = p.view.idle;
  p.clearError();
  p.info(idle.seconds === undefined ? 'Idle VMs are never paused' : `VMs pause after ${formatSeconds(idle.seconds)} without activity${idle.from === 'lab' ? ' (the lab\'s setting)' : ''}`);
  p.refresh();
  return undefined;
}

export function applyIdleSetting(p: PageState): void {
  const text = p.options.settings.getItem(IDLE_KEY) ?? '';
  const page = text === '' ? undefined : Number(text);
  const valid = page !== undefined && (page === 0 || (Number.isInteger(page) && page >= IDLE_PAUSE_MIN_SECONDS && page <= IDLE_PAUSE_MAX_SECONDS));
  const seconds = valid ? (page === 0 ? undefined : page) : p.lab?.idlePauseSeconds;
  p.view.idle = { seconds, from: valid ? 'page' : seconds !== undefined ? 'lab' : 'off' };
  p.idle?.setLimit(seconds);
}
