// <tv-storage>: the line that says where the VMs' disks are kept: the browser storage used and
// available, whether the browser keeps it (persistent storage), and when another tab owns the
// lab's disks, that VMs here run without them. "Saved disks" lists every disk this browser keeps
// (saved-disks.ts) and deletes those of labs no tab has open.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { DiskOwnership, StorageFigures } from './page-disks.js';
import { deleteSavedDisk, listSavedDisks, type SavedDisk } from './saved-disks.js';

@customElement('tv-storage')
export class TvStorage extends LitElement {
  static override styles = css`
    :host { display: inline; font-size: 0.85rem; color: #667085; font-variant-numeric: tabular-nums; }
    .warn { color: #912018; }
    details { display: inline-block; margin-left: 0.5rem; vertical-align: top; }
    summary { cursor: pointer; }
    ul { margin: 0.25rem 0; padding-left: 1.2rem; }
    li button { font-size: 0.8rem; margin-left: 0.3rem; }
  `;

  @property({ attribute: false }) ownership: DiskOwnership = { kind: 'checking' };
  @property({ attribute: false }) figures: StorageFigures = {};
  /** The lab this tab opened (its disks are "here" while this tab owns them). */
  @property({ attribute: false }) lab: string | undefined;
  @state() private saved: SavedDisk[] | undefined;
  @state() private note = '';

  override render() {
    const o = this.ownership;
    if (o.kind === 'other-tab') {
      return html`<span class="warn" role="alert" id="disk-owner">Disks: this lab is open in another tab, which keeps its disks. VMs here run without them; close that tab and reload to use them here.</span>${this.savedList()}`;
    }
    if (o.kind === 'unavailable') return html`<span id="disk-owner">No disks: ${o.why}</span>`;
    if (o.kind === 'checking') return nothing;
    const f = this.figures;
    const used = f.usedBytes !== undefined && f.quotaBytes !== undefined ? ` · ${mib(f.usedBytes)} of ${mib(f.quotaBytes)} used` : '';
    const kept = f.persisted === true ? 'kept by the browser' : f.persisted === false ? 'may be cleared by the browser when space runs low' : '';
    return html`<span id="disk-owner" title="Each VM's /root is a disk saved in this browser">Disks: saved here${used}${kept ? ` · ${kept}` : ''}</span>${this.savedList()}`;
  }

  private savedList() {
    const here = this.ownership.kind === 'owned' ? this.lab : undefined;
    const line = (d: SavedDisk) => html`<li data-key=${d.key}>${d.key}${d.bytes !== undefined ? ` · ${mib(d.bytes)}` : ''} · ${
      d.use === 'here' ? 'this lab\'s (Reset lab empties it)' : d.use === 'other-tab' ? 'its lab is open in another tab' : html`<button @click=${() => void this.deleteDisk(d.key)}>Delete</button>`
    }</li>`;
    return html`<details id="saved-disks" @toggle=${(e: Event) => (e.target as HTMLDetailsElement).open && void this.refresh(here)}>
      <summary>Saved disks</summary>
      ${this.saved === undefined ? 'Looking…' : this.saved.length === 0 ? 'No disk is saved in this browser.' : html`<ul>${this.saved.map(line)}</ul>`}
      ${this.note ? html`<div role="status">${this.note}</div>` : nothing}
    </details>`;
  }

  private async refresh(here: string | undefined): Promise<void> {
    try {
      this.saved = await listSavedDisks(here);
    } catch (err) {
      this.saved = [];
      this.note = `The saved disks could not be listed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  private async deleteDisk(key: string): Promise<void> {
    if (!confirm(`Delete the saved disk ${key}? Every file on it is lost.`)) return;
    try {
      const result = await deleteSavedDisk(key);
      this.note = result === 'in-use' ? `${key} was not deleted: its lab is open in a tab.` : `${key} deleted.`;
    } catch (err) {
      this.note = `${key} could not be deleted: ${err instanceof Error ? err.message : String(err)}`;
    }
    await this.refresh(this.ownership.kind === 'owned' ? this.lab : undefined);
  }
}

function mib(bytes: number): string {
  if (bytes < 1024 ** 2) return `${Math.ceil(bytes / 1024)} KiB`;
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
