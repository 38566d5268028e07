// The page's logic: loads a lab into the Hypervisor, keeps a view of every VM for the components
// to draw (state, figures, messages), carries out what the user asks (lifecycle, snapshots,
// clones, export/import, new VMs) and says plainly when the hypervisor refuses. It also keeps the
// student's work across reloads when they switched "keep my work" on. No DOM here: the components
// render `view` and call these methods; tests drive it in Node.
import type { ImageEntry } from '../engines/engine.js';
import { HypervisorError } from '../hypervisor/errors.js';
import type { Hypervisor, VmSummary } from '../hypervisor/hypervisor.js';
import { discardLabWork, loadLab, parseLab, saveLabWork, type Lab, type LabReport } from '../hypervisor/lab.js';
import type { MemoryUsage } from '../hypervisor/memory-budget.js';
import { VM_RULES, type VmAction, type VmState } from '../hypervisor/state-machine.js';
import type { TemplateStore } from '../hypervisor/template-store.js';
import { FigureHistory } from './figures.js';

/** The lab a page without `?lab=` opens (labs/default.json). */
export const DEFAULT_LAB = 'default';
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
  keepWork: boolean;
  /** What happened to the saved work last ("saved at 10:02:03"). */
  workStatus: string;
  /** The last refused or failed request (the HypervisorError's text), or an info line. */
  notice?: { kind: 'error' | 'info'; text: string };
}

/** A key/value place that survives reloads (localStorage in the page). */
export interface SettingsStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface LabControllerOptions {
  /** Reads a JSON file of the app by repo-relative path ('images/manifest.json', 'labs/x.json'). */
  loadJson(path: string): Promise<unknown>;
  /** The lab to open (?lab=NAME); the default lab when null or empty. */
  labName: string | null;
  makeHypervisor(images: ImageEntry[]): Hypervisor;
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

interface LabSlot {
  state: 'loading' | 'unavailable' | 'failed';
  message: string;
}

export class LabController {
  readonly view: PageView = { phase: 'loading', message: 'Starting', vms: [], images: [], keepWork: false, workStatus: '' };
  private hv: Hypervisor | undefined;
  private lab: Lab | undefined;
  /** Lab VMs that have no VM (yet): loading, or why they could not start. */
  private readonly slots = new Map<string, LabSlot>();
  /** The last report line per VM name (how it started). */
  private readonly messages = new Map<string, string>();
  private readonly figures = new Map<string, FigureHistory>();
  private readonly snapshots = new Map<string, { bytes: Uint8Array; at: string }>();
  private readonly busy = new Map<string, string>();
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private saveInterval: ReturnType<typeof setInterval> | undefined;
  private saving: Promise<void> | undefined;
  private saveAgain = false;
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
      this.view.images = manifest.images;
      const name = this.options.labName || DEFAULT_LAB;
      if (!LAB_NAME.test(name)) throw new Error(`"${name}" is not a lab name (letters, digits, '.', '_' or '-')`);
      this.status('loading', `Loading lab ${name}`);
      let json: unknown;
      try {
        json = await this.options.loadJson(`labs/${name}.json`);
      } catch (error) {
        throw new Error(`no lab named "${name}" (labs/${name}.json: ${messageOf(error)})`);
      }
      lab = parseLab(json, manifest.images, { allowMissingImages: true });
    } catch (error) {
      this.status('failed', `Could not open the lab: ${messageOf(error)}`);
      return undefined;
    }
    this.lab = lab;
    this.view.lab = { name: lab.name, ...(lab.title ? { title: lab.title } : {}), ...(lab.description ? { description: lab.description } : {}) };
    const hv = this.options.makeHypervisor(this.view.images);
    this.hv = hv;
    hv.events.on('transition', (t) => {
      if (t.to === 'crashed') this.messages.set(t.vmName, t.detail ?? 'no reason given');
      else if (t.input === 'restore' || t.input === 'reset' || t.input === 'start') this.messages.delete(t.vmName);
      if (t.to === 'deleted') {
        this.figures.delete(t.vmId);
        this.snapshots.delete(t.vmId);
      }
      // Not at once: 'create' is emitted while the hypervisor is still registering the VM.
      queueMicrotask(() => this.refresh());
    });
    hv.events.on('ready', () => this.refresh());
    hv.events.on('progress', (p) => {
      const slot = this.slots.get(p.vmName);
      if (slot?.state === 'loading') slot.message = p.message;
      this.refresh();
    });

