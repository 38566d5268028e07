// <tv-vm-panel>: one VM — name, state, live figures, CPU weight and cap, controls and its console.
// It renders a VmView and emits what the user does: 'vm-action' { vmId, action },
// 'vm-input' { vmId, data }, 'vm-resize' { vmId, cols, rows }, 'vm-schedule' { vmId, weight,
// capPercent }, 'vm-memory' { vmId, balloonMiB | reclaim } and 'vm-hint' { text } (a click on a
// button that is not possible now).
// Console output comes through `attach`, which the page wires to the hypervisor.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import { formatMiB, formatMips, formatPercent } from './figures.js';
import { BAR_KEYS, withCtrl } from './key-bar.js';
import { actionHint, type VmUiAction, type VmView } from './lab-controller.js';
import { CAP_MAX, CAP_MIN, WEIGHT_MAX, WEIGHT_MIN } from './schedule-limits.js';
import './tv-sparkline.js';
import './tv-status-line.js';
import './tv-vm-console.js';
import './tv-file-transfer.js';
import type { ConsoleSize, TvVmConsole } from './tv-vm-console.js';

export interface VmActionDetail {
  vmId: string;
  action: VmUiAction;
}

export interface VmInputDetail {
  vmId: string;
  data: string;
}

export interface VmResizeDetail extends ConsoleSize {
  vmId: string;
}

/** 'vm-memory': hold `balloonMiB` in the guest's balloon, or (`reclaim`) give freed memory back. */
export interface VmMemoryDetail {
  vmId: string;
  balloonMiB?: number;
  reclaim?: boolean;
}

export interface VmScheduleDetail {
  vmId: string;
  weight: number;
  /** undefined: no cap. */
  capPercent: number | undefined;
}

const LIFECYCLE: ReadonlyArray<[VmUiAction, string]> = [
  ['start', 'Start'],
  ['pause', 'Pause'],
  ['resume', 'Resume'],
  ['stop', 'Stop'],
  ['reset', 'Reset'],
  ['delete', 'Delete'],
];
const STATE: ReadonlyArray<[VmUiAction, string]> = [
  ['snapshot', 'Snapshot'],
  ['restore', 'Restore'],
  ['clone', 'Clone'],
  ['export', 'Export'],
];

@customElement('tv-vm-panel')
export class TvVmPanel extends LitElement {
  static override styles = css`
    :host {
      display: flex;
      flex-direction: column;
      gap: 0.5rem;
      padding: 0.75rem;
      background: #fff;
      border: 1px solid #e4e7ec;
      border-radius: 8px;
      min-width: 0;
    }
    .head { display: flex; align-items: baseline; gap: 0.6rem; flex-wrap: wrap; }
    h2 { font-size: 1rem; margin: 0; font-weight: 650; }
    .meta { color: #667085; font-size: 0.8rem; font-variant-numeric: tabular-nums; }
    .figures { display: flex; gap: 0.5rem 1rem; flex-wrap: wrap; }
    .controls { display: flex; gap: 0.35rem; flex-wrap: wrap; align-items: center; }
    .sep { width: 1px; align-self: stretch; background: #e4e7ec; margin: 0 0.25rem; }
    button, input {
      font: inherit;
      font-size: 0.8rem;
      padding: 0.2rem 0.65rem;
      border: 1px solid #d0d5dd;
      border-radius: 6px;
      background: #fff;
      color: #344054;
    }
    button { cursor: pointer; }
    button:hover:not([aria-disabled='true']) { background: #f2f4f7; }
    /* Not possible now: greyed, no shadow of a border, a not-allowed cursor; a click says why. */
    button[aria-disabled='true'] { background: #f2f4f7; color: #98a2b3; border-color: #eaecf0; cursor: not-allowed; }
    button:focus-visible, input:focus-visible, summary:focus-visible { outline: 2px solid #2e6bd6; outline-offset: 1px; }
    .busy { color: #667085; font-size: 0.8rem; }
    .schedule, .balloon-box { font-size: 0.8rem; color: #475467; display: flex; gap: 0.4rem; align-items: center; flex-wrap: wrap; }
    .schedule summary, .balloon-box summary { cursor: pointer; color: #2e6bd6; }
    .schedule form, .balloon-box form { display: flex; gap: 0.4rem; align-items: center; flex-wrap: wrap; margin-top: 0.35rem; }
    .schedule input, .balloon-box input { width: 5rem; padding: 0.15rem 0.35rem; font-variant-numeric: tabular-nums; }
    tv-vm-console { height: 19rem; }
    .keys { display: none; gap: 0.3rem; flex-wrap: wrap; }
    .keys button { min-width: 2.6rem; padding: 0.35rem 0.5rem; font-size: 0.85rem; }
    .keys button[aria-pressed='true'] { background: #2e6bd6; border-color: #2e6bd6; color: #fff; }
    /* Touch screens and narrow windows lack Ctrl, Esc, Tab and arrow keys. */
    @media (pointer: coarse), (max-width: 48rem) {
      .keys { display: flex; }
      tv-vm-console { height: 16rem; }
    }
    .placeholder {
      height: 19rem;
      display: flex;
      align-items: center;
      justify-content: center;
      text-align: center;
      padding: 1rem;
      border-radius: 6px;
      background: #f2f4f7;
      color: #475467;
    }
  `;

