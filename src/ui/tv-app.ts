// <tv-app>: the page. Opens a lab (?lab=NAME, ?lab=URL, a file opened or dropped here;
// labs/default.json by default) in the Hypervisor and shows its VMs, tasks and lab tools. It only renders LabController's view and passes on what the user does; the
// logic lives in lab-controller.ts.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import { Hypervisor } from '../hypervisor/hypervisor.js';
import { formatBytes } from '../hypervisor/memory-budget.js';
import { OpfsTemplateStore } from '../hypervisor/template-store-opfs.js';
import { HttpTemplateStore, LayeredTemplateStore } from '../hypervisor/template-store-http.js';
import { LabController, type PageView } from './lab-controller.js';
import { addressFor, fetchLabText, keepLabFile, keptLabFile } from './lab-navigation.js';
import { labParam, labSourceFromParam, type LabSource } from './lab-source.js';
import { FileTransfers, type VmFilesDetail } from './file-transfer.js';
import { PageWorkerHosts } from './page-hosts.js';
import { registerServiceWorker } from '../sw/register.js';
import { PageDisks, type StorageFigures } from './page-disks.js';
import './tv-storage.js';
import './tv-create-dialog.js';
import type { CreateVmDetail, TvCreateDialog } from './tv-create-dialog.js';
import './tv-status-line.js';
import './tv-lab-tools.js';
import './tv-tasks-panel.js';
import './tv-vm-panel.js';
import type { TvVmPanel, VmActionDetail, VmInputDetail, VmMemoryDetail, VmResizeDetail, VmScheduleDetail } from './tv-vm-panel.js';
import { BUDGET_MAX_MIB, BUDGET_MIN_MIB } from './schedule-limits.js';

/** The lab manifests (labs/*.json), bundled with the app: ?lab=NAME picks one. */
const LABS = import.meta.glob<unknown>(['../../labs/*.json', '!../../labs/lab.schema.json'], { import: 'default' });
const LAB_NAMES = Object.keys(LABS).map((path) => path.replace(/^.*\/(.*)\.json$/, '$1')).sort();
const SCREEN_READER_KEY = 'tabvisor.screenReader';

@customElement('tv-app')
export class TvApp extends LitElement {
  static override styles = css`
    :host {
      display: flex;
      flex-direction: column;
      min-height: 100vh;
      box-sizing: border-box;
      padding: 1rem clamp(0.5rem, 2vw, 1.25rem) 1.25rem;
      gap: 0.75rem;
      font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
      color: #1d2939;
      background: #f7f8fa;
    }
    header { display: flex; align-items: center; gap: 1rem; flex-wrap: wrap; }
    .title { display: flex; flex-direction: column; gap: 0.1rem; margin-right: auto; }
    h1 { font-size: 1.2rem; margin: 0; font-weight: 650; }
    .description { color: #667085; font-size: 0.85rem; }
    .tools { display: flex; align-items: center; gap: 0.6rem; flex-wrap: wrap; }
    button, .upload {
      font: inherit;
      font-size: 0.85rem;
      padding: 0.3rem 0.8rem;
      border: 1px solid #d0d5dd;
      border-radius: 6px;
      background: #fff;
      color: #344054;
      cursor: pointer;
    }
    button:disabled { background: #f2f4f7; color: #98a2b3; border-color: #eaecf0; cursor: not-allowed; }
    button:focus-visible, input:focus-visible { outline: 2px solid #2e6bd6; outline-offset: 1px; }
    #import input { display: none; }
    .budget { display: inline-flex; align-items: center; gap: 0.35rem; }
    .budget input { width: 5rem; font: inherit; font-size: 0.85rem; padding: 0.15rem 0.35rem; border: 1px solid #d0d5dd; border-radius: 6px; font-variant-numeric: tabular-nums; }
    .budget button { padding: 0.15rem 0.6rem; }
    .switch { display: inline-flex; align-items: center; gap: 0.4rem; font-size: 0.85rem; cursor: pointer; }
    .bar { display: flex; align-items: center; gap: 1rem; flex-wrap: wrap; font-size: 0.85rem; color: #667085; }
    .bar tv-status-line { margin-right: auto; }
    .notice { padding: 0.45rem 0.75rem; border-radius: 6px; font-size: 0.9rem; display: flex; gap: 0.75rem; align-items: center; }
    .notice.error { background: #fee4e2; color: #912018; }
    .notice.info { background: #eef4ff; color: #1d3f8a; }
    .notice button { margin-left: auto; padding: 0 0.5rem; font-size: 0.8rem; }
    .memory { font-variant-numeric: tabular-nums; }
    /* One column when the window is narrower than a panel: nothing scrolls sideways. */
    .vms { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(30rem, 100%), 1fr)); gap: 0.75rem; }
    .hint { font-size: 0.8rem; color: #667085; margin: 0; }
    :host(.dropping) { outline: 3px dashed #2e6bd6; outline-offset: -6px; }
  `;

