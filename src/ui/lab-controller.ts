// The page's logic: loads a lab into the Hypervisor, keeps a view of every VM for the components
// to draw (state, figures, messages), carries out what the user asks (lifecycle, snapshots,
// clones, export/import, new VMs) and says plainly when the hypervisor refuses. It also keeps the
// student's work across reloads when they switched "keep my work" on. No DOM here: the components
// render `view` and call these methods; tests drive it in Node.
import type { ImageEntry } from '../engines/engine.js';
import { HypervisorError } from '../hypervisor/errors.js';
import type { Hypervisor, VmSummary } from '../hypervisor/hypervisor.js';
import { loadLab, parseLab, type Lab, type LabReport } from '../hypervisor/lab.js';
import type { MemoryUsage } from '../hypervisor/memory-budget.js';
import { VM_RULES, type VmAction, type VmState } from '../hypervisor/state-machine.js';
import type { TemplateStore } from '../hypervisor/template-store.js';
import { FigureHistory } from './figures.js';
import { pageMessage, pageWording } from './page-wording.js';
import { budgetProblem, capProblem, weightProblem } from './schedule-limits.js';
import { quietCmdline, ShellGreeter, type TerminalSize } from './shell-greeting.js';
import { WorkKeeper, type SettingsStore } from './work-keeper.js';

export type { SettingsStore };

/** The lab a page without `?lab=` opens (labs/default.json). */
export const DEFAULT_LAB = 'default';
/** Guest memory all VMs of the page may reserve together, unless the user set another budget. */
export const DEFAULT_BUDGET_MIB = 768;
const LAB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** What the page shows for one VM: a live VM, or a lab VM that is loading or could not start. */
export interface VmView {
  /** Stable key for rendering: the VM id, or `lab:<name>` while it has none. */
  key: string;
  /** The hypervisor's id, once the VM exists. */
  id?: string;
  name: string;
  image: string;
  engine?: string;
  /** Lifecycle state, or where a lab VM without a VM is: loading, unavailable, failed. */
  state: VmState | 'loading' | 'unavailable' | 'failed';
  /** The guest's shell is up (its ready marker was seen). */
  ready: boolean;
  /** One line about this VM: progress, how it started, why it crashed or cannot start. */
  message: string;
  memoryMiB?: number;
  weight?: number;
  capPercent?: number | undefined;
  /** Pool slot (worker) running it. */
  host?: number | undefined;
  figures?: FigureHistory;
  /** When the snapshot that Restore would load was taken (ISO time), if there is one. */
  snapshotAt?: string;
  /** The action in progress, if any. */
  busy?: string;
  /** Actions the lifecycle table allows in this state. */
  allowed: ReadonlySet<VmUiAction>;
  /** Dim one-line notes for its console ("restored snapshot 12:03:04"), oldest first; only grows. */
  notes: readonly string[];
}

export type VmUiAction = 'start' | 'pause' | 'resume' | 'stop' | 'reset' | 'delete' | 'snapshot' | 'restore' | 'clone' | 'export';

export interface PageView {
  phase: 'loading' | 'ready' | 'failed';
  /** The lab line: what is loading, or how many VMs run. */
  message: string;
  lab?: { name: string; title?: string; description?: string };
  vms: VmView[];
  images: ImageEntry[];
  memory?: MemoryUsage;
  /** The memory budget in MiB (the user can change it). */
  budgetMiB: number;
  keepWork: boolean;
  /** What happened to the saved work last ("saved at 10:02:03"). */
  workStatus: string;
  /** The last refused or failed request (the HypervisorError's text), or an info line. */
  notice?: { kind: 'error' | 'info'; text: string };
}

