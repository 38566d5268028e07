// The page's state shared by its one-job modules (vm-commands.ts, lab-actions.ts and
// LabController): the view the components draw, what the page keeps per VM (messages, notes,
// snapshots, figures), the lab and its hypervisor, and the small helpers every action uses
// (notices, console notes, the hand-in log, refresh). No DOM here.
import type { ImageEntry } from '../engines/engine.js';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import { loadLab, type Lab, type LabReport, type LabVmReport } from '../hypervisor/lab.js';
import { applyLabSeed } from '../hypervisor/lab-tasks.js';
import type { MemoryUsage } from '../hypervisor/memory-budget.js';
import type { TemplateStore } from '../hypervisor/template-store.js';
import type { FigureHistory } from './figures.js';
import type { IdlePauser } from './idle-pauser.js';
import { labSourceFromParam, type LabSource } from './lab-source.js';
import { pageMessage, pageWording } from './page-wording.js';
import { ShellGreeter, type Arrival } from './shell-greeting.js';
import type { TaskBoard, TaskView } from './task-board.js';
import { buildVmViews, labLine, type LabSlot, type VmView } from './vm-view.js';
import type { SettingsStore, WorkKeeper } from './work-keeper.js';

/** Guest memory all VMs of the page may reserve together, unless the user set another budget. */
export const DEFAULT_BUDGET_MIB = 768;

export interface PageView {
  phase: 'loading' | 'ready' | 'failed';
  /** The lab line: what is loading, or how many VMs run. */
  message: string;
  lab?: { name: string; title?: string; description?: string; source: string };
  vms: VmView[];
  /** The lab's tasks (empty when it has none). */
  tasks: TaskView[];
  images: ImageEntry[];
  memory?: MemoryUsage;
  /** The memory budget in MiB (the user can change it). */
  budgetMiB: number;
  keepWork: boolean;
  /** What happened to the saved work last ("saved at 10:02:03"). */
  workStatus: string;
  /** The last refused or failed request (the HypervisorError's text), or an info line. */
  notice?: { kind: 'error' | 'info'; text: string };
  /** The student's seed (?seed=), when it was given and valid. */
  seed?: string;
  /** Idle VMs pause after this many seconds (undefined: never), and where that comes from. */
  idle: { seconds: number | undefined; from: 'lab' | 'page' | 'off' };
  /** Something is being done to the whole lab (a reset, a hand-in). */
  labBusy?: string;
}

export interface LabControllerOptions {
  /** Reads a JSON file of the app by repo-relative path ('images/manifest.json', 'labs/x.json'). */
  loadJson(path: string): Promise<unknown>;
  /** The lab to open (?lab=NAME); the default lab when null or empty. Ignored when `source` is given. */
  labName?: string | null;
  /** Where the lab comes from: built in, a URL or a file the user opened (lab-source.ts). */
  source?: LabSource;
  /** The text at a URL, for `?lab=URL`. */
  fetchText?(url: string): Promise<string>;
  /** The text of a lab file opened in this tab. */
  fileText?(fileName: string): string | undefined;
  /** The labs this build has, named in the message when the asked one cannot be opened. */
  labNames?: readonly string[];
  /** The student's seed (?seed=): written into every lab VM's /etc/lab-seed. */
  seed?: string | null;
  makeHypervisor(images: ImageEntry[], memoryBudgetBytes: number): Hypervisor;
  /** Template snapshots (OPFS in the page). */
  templates: TemplateStore;
  /** Saved work (OPFS in the page, another folder). */
  work: TemplateStore;
  /** Whether a lab VM's persistent disk already holds files (LoadLabOptions.diskHoldsFiles). */
  diskHoldsFiles?: (vmName: string) => Promise<boolean>;
  settings: SettingsStore;
  /** Ends the worker that runs pool slot `index` for real (tests: a crashed worker). */
  terminateHost?(index: number, reason: string): void;
  /** Called after every change of `view`. */
  onChange(): void;
  /** Quiet time after console input before work is saved (keep my work); 1500 ms by default. */
  saveDelayMs?: number;
  /** Saves work at least this often while keep my work is on; 30 s by default. */
  saveIntervalMs?: number;
  /** How often idle VMs are looked for; 1 s by default. */
  idleTickMs?: number;
  /** Wall clock for "saved at"; Date.now by default. */
  clock?: () => number;
}