  @property({ attribute: false }) vm!: VmView;
  /** Subscribes to this VM's console output; returns the unsubscribe function. */
  @property({ attribute: false }) attach: ((listener: (data: Uint8Array) => void) => () => void) | undefined;
  /** xterm.js's screen-reader mode for the console. */
  @property({ type: Boolean }) screenReader = false;
  @state() private ctrlArmed = false;
  @query('tv-vm-console') private console!: TvVmConsole | null;
  private detach: (() => void) | undefined;
  private attachedTo: string | undefined;
  private notesWritten = 0;

  /** The console's text, scrollback included (tests read the screen through this). */
  consoleText(): string {
    return this.console?.bufferText() ?? '';
  }

  /** The console element (tests look at its pixels). */
  get terminal(): TvVmConsole | null {
    return this.console;
  }

  focusConsole(): void {
    this.console?.focusTerminal();
  }

  override updated(): void {
    // Attach once the VM exists and its console is on the page; a panel keeps its VM for life.
    if (this.vm.id && this.attach && this.console && this.attachedTo !== this.vm.id) {
      this.detach?.();
      const target = this.console;
      this.detach = this.attach((data) => target.write(data));
      this.attachedTo = this.vm.id;
    }
    // The page's own notes (restored, stopped, ...) go in the console as dim lines, once each.
    if (this.console && this.attachedTo) {
      for (const note of this.vm.notes.slice(this.notesWritten)) this.console.writeNotice(note);
      this.notesWritten = this.vm.notes.length;
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.detach?.();
    this.detach = undefined;
    this.attachedTo = undefined;
  }

  override render() {
    const vm = this.vm;
    const meta = [vm.image, vm.engine, vm.memoryMiB ? `${vm.memoryMiB} MiB` : '', vm.host !== undefined ? `worker ${vm.host + 1}` : '']
      .filter(Boolean)
      .join(' · ');
    const stateLine = vm.message || (vm.state === 'running' ? (vm.ready ? 'shell ready' : 'booting the guest') : '');
    return html`
      <div class="head">
        <h2>${vm.name}</h2>
        <span class="meta">${meta}</span>
      </div>
      <tv-status-line class="state" .phase=${vm.state} .message=${stateLine}></tv-status-line>
      ${vm.id ? this.renderLive(vm) : html`<div class="placeholder">${vm.state === 'loading' ? vm.message : `${vm.name} is not running: ${vm.message}`}</div>`}
    `;
  }

  private renderLive(vm: VmView) {
    const latest = vm.figures?.latest;
    const button = ([action, label]: [VmUiAction, string]) => {
      const hint = actionHint(action, vm.name, vm.state, vm.snapshotAt !== undefined);
      const off = hint !== '' || vm.busy !== undefined;
      const title = vm.busy ? `Wait: ${vm.busy} is in progress` : hint || (action === 'restore' && vm.snapshotAt ? `Restore the snapshot of ${vm.snapshotAt.slice(11, 19)}` : label);
      return html`<button data-action=${action} aria-disabled=${off ? 'true' : 'false'} title=${title}
        @click=${() => (off ? !vm.busy && this.hint(hint) : this.emit(action))}>${label}</button>`;
    };
    return html`
      <div class="figures">
        <tv-sparkline label="CPU" .value=${latest ? formatPercent(latest.cpuShare) : '–'} .values=${vm.figures?.cpu ?? []} .max=${1}></tv-sparkline>
        <tv-sparkline label="Speed" .value=${latest ? formatMips(latest.mips) : '–'} .values=${vm.figures?.mips ?? []}></tv-sparkline>
        <tv-sparkline label="Memory" .value=${latest ? formatMiB(latest.memoryBytes) : '–'} .values=${vm.figures?.memory ?? []}></tv-sparkline>
      </div>
      ${this.renderSchedule(vm)}
      ${vm.engine === 'rv64' ? this.renderMemory(vm) : nothing}
      <div class="controls">
        ${LIFECYCLE.map(button)}
        <span class="sep"></span>
        ${STATE.map(button)}
        ${vm.busy ? html`<span class="busy">${vm.busy} …</span>` : nothing}
      </div>
      <tv-file-transfer .vm=${vm}></tv-file-transfer>
      <tv-vm-console .screenReader=${this.screenReader} @console-input=${(e: CustomEvent<string>) => this.onInput(e)}
        @console-resize=${(e: CustomEvent<ConsoleSize>) => this.onResize(e)}></tv-vm-console>
      <div class="keys" role="toolbar" aria-label="Keys for ${vm.name}'s console">
        ${BAR_KEYS.map(
          (key) => html`<button data-key=${key.id} title=${key.title} aria-label=${key.title}
            aria-pressed=${key.id === 'ctrl' ? String(this.ctrlArmed) : nothing}
            @mousedown=${(e: Event) => e.preventDefault()} @click=${() => this.pressBarKey(key.id, key.data)}>${key.label}</button>`,
        )}
      </div>
    `;
  }

  private renderSchedule(vm: VmView) {
    const cap = vm.capPercent === undefined ? 'no CPU cap' : `CPU cap ${vm.capPercent}%`;
    return html`<details class="schedule">
      <summary>Weight <span class="weight">${vm.weight ?? 1}</span> · <span class="cap">${cap}</span></summary>
      <form @submit=${(e: SubmitEvent) => this.submitSchedule(e)}>
        <label>Weight <input name="weight" type="number" step="any" .value=${String(vm.weight ?? 1)}
          title="Relative CPU share, ${WEIGHT_MIN} to ${WEIGHT_MAX}" /></label>
        <label>CPU cap % <input name="cap" type="number" step="any" .value=${vm.capPercent === undefined ? '' : String(vm.capPercent)}
          placeholder="none" title="At most this % of one core, ${CAP_MIN} to ${CAP_MAX}; empty for none" /></label>
        <button type="submit">Apply</button>
      </form>
    </details>`;
  }

  /** The balloon (rv64): what it holds, a target to set, and giving freed memory back to the host. */
  private renderMemory(vm: VmView) {
    const held = vm.figures?.balloonBytes;
    const live = vm.state === 'running' || vm.state === 'paused';
    return html`<details class="balloon-box">
      <summary>Balloon <span class="balloon">${held === undefined ? '–' : `${Math.round(held / 1048576)} MiB`}</span></summary>
      <form @submit=${(e: SubmitEvent) => this.submitMemory(e)}>
        <label>Hold MiB <input name="balloon" type="number" min="0" step="1" value="0"
          title="Memory the guest gives back to the host through its balloon, 0 to ${(vm.memoryMiB ?? 1) - 1} MiB" /></label>
        <button type="submit" aria-disabled=${live ? 'false' : 'true'}>Set</button>
        <button type="button" data-action="reclaim" aria-disabled=${live ? 'false' : 'true'}
          title="Move the machine into new memory holding only what the guest uses: what it freed goes back to the host"
          @click=${() => live && this.emitMemory({ reclaim: true })}>Give back freed memory</button>
      </form>
    </details>`;
  }

  private submitMemory(event: SubmitEvent): void {
    event.preventDefault();
    const value = String(new FormData(event.target as HTMLFormElement).get('balloon') ?? '').trim();
    this.emitMemory({ balloonMiB: value === '' ? 0 : Number(value) });
  }

  private emitMemory(detail: Omit<VmMemoryDetail, 'vmId'>): void {
    if (!this.vm.id) return;
    this.dispatchEvent(new CustomEvent<VmMemoryDetail>('vm-memory', { detail: { vmId: this.vm.id, ...detail }, bubbles: true, composed: true }));
  }

  private submitSchedule(event: SubmitEvent): void {
    event.preventDefault();
    if (!this.vm.id) return;
    const data = new FormData(event.target as HTMLFormElement);
    const text = (key: string) => String(data.get(key) ?? '').trim();
    // The ranges are checked by the page's logic, which says what is wrong; NaN reaches it as such.
    const weight = text('weight') === '' ? 1 : Number(text('weight'));
    const capPercent = text('cap') === '' ? undefined : Number(text('cap'));
    this.dispatchEvent(new CustomEvent<VmScheduleDetail>('vm-schedule', { detail: { vmId: this.vm.id, weight, capPercent }, bubbles: true, composed: true }));
  }

  private pressBarKey(id: string, data: string | undefined): void {
    if (id === 'ctrl') this.ctrlArmed = !this.ctrlArmed;
    else if (data) this.sendInput(data);
    this.console?.focusTerminal();
  }

  private onInput(event: CustomEvent<string>): void {
    event.stopPropagation();
    let data = event.detail;
    if (this.ctrlArmed) {
      data = withCtrl(data);
      this.ctrlArmed = false;
    }
    this.sendInput(data);
  }

  private sendInput(data: string): void {
    if (!this.vm.id) return;
    this.dispatchEvent(new CustomEvent<VmInputDetail>('vm-input', { detail: { vmId: this.vm.id, data }, bubbles: true, composed: true }));
  }

  private onResize(event: CustomEvent<ConsoleSize>): void {
    event.stopPropagation();
    if (!this.vm.id) return;
    this.dispatchEvent(new CustomEvent<VmResizeDetail>('vm-resize', { detail: { vmId: this.vm.id, ...event.detail }, bubbles: true, composed: true }));
  }

  private hint(text: string): void {
    if (text) this.dispatchEvent(new CustomEvent<{ text: string }>('vm-hint', { detail: { text }, bubbles: true, composed: true }));
  }

  private emit(action: VmUiAction): void {
    if (!this.vm.id) return;
    this.dispatchEvent(new CustomEvent<VmActionDetail>('vm-action', { detail: { vmId: this.vm.id, action }, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-vm-panel': TvVmPanel;
  }
}
