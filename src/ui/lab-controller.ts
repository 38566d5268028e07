// The page's logic: loads a lab into the Hypervisor, keeps a view of every VM and task for the
// components to draw, carries out what the user asks and says plainly when the hypervisor
// refuses. No DOM here: the components render `view` and call these methods; tests drive it in
// Node. The work is done by one-job modules: where a lab comes from (lab-source.ts), the shared
// state and view (page-state.ts, vm-view.ts), VM commands (vm-commands.ts), tasks, resets,
// hand-in and idle pausing (lab-actions.ts, task-board.ts, lab-reset.ts, page-hand-in.ts,
// idle-pauser.ts) and keep my work (work-keeper.ts).
import type { ImageEntry } from '../engines/engine.js';
import type { Hypervisor, VmSummary } from '../hypervisor/hypervisor.js';
import { parseLab, type Lab, type LabReport } from '../hypervisor/lab.js';
import { labSeedProblem } from '../hypervisor/lab-tasks.js';
import { IdlePauser } from './idle-pauser.js';
import { applyIdleSetting, checkTask, handIn, resetLab, resetVm, revealHint, runCheck, setIdlePause } from './lab-actions.js';
import { describeLabSource, labList, readLabJson } from './lab-source.js';
import { BUDGET_KEY, DEFAULT_BUDGET_MIB, MiB, PageState } from './page-state.js';
import { budgetProblem } from './schedule-limits.js';
import { quietCmdline, type TerminalSize } from './shell-greeting.js';
import { TaskBoard } from './task-board.js';
import { createVm, exportVm, importVm, sampleFigures, setMemoryBudget, setVmSchedule, setVmBalloon, reclaimVmMemory, vmAction } from './vm-commands.js';
import type { VmUiAction } from './vm-view.js';
import { WorkKeeper } from './work-keeper.js';

export { DEFAULT_BUDGET_MIB, type LabControllerOptions, type PageView } from './page-state.js';
export { DEFAULT_LAB } from './lab-source.js';
export { actionHint, allowedActions, type VmUiAction, type VmView } from './vm-view.js';
export type { SettingsStore } from './work-keeper.js';

export class LabController extends PageState {
  get hypervisor(): Hypervisor | undefined {
    return this.hv;
  }

  /** Loads the manifest and the lab and starts every VM of it (from templates when cached). */
  async open(): Promise<LabReport | undefined> {
    let lab: Lab;
    const list = labList(this.options.labNames);
    try {
      this.status('loading', 'Loading the image list');
      const manifest = (await this.options.loadJson('images/manifest.json')) as { images?: ImageEntry[] };
      if (!Array.isArray(manifest?.images)) throw new Error('images/manifest.json has no "images" list');
      // The page boots quietly: kernel warnings printed after the prompt would bury it.
      this.view.images = manifest.images.map((image) => ({ ...image, cmdline: quietCmdline(image.cmdline ?? '') }));
      this.status('loading', `Loading ${describeLabSource(this.source)}`);
      const json = await readLabJson(this.source, {
        loadBuiltin: this.options.loadJson,
        ...(this.options.fetchText ? { fetchText: this.options.fetchText } : {}),
        ...(this.options.fileText ? { fileText: this.options.fileText } : {}),
        ...(this.options.labNames ? { labNames: this.options.labNames } : {}),
      });
      try {
        lab = parseLab(json, manifest.images, { allowMissingImages: true });
      } catch (error) {
        throw new Error(`${this.source.kind === 'builtin' ? '' : `${describeLabSource(this.source)}: `}${messageOf(error)}${list}`);
      }
      this.labJson = json;
    } catch (error) {
      this.status('failed', `Could not open the lab: ${messageOf(error)}`);
      return undefined;
    }
    this.lab = lab;
    this.view.lab = {
      name: lab.name,
      ...(lab.title ? { title: lab.title } : {}),
      ...(lab.description ? { description: lab.description } : {}),
      source: describeLabSource(this.source),
    };
    this.logLine(`opened lab ${lab.name} from ${describeLabSource(this.source)}`);
    const seed = this.options.seed ?? '';
    if (seed !== '') {
      const problem = labSeedProblem(seed);
      if (problem) this.view.notice = { kind: 'error', text: `The seed in the address is not used: ${problem}` };
      else {
        this.seed = seed;
        this.view.seed = seed;
        this.logLine(`seed ${seed}`);
      }
    }
    const budget = Number(this.options.settings.getItem(BUDGET_KEY) ?? DEFAULT_BUDGET_MIB);
    this.view.budgetMiB = budgetProblem(budget) ? DEFAULT_BUDGET_MIB : budget;
    const hv = this.options.makeHypervisor(this.view.images, this.view.budgetMiB * MiB);
    this.hv = hv;
    this.watch(hv);
    this.tasks = new TaskBoard(lab.tasks, (task) => runCheck(this, task.vm, task), () => this.refresh(), () => this.time());
    this.idle = new IdlePauser({
      hv,
      clock: this.clock,
      ...(this.options.idleTickMs !== undefined ? { tickMs: this.options.idleTickMs } : {}),
      onChange: () => this.refresh(),
      note: (vmId, text) => {
        this.note(vmId, text);
        this.logLine(`${hv.has(vmId) ? hv.get(vmId).name : vmId}: ${text}`);
      },
    });
    applyIdleSetting(this);

    const keeper = new WorkKeeper({
      lab,
      hv,
      store: this.options.work,
      settings: this.options.settings,
      clock: this.clock,
      saveDelayMs: this.options.saveDelayMs,
      saveIntervalMs: this.options.saveIntervalMs,
      onChange: () => this.refresh(),
    });
    this.keeper = keeper;
    const work = await keeper.beforeLoad();
    const report = await this.startLabVms(lab, work);
    if (this.closed) return report;
    this.view.phase = 'ready';
    keeper.loaded();
    this.refresh();
    return report;
  }