export class PageState {
  readonly view: PageView = { phase: 'loading', message: 'Starting', vms: [], tasks: [], images: [], budgetMiB: DEFAULT_BUDGET_MIB, keepWork: false, workStatus: '', idle: { seconds: undefined, from: 'off' } };
  hv: Hypervisor | undefined;
  lab: Lab | undefined;
  /** The manifest's JSON as loaded (a hand-in carries it). */
  labJson: unknown;
  tasks: TaskBoard | undefined;
  idle: IdlePauser | undefined;
  /** The student's seed, written into each lab VM. */
  seed: string | undefined;
  /** What happened in this session, for the hand-in's log. */
  readonly log: string[] = [];
  /** Lab VMs that have no VM (yet): loading, or why they could not start. */
  readonly slots = new Map<string, LabSlot>();
  /** The last report line per VM name (how it started). */
  readonly messages = new Map<string, string>();
  readonly figures = new Map<string, FigureHistory>();
  readonly snapshots = new Map<string, { bytes: Uint8Array; at: string }>();
  readonly busy = new Map<string, string>();
  readonly notes = new Map<string, string[]>();
  /** The last script job per VM (inGuest). */
  readonly guestJobs = new Map<string, Promise<unknown>>();
  readonly source: LabSource;
  /** What the page types into a shell that arrived at its prompt (size, a fresh prompt). */
  readonly greeter = new ShellGreeter((vmId, bytes) => {
    if (this.hv?.has(vmId)) this.hv.sendConsole(vmId, bytes).catch(() => undefined);
  });
  /** Something was done since the lab loaded (keep my work off) or since the last save (on). */
  keeper: WorkKeeper | undefined;
  closed = false;
  readonly clock: () => number;

  constructor(readonly options: LabControllerOptions) {
    this.clock = options.clock ?? Date.now;
    this.source = options.source ?? labSourceFromParam(options.labName ?? null);
  }