  @state() private view: PageView | undefined;
  @state() private createError = '';
  @state() private creating = false;
  @state() private screenReader = localStorage.getItem(SCREEN_READER_KEY) === '1';
  @query('tv-create-dialog') private dialog!: TvCreateDialog;
  private controller: LabController | undefined;
  private source: LabSource = { kind: 'builtin', name: 'default' };
  /** Files in and out of the VMs (file-transfer.ts), through the lab's hypervisor. */
  private readonly files = new FileTransfers(() => this.controller?.hypervisor);
  private hosts = new PageWorkerHosts();
  /** The lab's persistent disks (page-disks.ts, named after the lab); VMs get them once this tab owns them. */
  private disks = new PageDisks(labParam(labSourceFromParam(new URLSearchParams(location.search).get('lab'))), () => this.requestUpdate());
  @state() private storageFigures: StorageFigures = {};
  private sampler: ReturnType<typeof setInterval> | undefined;
  private readonly onHide = (): void => void this.controller?.saveWork();
  private readonly onVisibility = (): void => {
    if (document.visibilityState === 'hidden') void this.controller?.saveWork();
  };
  /** The browser asks before a reload or close would lose what the user did (not saved). */
  private readonly onBeforeUnload = (event: BeforeUnloadEvent): void => {
    if (!this.controller?.wouldLoseWork()) return;
    event.preventDefault();
    event.returnValue = '';
  };

  override connectedCallback(): void {
    super.connectedCallback();
    const appRoot = new URL(import.meta.env.BASE_URL, document.baseURI);
    const hosts = this.hosts;
    const params = new URLSearchParams(location.search);
    this.source = labSourceFromParam(params.get('lab'));
    this.controller = new LabController({
      source: this.source,
      fetchText: (url) => fetchLabText(url, location.href),
      fileText: (fileName) => keptLabFile(fileName, sessionStorage),
      seed: params.get('seed'),
      labNames: LAB_NAMES,
      loadJson: async (path) => {
        const bundled = LABS[`../../${path}`];
        if (path.startsWith('labs/')) {
          if (!bundled) throw new Error('not in this build');
          return bundled();
        }
        const response = await fetch(new URL(path, appRoot));
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.json() as Promise<unknown>;
      },
      // At least two workers, so that the two VMs of a lab never share a failure domain.
      // Its workers start at once (startHosts), while the lab's templates download.
      makeHypervisor: (images, memoryBudgetBytes) => {
        const hv = new Hypervisor({ images, memoryBudgetBytes, hosts: hosts.factory, poolSize: Math.max(2, navigator.hardwareConcurrency || 1), diskFor: this.disks.diskFor });
        void hv.startHosts().catch(() => undefined); // a worker that fails to start fails its VM's placement, with the reason
        return hv;
      },
      // Templates cached in OPFS first, then the pre-booted ones the build put beside the app.
      templates: new LayeredTemplateStore(new OpfsTemplateStore('tabvisor-templates'), new HttpTemplateStore(new URL('templates/', document.baseURI).href).prefetch()),
      work: new OpfsTemplateStore('tabvisor-work'),
      diskHoldsFiles: this.disks.diskHoldsFiles,
      settings: localStorage,
      terminateHost: (index, reason) => hosts.terminate(index, reason),
      onChange: () => {
        this.view = { ...this.controller!.view };
        if (this.view.phase !== 'loading') registerServiceWorker(appRoot); // offline next time (src/sw/)
      },
    });
    addEventListener('pagehide', this.onHide);
    this.addEventListener('dragover', this.onDragOver);
    this.addEventListener('dragleave', this.onDragLeave);
    this.addEventListener('drop', this.onDrop);
    addEventListener('beforeunload', this.onBeforeUnload);
    document.addEventListener('visibilitychange', this.onVisibility);
    this.sampler = setInterval(() => {
      void this.controller?.sampleFigures();
      void this.disks.figures().then((f) => { this.storageFigures = f; });
    }, 1000);
    // The disks first (lock, manifest), so the lab's VMs boot with them.
    const controller = this.controller;
    void this.disks.prepare(async () => (await fetch(new URL('images/manifest.json', appRoot))).json())
      .finally(() => controller.open());
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('pagehide', this.onHide);
    removeEventListener('beforeunload', this.onBeforeUnload);
    document.removeEventListener('visibilitychange', this.onVisibility);
    clearInterval(this.sampler);
    void this.controller?.close();
    this.disks.close();
  }