  /** Listens to the hypervisor: crashes, deletes, ready markers, boot progress. */
  private watch(hv: Hypervisor): void {
    hv.events.on('transition', (t) => {
      if (t.to === 'crashed') {
        this.messages.set(t.vmName, t.detail ?? 'no reason given');
        this.note(t.vmId, `crashed: ${t.detail ?? 'no reason given'}`);
      } else if (t.input === 'restore' || t.input === 'reset' || t.input === 'start') this.messages.delete(t.vmName);
      if (t.to === 'stopped' && t.input === 'poweroff') this.note(t.vmId, 'the guest powered off');
      if (t.to === 'deleted') {
        this.figures.delete(t.vmId);
        this.snapshots.delete(t.vmId);
        this.notes.delete(t.vmId);
        this.greeter.forget(t.vmId);
        this.guestJobs.delete(t.vmId);
      }
      // Not at once: 'create' is emitted while the hypervisor is still registering the VM.
      queueMicrotask(() => this.refresh());
    });
    // A booted guest printed its ready marker: once the shell's prompt is out, tell it the size.
    hv.events.on('ready', (r) => {
      this.greeter.expect(r.vmId);
      const from = hv.has(r.vmId) ? hv.consoleOffset(r.vmId) : 0;
      hv.waitForConsole(r.vmId, '# ', { from, timeoutMs: 30_000 })
        .then(() => this.arrive(r.vmId, 'booted', false))
        .catch(() => undefined); // no prompt (another shell, or the VM went away): nothing to do
      this.refresh();
    });
    hv.events.on('progress', (p) => {
      const slot = this.slots.get(p.vmName);
      if (slot?.state === 'loading') slot.message = p.message;
      this.refresh();
    });
  }

  /** Console bytes of a VM: the kept output first, then live. Returns the detach function. */
  attachConsole(vmId: string, listener: (data: Uint8Array) => void): () => void {
    if (!this.hv?.has(vmId)) return () => {};
    const attachment = this.hv.attachConsole(vmId, listener);
    return () => attachment.detach();
  }

  /** What the user typed in a VM's console; a VM paused while idle resumes first. */
  sendConsole(vmId: string, data: string): void {
    const hv = this.hv;
    if (!hv?.has(vmId)) return;
    // The user is typing: the page's own greeting must not land inside their command.
    this.greeter.userTyped(vmId);
    const woken = this.idle?.wake(vmId) ?? Promise.resolve();
    // Input for a paused VM waits in the hypervisor, so it is sent at once and keeps its order.
    hv.sendConsole(vmId, data).catch((error: unknown) => this.error(error));
    woken.catch((error: unknown) => this.error(error));
    this.keeper?.touched();
  }

  /** The size a panel fitted its console to; the shell is told once it is at its prompt. */
  consoleResized(vmId: string, size: TerminalSize): void {
    this.greeter.resized(vmId, size);
  }

  /**
   * True when closing or reloading the page now would lose something: with keep my work off,
   * anything done since the lab loaded; with it on, anything done since the last save.
   */
  wouldLoseWork(): boolean {
    return this.keeper?.wouldLoseWork() ?? false;
  }