  async attempt(vmId: string, action: string, body: (hv: Hypervisor) => Promise<void>): Promise<void> {
    const hv = this.hv;
    if (!hv) return;
    this.busy.set(vmId, action);
    this.refresh();
    try {
      this.idle?.activity(vmId);
      await body(hv);
      this.clearError();
      if (action !== 'export') this.keeper?.touched();
    } catch (error) {
      this.error(error);
    } finally {
      this.busy.delete(vmId);
      this.refresh();
    }
  }
  info(text: string): void {
    this.view.notice = { kind: 'info', text };
  }
  error(error: unknown): void {
    this.view.notice = { kind: 'error', text: pageMessage(error) };
    this.refresh();
  }
  /** A success makes an old error stale. */
  clearError(): void {
    if (this.view.notice?.kind === 'error') this.view.notice = undefined;
  }
  /** A dim line for the VM's console. */
  note(vmId: string, text: string): void {
    let list = this.notes.get(vmId);
    if (!list) this.notes.set(vmId, (list = []));
    list.push(pageWording(text));
  }
  time(): string {
    return new Date(this.clock()).toTimeString().slice(0, 8);
  }
  /** A line for the hand-in's log. */
  logLine(text: string): void {
    this.log.push(`${new Date(this.clock()).toISOString()} ${text}`);
  }
  status(phase: PageView['phase'], message: string): void {
    this.view.phase = phase;
    this.view.message = message;
    this.options.onChange();
  }
  /** Starts every lab VM (saved work, a template or its image) and greets the shells that arrived. */
  async startLabVms(lab: Lab, work: TemplateStore | undefined): Promise<LabReport> {
    for (const vm of lab.vms) this.slots.set(vm.name, { state: 'loading', message: 'Waiting for its turn' });
    this.status('loading', `Starting ${lab.vms.length} VMs of lab ${lab.name}`);
    const report = await loadLab(this.hv!, lab, {
      templates: this.options.templates,
      makeTemplates: true,
      ...(work ? { work } : {}),
      ...(this.options.diskHoldsFiles ? { diskHoldsFiles: this.options.diskHoldsFiles } : {}),
    });
    if (this.closed) return report;
    for (const vm of report.vms) {
      this.logLine(`${vm.name}: ${vm.status}: ${vm.message}`);
      if (vm.status === 'unavailable' || vm.status === 'failed') this.slots.set(vm.name, { state: vm.status, message: vm.message });
      else this.started(vm);
    }
    return report;
  }
  started(vm: LabVmReport): void {
    this.slots.delete(vm.name);
    if (!this.messages.has(vm.name)) this.messages.set(vm.name, vm.message);
    // A restored console starts blank: the shell is told to show its prompt (shell-greeting.ts).
    if (vm.status === 'restored' && vm.vmId) void this.arrive(vm.vmId, 'template');
    if (vm.status === 'resumed' && vm.vmId) this.greeter.arrive(vm.vmId, 'work');
  }
  /**
   * A lab VM's shell is at a fresh prompt: its seed is written first (when there is one), then the
   * page greets it (size, a clean screen that also hides the seed's command). Returns the console
   * offset at which the greeting was sent.
   */
  async arrive(vmId: string, arrival: Arrival, fresh = true): Promise<number | undefined> {
    const hv = this.hv;
    if (!hv?.has(vmId)) return undefined;
    if (this.seed && this.lab?.vms.some((v) => v.name === hv.get(vmId).name)) {
      try {
        await this.inGuest(vmId, () => applyLabSeed(hv, vmId, this.seed!));
      } catch (error) {
        this.note(vmId, `the seed could not be written: ${messageOf(error)}`);
        this.logLine(`${hv.has(vmId) ? hv.get(vmId).name : vmId}: the seed could not be written: ${messageOf(error)}`);
        this.refresh();
      }
    }
    if (!hv.has(vmId)) return undefined;
    // Where the console stood when the greeting went out: its effect shows after this offset.
    const offset = hv.consoleOffset(vmId);
    this.greeter.arrive(vmId, arrival, fresh);
    return offset;
  }

  /**
   * Runs a script job on a VM's console after the ones before it (the seed, checks): two scripts
   * typed on one console at once would mix their lines.
   */
  inGuest<T>(vmId: string, job: () => Promise<T>): Promise<T> {
    const run = (this.guestJobs.get(vmId) ?? Promise.resolve()).then(job);
    this.guestJobs.set(vmId, run.catch(() => undefined));
    return run;
  }

  /** Rebuilds the VM list from the hypervisor and the lab slots, then tells the page. */
  refresh(): void {
    const hv = this.hv;
    if (this.keeper) {
      this.view.keepWork = this.keeper.on;
      this.view.workStatus = this.keeper.status;
    }
    if (this.tasks) this.view.tasks = this.tasks.views;
    if (!hv) return this.options.onChange();
    this.view.vms = buildVmViews(hv, this.lab, this.slots, {
      messages: this.messages,
      figures: this.figures,
      snapshots: this.snapshots,
      busy: this.busy,
      notes: this.notes,
      idle: this.idle?.paused ?? new Map(),
    });
    this.view.memory = hv.memoryUsage();
    if (this.view.phase === 'ready' && this.lab) this.view.message = labLine(this.lab, hv, this.slots);
    this.options.onChange();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const MiB = 1024 * 1024;
export const BUDGET_KEY = 'tabvisor.memoryBudgetMiB';
export const IDLE_KEY = 'tabvisor.idlePauseSeconds';

export function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}
