// <tv-vm-panel>: one VM — name, state, live figures, controls and its console. It renders a VmView
// and emits what the user does: 'vm-action' { vmId, action } and 'vm-input' { vmId, data }.
// Console output comes through `attach`, which the page wires to the hypervisor.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import { formatMiB, formatMips, formatPercent } from './figures.js';
import type { VmUiAction, VmView } from './lab-controller.js';
import './tv-sparkline.js';
import './tv-status-line.js';
import './tv-vm-console.js';
import type { TvVmConsole } from './tv-vm-console.js';

export interface VmActionDetail {
  vmId: string;
  action: VmUiAction;
}

export interface VmInputDetail {
  vmId: string;
  data: string;
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
    .meta { color: #667085; font-size: 0.8rem; }
    .figures { display: flex; gap: 1rem; flex-wrap: wrap; }
    .controls { display: flex; gap: 0.35rem; flex-wrap: wrap; align-items: center; }
    .sep { width: 1px; align-self: stretch; background: #e4e7ec; margin: 0 0.25rem; }
    button {
      font: inherit;
      font-size: 0.8rem;
      padding: 0.2rem 0.65rem;
      border: 1px solid #d0d5dd;
      border-radius: 6px;
      background: #fff;
      color: #344054;
      cursor: pointer;
    }
    button:hover:not(:disabled) { background: #f2f4f7; }
    button:disabled { opacity: 0.45; cursor: default; }
    .busy { color: #667085; font-size: 0.8rem; }
    tv-vm-console { height: 19rem; }
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
  @query('tv-vm-console') private console!: TvVmConsole | null;
  private detach: (() => void) | undefined;
  private attachedTo: string | undefined;

  /** The console's text, scrollback included (tests read the screen through this). */
  consoleText(): string {
    return this.console?.bufferText() ?? '';
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
    const button = ([action, label]: [VmUiAction, string]) =>
      html`<button data-action=${action} ?disabled=${!vm.allowed.has(action) || vm.busy !== undefined} @click=${() => this.emit(action)}
        title=${action === 'restore' && vm.snapshotAt ? `Restore the snapshot of ${vm.snapshotAt.slice(11, 19)}` : ''}>${label}</button>`;
    return html`
      <div class="figures">
        <tv-sparkline label="CPU" .value=${latest ? formatPercent(latest.cpuShare) : '–'} .values=${vm.figures?.cpu ?? []} .max=${1}></tv-sparkline>
        <tv-sparkline label="Speed" .value=${latest ? formatMips(latest.mips) : '–'} .values=${vm.figures?.mips ?? []}></tv-sparkline>
        <tv-sparkline label="Memory" .value=${latest ? formatMiB(latest.memoryBytes) : '–'} .values=${vm.figures?.memory ?? []}></tv-sparkline>
      </div>
      <div class="controls">
        ${LIFECYCLE.map(button)}
        <span class="sep"></span>
        ${STATE.map(button)}
        ${vm.busy ? html`<span class="busy">${vm.busy} …</span>` : nothing}
      </div>
      <tv-vm-console @console-input=${(e: CustomEvent<string>) => this.onInput(e)}></tv-vm-console>
    `;
  }

  private onInput(event: CustomEvent<string>): void {
    event.stopPropagation();
    if (!this.vm.id) return;
    this.dispatchEvent(new CustomEvent<VmInputDetail>('vm-input', { detail: { vmId: this.vm.id, data: event.detail }, bubbles: true, composed: true }));
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