export interface LabControllerOptions {
  /** Reads a JSON file of the app by repo-relative path ('images/manifest.json', 'labs/x.json'). */
  loadJson(path: string): Promise<unknown>;
  /** The lab to open (?lab=NAME); the default lab when null or empty. */
  labName: string | null;
  /** The labs this build has, named in the message when the asked one does not exist. */
  labNames?: readonly string[];
  makeHypervisor(images: ImageEntry[], memoryBudgetBytes: number): Hypervisor;
  /** Template snapshots (OPFS in the page). */
  templates: TemplateStore;
  /** Saved work (OPFS in the page, another folder). */
  work: TemplateStore;
  settings: SettingsStore;
  /** Ends the worker that runs pool slot `index` for real (tests: a crashed worker). */
  terminateHost?(index: number, reason: string): void;
  /** Called after every change of `view`. */
  onChange(): void;
  /** Quiet time after console input before work is saved (keep my work); 1500 ms by default. */
  saveDelayMs?: number;
  /** Saves work at least this often while keep my work is on; 30 s by default. */
  saveIntervalMs?: number;
  /** Wall clock for "saved at"; Date.now by default. */
  clock?: () => number;
}

const ACTIONS: readonly VmUiAction[] = ['start', 'pause', 'resume', 'stop', 'reset', 'delete', 'snapshot', 'restore', 'clone', 'export'];

/** The actions the lifecycle table (VM_RULES) allows in `state`; export is a snapshot. */
export function allowedActions(state: VmView['state'], hasSnapshot: boolean): Set<VmUiAction> {
  const allowed = new Set<VmUiAction>();
  if (state === 'loading' || state === 'unavailable' || state === 'failed') return allowed;
  for (const action of ACTIONS) {
    const rule = VM_RULES[action === 'export' ? 'snapshot' : action];
    if (!rule.allowedIn.includes(state)) continue;
    if (action === 'restore' && !hasSnapshot) continue;
    allowed.add(action);
  }
  return allowed;
}

/** Why `action` is not possible now, for the title and the click of a disabled button. */
export function actionHint(action: VmUiAction, vmName: string, state: VmView['state'], hasSnapshot: boolean): string {
  if (state === 'loading' || state === 'unavailable' || state === 'failed') return `${vmName} is ${state}`;
  const rule = VM_RULES[action === 'export' ? 'snapshot' : action];
  const verb = action === 'export' ? 'Export' : action[0]!.toUpperCase() + action.slice(1);
  if (!rule.allowedIn.includes(state)) return `${verb} is possible when the VM is ${joinOr(rule.allowedIn)}; ${vmName} is ${state}`;
  if (action === 'restore' && !hasSnapshot) return `Restore needs a snapshot of ${vmName}: take one with Snapshot first`;
  return '';
}