  /** The page's logic (tests use its terminateWorkerOf hook). */
  get lab(): LabController | undefined {
    return this.controller;
  }

  /** The text of a VM's console, by VM name (tests read the screen through this). */
  consoleText(vmName: string): string {
    return this.panel(vmName)?.consoleText() ?? '';
  }

  private panel(vmName: string): TvVmPanel | null {
    return this.renderRoot.querySelector<TvVmPanel>(`tv-vm-panel[data-name="${CSS.escape(vmName)}"]`);
  }

  override render() {
    const view = this.view;
    if (!view) return nothing;
    const controller = this.controller!;
    const memory = view.memory ? `Memory: ${formatBytes(view.memory.reservedBytes)} of ${formatBytes(view.memory.totalBytes)} reserved` : '';
    return html`
      <header>
        <div class="title">
          <h1>Tabvisor${view.lab ? html` · ${view.lab.title ?? view.lab.name}` : nothing}</h1>
          ${view.lab?.description ? html`<span class="description">${view.lab.description}</span>` : nothing}
        </div>
        <div class="tools">
          <label class="switch" title="Save each VM when the page is hidden or closed, and after you type; a reload then restores them">
            <input type="checkbox" role="switch" id="keep-work" .checked=${view.keepWork} ?disabled=${!view.lab || view.phase === 'loading'}
              @change=${this.onKeepWork} />
            Keep my work
          </label>
          <label class="switch" title="Terminals keep an accessible copy of their text for screen readers">
            <input type="checkbox" role="switch" id="screen-reader" .checked=${this.screenReader} @change=${this.onScreenReader} />
            Screen reader
          </label>
          <button id="new-vm" ?disabled=${view.phase !== 'ready'} title=${view.phase === 'ready' ? 'Create and boot a new VM' : 'Wait until the lab is loaded'}
            @click=${() => this.dialog.show()}>New VM</button>
          <span id="import">
            <button ?disabled=${view.phase !== 'ready'} title=${view.phase === 'ready' ? 'Run a .tvsnap file as a new VM' : 'Wait until the lab is loaded'}
              @click=${() => this.renderRoot.querySelector<HTMLInputElement>('#import input')?.click()}>Import snapshot</button>
            <input type="file" accept=".tvsnap,application/octet-stream" tabindex="-1" ?disabled=${view.phase !== 'ready'} @change=${this.importFile} />
          </span>
        </div>
      </header>
      <div class="bar">
        <tv-status-line class="lab" .phase=${view.phase} .label=${view.phase === 'ready' ? 'lab ready' : ''} .message=${view.message}></tv-status-line>
        <span class="work">${view.keepWork ? view.workStatus : view.workStatus || 'A reload starts the lab clean'}</span>
        <span class="memory">${memory}</span>
        <tv-storage .ownership=${this.disks.ownership} .figures=${this.storageFigures} .lab=${this.disks.lab}></tv-storage>
        <form class="budget" @submit=${this.onBudget}>
          <label for="budget">Budget (MiB)</label>
          <input id="budget" name="budget" type="number" step="1" .value=${String(view.budgetMiB)} ?disabled=${view.phase !== 'ready'}
            title="Guest memory all VMs may reserve together, ${BUDGET_MIN_MIB} to ${BUDGET_MAX_MIB} MiB" />
          <button type="submit" ?disabled=${view.phase !== 'ready'}>Set</button>
        </form>
      </div>
      ${view.notice
        ? html`<div class="notice ${view.notice.kind}" role=${view.notice.kind === 'error' ? 'alert' : 'status'}>
            <span>${view.notice.text}</span><button @click=${() => this.dismissNotice()}>Dismiss</button>
          </div>`
        : nothing}
      <tv-lab-tools .labNames=${LAB_NAMES} .current=${this.source.kind === 'builtin' ? this.source.name : ''} .vms=${view.vms} .idle=${view.idle}
        .busy=${view.labBusy ?? ''} ?ready=${view.phase === 'ready'}
        @lab-open=${(e: CustomEvent<{ name: string }>) => this.openLab({ kind: 'builtin', name: e.detail.name })}
        @lab-file=${(e: CustomEvent<{ file: File }>) => void this.openLabFile(e.detail.file)}
        @vm-reset-template=${(e: CustomEvent<{ vmId: string }>) => void controller.resetVm(e.detail.vmId)}
        @lab-reset=${() => void controller.resetLab()}
        @idle-pause=${(e: CustomEvent<{ seconds: number | null }>) => controller.setIdlePause(e.detail.seconds)}></tv-lab-tools>
      ${view.lab
        ? html`<tv-tasks-panel .tasks=${view.tasks} .busy=${view.labBusy ?? ''} .seed=${view.seed ?? ''} ?ready=${view.phase === 'ready'}
            @task-check=${(e: CustomEvent<{ id: string }>) => void controller.checkTask(e.detail.id)}
            @task-hint=${(e: CustomEvent<{ id: string }>) => controller.revealHint(e.detail.id)}
            @hand-in=${this.onHandIn}></tv-tasks-panel>`
        : nothing}
      <div class="vms" @vm-action=${this.onAction} @vm-input=${this.onInput} @vm-resize=${this.onResize} @vm-schedule=${this.onSchedule} @vm-memory=${this.onMemory}
        @vm-hint=${(e: CustomEvent<{ text: string }>) => controller.showHint(e.detail.text)}
        @vm-files=${(e: CustomEvent<VmFilesDetail>) => this.files.handle(e.detail)}>
        ${repeat(
          view.vms,
          (vm) => vm.key,
          (vm) => html`<tv-vm-panel data-name=${vm.name} .vm=${vm} ?screenReader=${this.screenReader}
            .attach=${vm.id ? (listener: (d: Uint8Array) => void) => controller.attachConsole(vm.id!, listener) : undefined}></tv-vm-panel>`,
        )}
      </div>
      <p class="hint">Click a console (or Tab to it) to type. Copy: select, then Ctrl+Shift+C. Paste: Ctrl+Shift+V.
        After resizing the window, <code>eval $(resize)</code> tells the shell the new size.</p>
      <tv-create-dialog .images=${view.images} .error=${this.createError} ?busy=${this.creating} @create-vm=${this.onCreate}></tv-create-dialog>
    `;
  }

