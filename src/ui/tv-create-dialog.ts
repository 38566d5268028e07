// <tv-create-dialog>: the form for a new VM (image, name, memory, weight, cap). It only collects
// the values: 'create-vm' carries them; the page answers with `error` (the refusal) or closes it.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, query, state } from 'lit/decorators.js';
import type { ImageEntry } from '../engines/engine.js';
import { CAP_MAX, CAP_MIN, WEIGHT_MAX, WEIGHT_MIN } from './schedule-limits.js';

export interface CreateVmDetail {
  image: string;
  name?: string;
  memoryMiB?: number;
  weight?: number;
  capPercent?: number;
}

@customElement('tv-create-dialog')
export class TvCreateDialog extends LitElement {
  static override styles = css`
    dialog { border: 1px solid #d0d5dd; border-radius: 10px; padding: 1.25rem; width: min(26rem, 90vw); color: #1d2939; }
    dialog::backdrop { background: rgb(16 24 40 / 0.35); }
    h2 { margin: 0 0 0.75rem; font-size: 1.05rem; }
    form { display: grid; grid-template-columns: auto 1fr; gap: 0.5rem 0.75rem; align-items: center; }
    label { font-size: 0.85rem; color: #344054; }
    input, select { font: inherit; font-size: 0.9rem; padding: 0.25rem 0.4rem; border: 1px solid #d0d5dd; border-radius: 6px; }
    .error { grid-column: 1 / -1; color: #b42318; font-size: 0.85rem; margin: 0.25rem 0 0; }
    .buttons { grid-column: 1 / -1; display: flex; justify-content: flex-end; gap: 0.5rem; margin-top: 0.5rem; }
    button:focus-visible, input:focus-visible, select:focus-visible { outline: 2px solid #2e6bd6; outline-offset: 1px; }
    button { font: inherit; font-size: 0.85rem; padding: 0.3rem 0.9rem; border: 1px solid #d0d5dd; border-radius: 6px; background: #fff; cursor: pointer; }
    button[type='submit'] { background: #2e6bd6; border-color: #2e6bd6; color: #fff; }
  `;

  @property({ attribute: false }) images: ImageEntry[] = [];
  /** The hypervisor's refusal of the last request, shown in the form. */
  @property() error = '';
  @property({ type: Boolean }) busy = false;
  @state() private image = '';
  @query('dialog') private dialog!: HTMLDialogElement;

  show(): void {
    this.error = '';
    this.dialog.showModal();
  }

  close(): void {
    this.dialog?.close();
  }

  override render() {
    const selected = this.images.find((i) => i.name === this.image) ?? this.images[0];
    return html`<dialog>
      <h2>New VM</h2>
      <form novalidate @submit=${this.submit}>
        <label for="image">Image</label>
        <select id="image" name="image" @change=${(e: Event) => (this.image = (e.target as HTMLSelectElement).value)}>
          ${this.images.map((i) => html`<option value=${i.name} ?selected=${i === selected}>${i.name} (${i.arch}, ${i.engine})</option>`)}
        </select>
        <label for="name">Name</label>
        <input id="name" name="name" placeholder="automatic" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,62}" />
        <label for="memory">Memory (MiB)</label>
        <input id="memory" name="memoryMiB" type="number" min="1" step="1" placeholder=${String(selected?.memoryMiB ?? '')} />
        <label for="weight">Weight</label>
        <input id="weight" name="weight" type="number" step="any" placeholder="1" title="Relative CPU share, ${WEIGHT_MIN} to ${WEIGHT_MAX}" />
        <label for="cap">CPU cap (%)</label>
        <input id="cap" name="capPercent" type="number" step="any" placeholder="none" title="At most this % of one core, ${CAP_MIN} to ${CAP_MAX}" />
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
        <div class="buttons">
          <button type="button" @click=${() => this.close()}>Cancel</button>
          <button type="submit" ?disabled=${this.busy}>Create and start</button>
        </div>
      </form>
    </dialog>`;
  }

  private submit(event: SubmitEvent): void {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const number = (key: string): number | undefined => {
      const text = String(data.get(key) ?? '').trim();
      return text === '' ? undefined : Number(text);
    };
    const name = String(data.get('name') ?? '').trim();
    const detail: CreateVmDetail = { image: String(data.get('image')) };
    if (name) detail.name = name;
    const memoryMiB = number('memoryMiB');
    const weight = number('weight');
    const capPercent = number('capPercent');
    if (memoryMiB !== undefined) detail.memoryMiB = memoryMiB;
    if (weight !== undefined) detail.weight = weight;
    if (capPercent !== undefined) detail.capPercent = capPercent;
    this.dispatchEvent(new CustomEvent<CreateVmDetail>('create-vm', { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-create-dialog': TvCreateDialog;
  }
}