function joinOr(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

interface LabSlot {
  state: 'loading' | 'unavailable' | 'failed';
  message: string;
}

export class LabController {
  readonly view: PageView = { phase: 'loading', message: 'Starting', vms: [], images: [], budgetMiB: DEFAULT_BUDGET_MIB, keepWork: false, workStatus: '' };
  private hv: Hypervisor | undefined;
  private lab: Lab | undefined;
  /** Lab VMs that have no VM (yet): loading, or why they could not start. */
  private readonly slots = new Map<string, LabSlot>();
  /** The last report line per VM name (how it started). */
  private readonly messages = new Map<string, string>();
  private readonly figures = new Map<string, FigureHistory>();
  private readonly snapshots = new Map<string, { bytes: Uint8Array; at: string }>();
  private readonly busy = new Map<string, string>();
  private readonly notes = new Map<string, string[]>();
  /** What the page types into a shell that arrived at its prompt (size, a fresh prompt). */
  private readonly greeter = new ShellGreeter((vmId, bytes) => {
    if (this.hv?.has(vmId)) this.hv.sendConsole(vmId, bytes).catch(() => undefined);
  });
  /** Something was done since the lab loaded (keep my work off) or since the last save (on). */
  private keeper: WorkKeeper | undefined;
  private closed = false;
  private readonly clock: () => number;

  constructor(private readonly options: LabControllerOptions) {
    this.clock = options.clock ?? Date.now;
  }

  get hypervisor(): Hypervisor | undefined {
    return this.hv;
  }

  /** Loads the manifest and the lab and starts every VM of it (from templates when cached). */
  async open(): Promise<LabReport | undefined> {
    let lab: Lab;
    try {
      this.status('loading', 'Loading the image list');
      const manifest = (await this.options.loadJson('images/manifest.json')) as { images?: ImageEntry[] };
      if (!Array.isArray(manifest?.images)) throw new Error('images/manifest.json has no "images" list');
      // The page boots quietly: kernel warnings printed after the prompt would bury it.
      this.view.images = manifest.images.map((image) => ({ ...image, cmdline: quietCmdline(image.cmdline ?? '') }));
      const name = this.options.labName || DEFAULT_LAB;
      if (!LAB_NAME.test(name)) throw new Error(`"${name}" is not a lab name (letters, digits, '.', '_' or '-')${this.labList()}`);
      this.status('loading', `Loading lab ${name}`);
      let json: unknown;
      try {
        json = await this.options.loadJson(`labs/${name}.json`);
      } catch (error) {
        throw new Error(`no lab named "${name}" (labs/${name}.json: ${messageOf(error)})${this.labList()}`);
      }
      lab = parseLab(json, manifest.images, { allowMissingImages: true });
    } catch (error) {
      this.status('failed', `Could not open the lab: ${messageOf(error)}`);
      return undefined;
    }
    this.lab = lab;
    this.view.lab = { name: lab.name, ...(lab.title ? { title: lab.title } : {}), ...(lab.description ? { description: lab.description } : {}) };
    const budget = Number(this.options.settings.getItem(BUDGET_KEY) ?? DEFAULT_BUDGET_MIB);
    this.view.budgetMiB = budgetProblem(budget) ? DEFAULT_BUDGET_MIB : budget;
    const hv = this.options.makeHypervisor(this.view.images, this.view.budgetMiB * MiB);
    this.hv = hv;
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
      }
      // Not at once: 'create' is emitted while the hypervisor is still registering the VM.
      queueMicrotask(() => this.refresh());
    });
    // A booted guest printed its ready marker: once the shell's prompt is out, tell it the size.
    hv.events.on('ready', (r) => {
      this.greeter.expect(r.vmId);
      const from = hv.has(r.vmId) ? hv.consoleOffset(r.vmId) : 0;
      hv.waitForConsole(r.vmId, '# ', { from, timeoutMs: 30_000 })
        .then(() => this.greeter.arrive(r.vmId, 'booted', false))
        .catch(() => undefined); // no prompt (another shell, or the VM went away): nothing to do
      this.refresh();
    });
    hv.events.on('progress', (p) => {
      const slot = this.slots.get(p.vmName);
      if (slot?.state === 'loading') slot.message = p.message;
      this.refresh();
    });

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
    for (const vm of lab.vms) this.slots.set(vm.name, { state: 'loading', message: 'Waiting for its turn' });
    this.status('loading', `Starting ${lab.vms.length} VMs of lab ${lab.name}`);
    const report = await loadLab(hv, lab, {
      templates: this.options.templates,
      makeTemplates: true,
      ...(work ? { work } : {}),
    });
    if (this.closed) return report;
    for (const vm of report.vms) {
      if (vm.status === 'unavailable' || vm.status === 'failed') this.slots.set(vm.name, { state: vm.status, message: vm.message });
      else {
        this.slots.delete(vm.name);
        if (!this.messages.has(vm.name)) this.messages.set(vm.name, vm.message);
        // A restored console starts blank: the shell is told to show its prompt (shell-greeting.ts).
        if (vm.status === 'restored' && vm.vmId) this.greeter.arrive(vm.vmId, 'template');
        if (vm.status === 'resumed' && vm.vmId) this.greeter.arrive(vm.vmId, 'work');
      }
    }
    this.view.phase = 'ready';
    keeper.loaded();
    this.refresh();
    return report;
  }

  // --- what the user asks -------------------------------------------------------------------

  /** A lifecycle action, snapshot, restore (the last snapshot) or clone of one VM. */
  async act(vmId: string, action: Exclude<VmUiAction, 'export'>): Promise<void> {
    await this.attempt(vmId, action, async (hv) => {
      switch (action) {
        case 'start': await hv.start(vmId); this.note(vmId, `started ${this.time()}`); break;
        case 'pause': await hv.pause(vmId); this.note(vmId, `paused ${this.time()}: what you type waits for Resume`); break;
        case 'resume': await hv.resume(vmId); this.note(vmId, `resumed ${this.time()}`); break;
        case 'stop': await hv.stop(vmId); this.note(vmId, `stopped ${this.time()}`); break;
        case 'reset': await hv.reset(vmId); this.note(vmId, `reset ${this.time()}: booting again`); break;
        case 'delete': await hv.delete(vmId); break;
        case 'snapshot': {
          const bytes = await hv.snapshot(vmId);
          this.snapshots.set(vmId, { bytes, at: new Date(this.clock()).toISOString() });
          this.info(`Snapshot of ${hv.get(vmId).name} taken (${formatSize(bytes.length)})`);
          break;
        }
        case 'restore': {
          const snap = this.snapshots.get(vmId);
          if (!snap) throw new HypervisorError('bad-argument', `VM '${hv.get(vmId).name}' has no snapshot yet: take one first`);
          await hv.restore(vmId, snap.bytes);
          const at = new Date(snap.at).toTimeString().slice(0, 8);
          this.note(vmId, `restored snapshot ${at}`);
          this.greeter.arrive(vmId, 'restore');
          this.info(`${hv.get(vmId).name} restored to its snapshot of ${at}`);
          break;
        }
        case 'clone': {
          const copy = await hv.clone(vmId);
          this.messages.set(copy.name, `a clone of ${hv.get(vmId).name}`);
          this.greeter.arrive(copy.id, 'clone');
          break;
        }
      }
    });
  }

  /** A snapshot file of the VM, for download. */
  async exportSnapshot(vmId: string): Promise<{ fileName: string; bytes: Uint8Array } | undefined> {
    let file: { fileName: string; bytes: Uint8Array } | undefined;
    await this.attempt(vmId, 'export', async (hv) => {
      file = await hv.exportSnapshot(vmId);
    });
    return file;
  }

  /** A new running VM from a snapshot file the user uploaded. */
  async importSnapshot(bytes: Uint8Array, fileName: string): Promise<VmSummary | undefined> {
    const hv = this.hv;
    if (!hv) return undefined;
    try {
      const name = this.importName(fileName);
      const vm = await hv.importSnapshot(bytes, { identity: 'new', ...(name ? { name } : {}) });
      this.messages.set(vm.name, `imported from ${fileName}`);
      this.greeter.arrive(vm.id, 'import');
      this.info(`Imported ${fileName} as ${vm.name}`);
      this.keeper?.touched();
      return vm;
    } catch (error) {
      this.error(error);
      return undefined;
    } finally {
      this.refresh();
    }
  }

  /** Creates and boots a VM; returns the refusal's text when the hypervisor says no. */
  async createVm(request: { image: string; name?: string; memoryMiB?: number; weight?: number; capPercent?: number }): Promise<string | undefined> {
    const hv = this.hv;
    if (!hv) return 'the lab is not loaded';
    const problem = weightProblem(request.weight) ?? capProblem(request.capPercent);
    if (problem) return problem;
    try {
      const vm = await hv.create({
        image: request.image,
        ...(request.name ? { name: request.name } : {}),
        ...(request.memoryMiB !== undefined ? { memoryMiB: request.memoryMiB } : {}),
        ...(request.weight !== undefined ? { weight: request.weight } : {}),
        ...(request.capPercent !== undefined ? { capPercent: request.capPercent } : {}),
      });
      this.messages.set(vm.name, 'booted from its image');
      this.refresh();
      await hv.start(vm.id);
      this.keeper?.touched();
      this.clearError();
      return undefined;
    } catch (error) {
      // The dialog shows the refusal; the bar behind it stays as it was.
      return pageMessage(error);
    } finally {
      this.refresh();
    }
  }

  /** Console bytes of a VM: the kept output first, then live. Returns the detach function. */
  attachConsole(vmId: string, listener: (data: Uint8Array) => void): () => void {
    if (!this.hv?.has(vmId)) return () => {};
    const attachment = this.hv.attachConsole(vmId, listener);
    return () => attachment.detach();
  }

  /** What the user typed in a VM's console. */
  sendConsole(vmId: string, data: string): void {
    const hv = this.hv;
    if (!hv?.has(vmId)) return;
    // The user is typing: the page's own greeting must not land inside their command.
    this.greeter.userTyped(vmId);
    hv.sendConsole(vmId, data).catch((error: unknown) => this.error(error));
    this.keeper?.touched();
  }

  /** The size a panel fitted its console to; the shell is told once it is at its prompt. */
  consoleResized(vmId: string, size: TerminalSize): void {
    this.greeter.resized(vmId, size);
  }

  /** Changes a VM's CPU weight and cap (undefined cap: none), within the page's ranges. */
  async setSchedule(vmId: string, weight: number, capPercent: number | undefined): Promise<string | undefined> {
    const problem = weightProblem(weight) ?? capProblem(capPercent);
    if (problem) {
      this.view.notice = { kind: 'error', text: problem };
      this.refresh();
      return problem;
    }
    let refusal: string | undefined;
    await this.attempt(vmId, 'schedule', async (hv) => {
      const result = await hv.setSchedule(vmId, { weight, capPercent });
      const cap = capPercent === undefined ? 'no CPU cap' : `a CPU cap of ${capPercent}%`;
      this.info(`${result.name} now has weight ${weight} and ${cap}${result.enforced ? '' : ' (the weight counts only when VMs share a worker)'}`);
    });
    if (this.view.notice?.kind === 'error') refusal = this.view.notice.text;
    return refusal;
  }

  /** Changes the memory budget of the page's VMs (MiB); remembered for the next load. */
  setMemoryBudget(mib: number): string | undefined {
    const hv = this.hv;
    const problem = budgetProblem(mib) ?? (hv ? undefined : 'the lab is not loaded');
    try {
      if (problem) throw new Error(problem);
      hv!.memory.setTotal(mib * MiB);
    } catch (error) {
      this.error(error);
      return pageMessage(error);
    }
    this.view.budgetMiB = mib;
    this.options.settings.setItem(BUDGET_KEY, String(mib));
    this.info(`The memory budget is now ${mib} MiB`);
    this.refresh();
    return undefined;
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

  /** Samples CPU share, MIPS and memory of every live VM (once a second in the page). */
  async sampleFigures(): Promise<void> {
    const hv = this.hv;
    if (!hv) return;
    await Promise.all(
      hv.list().map(async (vm) => {
        let history = this.figures.get(vm.id);
        if (!history) this.figures.set(vm.id, (history = new FigureHistory()));
        try {
          const s = await hv.stats(vm.id);
          history.push({ cpuShare: s.cpuShare, mips: s.mips, memoryBytes: s.memoryBytes });
        } catch {
          history.push({ cpuShare: 0, mips: 0, memoryBytes: 0 }); // it just stopped or crashed
        }
      }),
    );
    this.refresh();
  }

  // --- keep my work -------------------------------------------------------------------------

  /** Turns "keep my work" on (saves now, then after activity) or off (forgets the saved work). */
  async setKeepWork(on: boolean): Promise<void> {
    await this.keeper?.setOn(on);
  }

  /** Saves every lab VM's state (when keep my work is on): page hidden, closing, after typing. */
  saveWork(): Promise<void> {
    return this.keeper?.save() ?? Promise.resolve();
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
    await this.hv?.shutdown();
  }

  // --- internals ----------------------------------------------------------------------------

  private async attempt(vmId: string, action: string, body: (hv: Hypervisor) => Promise<void>): Promise<void> {
    const hv = this.hv;
    if (!hv) return;
    this.busy.set(vmId, action);
    this.refresh();
    try {
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

  private info(text: string): void {
    this.view.notice = { kind: 'info', text };
  }

  private error(error: unknown): void {
    this.view.notice = { kind: 'error', text: pageMessage(error) };
    this.refresh();
  }

  /** A success makes an old error stale. */
  private clearError(): void {
    if (this.view.notice?.kind === 'error') this.view.notice = undefined;
  }

  /** A dim line for the VM's console. */
  private note(vmId: string, text: string): void {
    let list = this.notes.get(vmId);
    if (!list) this.notes.set(vmId, (list = []));
    list.push(pageWording(text));
  }

  private time(): string {
    return new Date(this.clock()).toTimeString().slice(0, 8);
  }

  /** ' (labs here: a, b)' for a message about a lab that cannot be opened. */
  private labList(): string {
    const names = this.options.labNames ?? [];
    return names.length ? `; labs here: ${names.join(', ')}` : '';
  }

  /** An imported VM is named after the VM in the file (`riscv-2026-...tvsnap` → riscv, riscv-copy-1). */
  private importName(fileName: string): string | undefined {
    const base = /^([A-Za-z0-9][A-Za-z0-9._-]*?)(-\d{4}-\d\d-\d\dT[\d-]+Z)?\.tvsnap$/i.exec(fileName)?.[1];
    if (!base || !LAB_NAME.test(base) || !this.hv) return undefined;
    if (!this.hv.has(base)) return base;
    for (let n = 1; ; n++) if (!this.hv.has(`${base}-copy-${n}`)) return `${base}-copy-${n}`;
  }

  private status(phase: PageView['phase'], message: string): void {
    this.view.phase = phase;
    this.view.message = message;
    this.options.onChange();
  }

  /** Rebuilds the VM list from the hypervisor and the lab slots, then tells the page. */
  private refresh(): void {
    const hv = this.hv;
    if (this.keeper) {
      this.view.keepWork = this.keeper.on;
      this.view.workStatus = this.keeper.status;
    }
    if (!hv) return this.options.onChange();
    const live = hv.list();
    const byName = new Map(live.map((vm) => [vm.name, vm]));
    const views: VmView[] = [];
    const seen = new Set<string>();
    const liveView = (vm: VmSummary): VmView => {
      seen.add(vm.id);
      const snap = this.snapshots.get(vm.id);
      const busy = this.busy.get(vm.id);
      return {
        key: vm.id,
        id: vm.id,
        name: vm.name,
        image: vm.image,
        engine: vm.engine,
        state: vm.state,
        ready: vm.ready,
        message: vm.state === 'crashed' ? (vm.crashReason ?? 'no reason given') : (this.messages.get(vm.name) ?? ''),
        memoryMiB: vm.memoryMiB,
        weight: vm.weight,
        capPercent: vm.capPercent,
        host: vm.host,
        ...(this.figures.has(vm.id) ? { figures: this.figures.get(vm.id)! } : {}),
        ...(snap ? { snapshotAt: snap.at } : {}),
        ...(busy ? { busy } : {}),
        allowed: allowedActions(vm.state, snap !== undefined),
        notes: this.notes.get(vm.id) ?? [],
      };
    };
    for (const spec of this.lab?.vms ?? []) {
      const vm = byName.get(spec.name);
      const slot = this.slots.get(spec.name);
      if (vm) views.push(liveView(vm));
      else if (slot) views.push({ key: `lab:${spec.name}`, name: spec.name, image: spec.image, state: slot.state, ready: false, message: slot.message, allowed: new Set(), notes: [] });
    }
    for (const vm of live) if (!seen.has(vm.id)) views.push(liveView(vm));
    this.view.vms = views;
    this.view.memory = hv.memoryUsage();
    if (this.view.phase === 'ready' && this.lab) this.view.message = labLine(this.lab, byName, this.slots);
    this.options.onChange();
  }
}

const MiB = 1024 * 1024;
const BUDGET_KEY = 'tabvisor.memoryBudgetMiB';

/** "Lab default: 1 of 2 VMs running (x86 crashed)": the lab's VMs as they are now. */
function labLine(lab: Lab, live: ReadonlyMap<string, VmSummary>, slots: ReadonlyMap<string, LabSlot>): string {
  const running = lab.vms.filter((spec) => live.get(spec.name)?.state === 'running').length;
  const others = lab.vms
    .filter((spec) => live.get(spec.name)?.state !== 'running')
    .map((spec) => `${spec.name} ${live.get(spec.name)?.state ?? slots.get(spec.name)?.state ?? 'deleted'}`);
  return `Lab ${lab.name}: ${running} of ${lab.vms.length} VMs running${others.length ? ` (${others.join(', ')})` : ''}`;
}


function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