  /** Opens another lab: the address changes to it (a reload opens it again). */
  private openLab(source: LabSource): void {
    location.assign(addressFor(source, location.href));
  }

  private async openLabFile(file: File): Promise<void> {
    try {
      this.openLab(await keepLabFile(file, sessionStorage));
    } catch (error) {
      this.controller?.showError(error);
    }
  }

  private readonly onDragOver = (event: DragEvent): void => {
    if (event.defaultPrevented || !event.dataTransfer?.types.includes('Files')) return;
    event.preventDefault(); // allows the drop
    this.classList.add('dropping');
  };

  private readonly onDragLeave = (): void => {
    this.classList.remove('dropping');
  };

  /** A .json dropped on the page (not on something that took it, such as a VM panel) opens as the lab. */
  private readonly onDrop = (event: DragEvent): void => {
    this.classList.remove('dropping');
    if (event.defaultPrevented) return;
    const file = [...(event.dataTransfer?.files ?? [])].find((f) => /\.json$/i.test(f.name));
    if (!file) return;
    event.preventDefault();
    void this.openLabFile(file);
  };

  private readonly onHandIn = async (event: CustomEvent<{ student: string }>): Promise<void> => {
    const file = await this.controller?.handIn(event.detail.student);
    if (file) download(file.bytes, file.fileName);
  };