  /** True when keep my work is on: work is saved (or being saved), and switching it off deletes it. */
  get hasSavedWork(): boolean {
    return this.keeper?.on ?? false;
  }

  /** Turns "keep my work" on (saves now, then after activity) or off (forgets the saved work). */
  async setKeepWork(on: boolean): Promise<void> {
    await this.keeper?.setOn(on);
  }

  /** Saves every lab VM's state (when keep my work is on): page hidden, closing, after typing. */
  saveWork(): Promise<void> {
    return this.keeper?.save() ?? Promise.resolve();
  }

  /** A page-side failure (a lab file that cannot be read) in the notice bar, in one line. */
  showError(error: unknown): void {
    this.error(error);
  }

  /** A line of guidance in the notice bar (why a button cannot be used now). */
  showHint(text: string): void {
    this.view.notice = { kind: 'info', text };
    this.options.onChange();
  }

  /** Test hook with a real effect: terminates the worker running this VM. */
  terminateWorkerOf(vmRef: string): number {
    const host = this.hv?.get(vmRef).host;
    if (host === undefined || !this.options.terminateHost) throw new Error(`VM '${vmRef}' runs on no worker that can be terminated`);
    this.options.terminateHost(host, 'the worker was terminated');
    return host;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.keeper?.stop();
    this.idle?.stop();
    await this.hv?.shutdown();
  }

  // --- what the user asks (vm-commands.ts, lab-actions.ts) ----------------------------------

  /** A lifecycle action, snapshot, restore (the last snapshot) or clone of one VM. */
  act(vmId: string, action: Exclude<VmUiAction, 'export'>): Promise<void> {
    return vmAction(this, vmId, action);
  }

  /** A snapshot file of the VM, for download. */
  exportSnapshot(vmId: string): Promise<{ fileName: string; bytes: Uint8Array } | undefined> {
    return exportVm(this, vmId);
  }

  /** A new running VM from a snapshot file the user uploaded. */
  importSnapshot(bytes: Uint8Array, fileName: string): Promise<VmSummary | undefined> {
    return importVm(this, bytes, fileName);
  }

  /** Creates and boots a VM; returns the refusal's text when the hypervisor says no. */
  createVm(request: Parameters<typeof createVm>[1]): Promise<string | undefined> {
    return createVm(this, request);
  }

  /** Changes a VM's CPU weight and cap (undefined cap: none), within the page's ranges. */
  setSchedule(vmId: string, weight: number, capPercent: number | undefined): Promise<string | undefined> {
    return setVmSchedule(this, vmId, weight, capPercent);
  }

  /** Asks a VM's guest to hold `mib` MiB in its balloon. */
  setBalloon(vmId: string, mib: number): Promise<void> {
    return setVmBalloon(this, vmId, mib);
  }

  /** Gives the memory a VM's guest freed back to the host. */
  reclaimMemory(vmId: string): Promise<void> {
    return reclaimVmMemory(this, vmId);
  }

  /** Changes the memory budget of the page's VMs (MiB); remembered for the next load. */
  setMemoryBudget(mib: number): string | undefined {
    return setMemoryBudget(this, mib);
  }

  /** Samples CPU share, MIPS and memory of every live VM (once a second in the page). */
  sampleFigures(): Promise<void> {
    return sampleFigures(this);
  }

  /** Runs a task's check in its VM; the task shows passed, or failed with the check's FAIL: lines. */
  checkTask(taskId: string): Promise<void> {
    return checkTask(this, taskId);
  }

  /** Shows the next hint of a task. */
  revealHint(taskId: string): void {
    revealHint(this, taskId);
  }

  /** Puts one lab VM back to its template (or boots its image again when it has none). */
  resetVm(vmId: string): Promise<void> {
    return resetVm(this, vmId);
  }

  /** The whole lab as it loaded: every VM removed, the lab's VMs started again from templates. */
  resetLab(): Promise<void> {
    return resetLab(this);
  }

  /** One hand-in file (lab, results, log, every lab VM's machine) for download. */
  handIn(student: string): Promise<{ fileName: string; bytes: Uint8Array } | undefined> {
    return handIn(this, student);
  }

  /** Idle pause after `seconds` (0: never; null: the lab's setting); remembered. Returns a refusal. */
  setIdlePause(seconds: number | null): string | undefined {
    return setIdlePause(this, seconds);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