    this.view.keepWork = this.options.settings.getItem(keepWorkKey(lab)) === '1';
    if (!this.view.keepWork) await discardLabWork(lab, this.options.work).catch(() => undefined);
    for (const vm of lab.vms) this.slots.set(vm.name, { state: 'loading', message: 'Waiting for its turn' });
    this.status('loading', `Starting ${lab.vms.length} VMs of lab ${lab.name}`);
    const report = await loadLab(hv, lab, {
      templates: this.options.templates,
      makeTemplates: true,
      ...(this.view.keepWork ? { work: this.options.work } : {}),
    });
    if (this.closed) return report;
    for (const vm of report.vms) {
      if (vm.status === 'unavailable' || vm.status === 'failed') this.slots.set(vm.name, { state: vm.status, message: vm.message });
      else {
        this.slots.delete(vm.name);
        if (!this.messages.has(vm.name)) this.messages.set(vm.name, vm.message);
        // A template was saved at the shell, after its prompt: an empty line shows a fresh one.
        if (vm.status === 'restored' && vm.vmId) hv.sendConsole(vm.vmId, '\r').catch(() => undefined);
      }
    }
    const running = report.vms.filter((v) => v.vmId).length;
    this.view.phase = 'ready';
    this.view.message = `Lab ${lab.name}: ${running} of ${report.vms.length} VMs running`;
    this.refresh();
    if (this.view.keepWork) this.startAutosave();
    return report;
  }

  // --- what the user asks -------------------------------------------------------------------

  /** A lifecycle action, snapshot, restore (the last snapshot) or clone of one VM. */
  async act(vmId: string, action: Exclude<VmUiAction, 'export'>): Promise<void> {
    await this.attempt(vmId, action, async (hv) => {
      switch (action) {
        case 'start': await hv.start(vmId); break;
        case 'pause': await hv.pause(vmId); break;
        case 'resume': await hv.resume(vmId); break;
        case 'stop': await hv.stop(vmId); break;
        case 'reset': await hv.reset(vmId); break;
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
          this.info(`${hv.get(vmId).name} restored to its snapshot of ${snap.at.slice(11, 19)}`);
          break;
        }
        case 'clone': {
          const copy = await hv.clone(vmId);
          this.messages.set(copy.name, `a clone of ${hv.get(vmId).name}`);
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
      const vm = await hv.importSnapshot(bytes, { identity: 'new' });
      this.messages.set(vm.name, `imported from ${fileName}`);
      this.info(`Imported ${fileName} as ${vm.name}`);
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
      return undefined;
    } catch (error) {
      this.error(error);
      return messageOf(error);
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
    hv.sendConsole(vmId, data).catch((error: unknown) => this.error(error));
    if (this.view.keepWork) this.scheduleSave();
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
    const lab = this.lab;
    if (!lab) return;
    this.view.keepWork = on;
    this.options.settings.setItem(keepWorkKey(lab), on ? '1' : '0');
    if (on) {
      this.startAutosave();
      await this.saveWork();
    } else {
      this.stopAutosave();
      await this.saving;
      await discardLabWork(lab, this.options.work).catch(() => undefined);
      this.view.workStatus = 'A reload starts the lab clean';
      this.refresh();
    }
  }

  /** Saves every lab VM's state (when keep my work is on): page hidden, closing, after typing. */
  saveWork(): Promise<void> {
    if (!this.view.keepWork || !this.lab || !this.hv) return Promise.resolve();
    if (this.saving) {
      this.saveAgain = true;
      return this.saving;
    }
    const lab = this.lab;
    const hv = this.hv;
    this.view.workStatus = 'Saving your work';
    this.refresh();
    this.saving = (async () => {
      do {
        this.saveAgain = false;
        const results = await saveLabWork(hv, lab, this.options.work);
        if (!this.view.keepWork) break;
        const saved = results.filter((r) => r.saved).map((r) => r.name);
        const failed = results.filter((r) => !r.saved).map((r) => `${r.name} (${r.message})`);
        const at = new Date(this.clock()).toTimeString().slice(0, 8);
        this.view.workStatus =
          (saved.length ? `Work saved at ${at}: ${saved.join(', ')}` : `Nothing saved at ${at}`) + (failed.length ? `; not saved: ${failed.join(', ')}` : '');
      } while (this.saveAgain && this.view.keepWork);
    })().finally(() => {
      this.saving = undefined;
      this.refresh();
    });
    return this.saving;
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
    this.stopAutosave();
    await this.hv?.shutdown();
  }

  // --- internals ----------------------------------------------------------------------------

  private scheduleSave(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.saveWork();
    }, this.options.saveDelayMs ?? 1500);
  }

  private startAutosave(): void {
    if (this.saveInterval !== undefined) return;
    this.saveInterval = setInterval(() => void this.saveWork(), this.options.saveIntervalMs ?? 30_000);
  }

  private stopAutosave(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    if (this.saveInterval !== undefined) clearInterval(this.saveInterval);
    this.saveTimer = undefined;
    this.saveInterval = undefined;
  }

  private async attempt(vmId: string, action: string, body: (hv: Hypervisor) => Promise<void>): Promise<void> {
    const hv = this.hv;
    if (!hv) return;
    this.busy.set(vmId, action);
    this.refresh();
    try {
      await body(hv);
      if (this.view.notice?.kind === 'error') this.view.notice = undefined;
      if (this.view.keepWork && action !== 'export') this.scheduleSave();
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
    this.view.notice = { kind: 'error', text: messageOf(error) };
    this.refresh();
  }

  private status(phase: PageView['phase'], message: string): void {
    this.view.phase = phase;
    this.view.message = message;
    this.options.onChange();
  }

  /** Rebuilds the VM list from the hypervisor and the lab slots, then tells the page. */
  private refresh(): void {
    const hv = this.hv;
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
      };
    };
    for (const spec of this.lab?.vms ?? []) {
      const vm = byName.get(spec.name);
      const slot = this.slots.get(spec.name);
      if (vm) views.push(liveView(vm));
      else if (slot) views.push({ key: `lab:${spec.name}`, name: spec.name, image: spec.image, state: slot.state, ready: false, message: slot.message, allowed: new Set() });
    }
    for (const vm of live) if (!seen.has(vm.id)) views.push(liveView(vm));
    this.view.vms = views;
    this.view.memory = hv.memoryUsage();
    this.options.onChange();
  }
}

function keepWorkKey(lab: Lab): string {
  return `tabvisor.keepWork.${lab.name}`;
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
