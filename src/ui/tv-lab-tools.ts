// <tv-lab-tools>: the lab as a whole — which lab (the built-in list, or a .json file to open),
// reset one lab VM to its template or the whole lab, and after how long idle VMs pause. It renders
// and emits only: 'lab-open' { name } (a built-in lab), 'lab-file' { file }, 'vm-reset-template'
// { vmId }, 'lab-reset', 'idle-pause' { seconds: number | null }.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { formatSeconds } from './idle-pauser.js';
import type { PageView } from './page-state.js';
import type { VmView } from './vm-view.js';

@customElement('tv-lab-tools')
export class TvLabTools extends LitElement {
  static override styles = css`
    :host { display: flex; gap: 0.5rem 1rem; flex-wrap: wrap; align-items: center; font-size: 0.85rem; color: #475467; min-width: 0; }
    .group { display: inline-flex; gap: 0.35rem; align-items: center; flex-wrap: wrap; }
    select, input, button { font: inherit; font-size: 0.8rem; padding: 0.2rem 0.5rem; border: 1px solid #d0d5dd; border-radius: 6px; background: #fff; color: #344054; }
    button { cursor: pointer; }
    button:disabled, select:disabled { background: #f2f4f7; color: #98a2b3; border-color: #eaecf0; cursor: not-allowed; }
    button:focus-visible, input:focus-visible, select:focus-visible { outline: 2px solid #2e6bd6; outline-offset: 1px; }
    input[type='number'] { width: 5.5rem; font-variant-numeric: tabular-nums; }
    #lab-file { display: none; }
  `;

  /** The built-in labs. */
  @property({ attribute: false }) labNames: readonly string[] = [];
  /** The built-in lab that is open, if one is. */
  @property() current = '';
  @property({ attribute: false }) vms: VmView[] = [];
  @property({ attribute: false }) idle: PageView['idle'] = { seconds: undefined, from: 'off' };
  @property() busy = '';
  @property({ type: Boolean }) ready = false;

  override render() {
    const labVms = this.vms.filter((vm) => vm.inLab && vm.id);
    const idleText = this.idle.seconds === undefined ? 'never' : formatSeconds(this.idle.seconds);
    const idleFrom = this.idle.from === 'lab' ? " (the lab's setting)" : this.idle.from === 'page' ? ' (your setting)' : '';
    return html`
      <span class="group">
        <label for="lab-select">Lab</label>
        <select id="lab-select" @change=${this.onSelect}>
          ${this.labNames.includes(this.current) ? nothing : html`<option value="" selected>${this.current ? `(${this.current})` : '(from a file or address)'}</option>`}
          ${this.labNames.map((name) => html`<option value=${name} ?selected=${name === this.current}>${name}</option>`)}
        </select>
        <button id="open-lab-file" title="Open a lab manifest (.json) from your computer; you can also drop one on the page"
          @click=${() => this.renderRoot.querySelector<HTMLInputElement>('#lab-file')?.click()}>Open lab file…</button>
        <input id="lab-file" type="file" accept=".json,application/json" tabindex="-1" @change=${this.onFile} />
      </span>
      <span class="group">
        ${labVms.map(
          (vm) => html`<button class="reset-vm" data-vm=${vm.name} ?disabled=${!this.ready || this.busy !== '' || vm.busy !== undefined}
            title="Put ${vm.name} back to its template: what you did in it is lost" @click=${() => this.onResetVm(vm)}>Reset ${vm.name}</button>`,
        )}
        <button id="reset-lab" ?disabled=${!this.ready || this.busy !== ''} title="Every VM back to its template; clones and new VMs are deleted"
          @click=${this.onResetLab}>${this.busy === 'Resetting the lab' ? 'Resetting…' : 'Reset lab'}</button>
      </span>
      <form class="group" id="idle-form" @submit=${this.onIdle}>
        <label for="idle-seconds">Pause idle VMs after</label>
        <input id="idle-seconds" name="seconds" type="number" min="0" step="1" placeholder="lab's"
          .value=${this.idle.from === 'page' ? String(this.idle.seconds ?? 0) : ''}
          title="Seconds without console activity; 0: never; empty: the lab's setting" />
        <span>s</span>
        <button type="submit">Set</button>
        <span class="idle-now">now: ${idleText}${idleFrom}</span>
      </form>
    `;
  }

  private readonly onSelect = (event: Event): void => {
    const name = (event.target as HTMLSelectElement).value;
    if (name) this.emit('lab-open', { name });
  };

  private readonly onFile = (event: Event): void => {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (file) this.emit('lab-file', { file });
  };

  private onResetVm(vm: VmView): void {
    if (confirm(`Reset ${vm.name} to its template? What you did in it is lost.`)) this.emit('vm-reset-template', { vmId: vm.id! });
  }

  private readonly onResetLab = (): void => {
    if (confirm('Reset the whole lab? Every VM goes back to its template; clones and new VMs are deleted.')) this.emit('lab-reset', {});
  };

  private readonly onIdle = (event: SubmitEvent): void => {
    event.preventDefault();
    const text = String(new FormData(event.target as HTMLFormElement).get('seconds') ?? '').trim();
    this.emit('idle-pause', { seconds: text === '' ? null : Number(text) });
  };

  private emit<T>(name: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(name, { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-lab-tools': TvLabTools;
  }
}