  private dismissNotice(): void {
    if (this.controller) this.controller.view.notice = undefined;
    this.view = this.view ? { ...this.view, notice: undefined } : this.view;
  }

  private readonly onAction = async (event: CustomEvent<VmActionDetail>): Promise<void> => {
    const { vmId, action } = event.detail;
    const controller = this.controller!;
    if (action !== 'export') return controller.act(vmId, action);
    const file = await controller.exportSnapshot(vmId);
    if (file) download(file.bytes, file.fileName);
  };

  private readonly onKeepWork = async (event: Event): Promise<void> => {
    const box = event.target as HTMLInputElement;
    const controller = this.controller!;
    // Switching it off deletes the saved work: ask first.
    if (!box.checked && controller.hasSavedWork && !confirm('Delete your saved work? The next reload then starts the lab clean.')) {
      box.checked = true;
      return;
    }
    await controller.setKeepWork(box.checked);
  };

  private readonly onScreenReader = (event: Event): void => {
    this.screenReader = (event.target as HTMLInputElement).checked;
    localStorage.setItem(SCREEN_READER_KEY, this.screenReader ? '1' : '0');
  };

  private readonly onBudget = (event: SubmitEvent): void => {
    event.preventDefault();
    const text = String(new FormData(event.target as HTMLFormElement).get('budget') ?? '').trim();
    this.controller?.setMemoryBudget(text === '' ? Number.NaN : Number(text));
  };

  private readonly onResize = (event: CustomEvent<VmResizeDetail>): void => {
    const { vmId, cols, rows } = event.detail;
    this.controller?.consoleResized(vmId, { cols, rows });
  };

  private readonly onSchedule = (event: CustomEvent<VmScheduleDetail>): void => {
    const { vmId, weight, capPercent } = event.detail;
    void this.controller?.setSchedule(vmId, weight, capPercent);
  };

  private readonly onMemory = (event: CustomEvent<VmMemoryDetail>): void => {
    const { vmId, balloonMiB, reclaim } = event.detail;
    if (reclaim) void this.controller?.reclaimMemory(vmId);
    else if (balloonMiB !== undefined) void this.controller?.setBalloon(vmId, balloonMiB);
  };

  private readonly onInput = (event: CustomEvent<VmInputDetail>): void => {
    this.controller?.sendConsole(event.detail.vmId, event.detail.data);
  };

  private readonly importFile = async (event: Event): Promise<void> => {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (file) await this.controller?.importSnapshot(new Uint8Array(await file.arrayBuffer()), file.name);
  };

  private readonly onCreate = async (event: CustomEvent<CreateVmDetail>): Promise<void> => {
    this.creating = true;
    this.createError = '';
    const error = await this.controller!.createVm(event.detail);
    this.creating = false;
    if (error) this.createError = error;
    else this.dialog.close();
  };
}

/** The browser saves `bytes` as a file named `fileName`. */
function download(bytes: Uint8Array, fileName: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const link = Object.assign(document.createElement('a'), { href: url, download: fileName });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-app': TvApp;
  }
}
