// <tv-file-transfer>: a VM panel's files row. Files dropped anywhere on the panel (or picked with
// the Upload button, for keyboards and phones) go to the guest's /root/upload; the Download form
// takes a guest path and the browser gets the file (a folder as NAME.tar). It asks through a
// 'vm-files' event (file-transfer.ts) and shows what happened in one line.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { VmFilesDetail, VmFilesRequest } from './file-transfer.js';
import type { VmView } from './lab-controller.js';

@customElement('tv-file-transfer')
export class TvFileTransfer extends LitElement {
  static override styles = css`
    :host { display: flex; gap: 0.35rem 0.6rem; flex-wrap: wrap; align-items: center; font-size: 0.8rem; color: #475467; }
    form { display: flex; gap: 0.35rem; align-items: center; flex-wrap: wrap; }
    button, input[type='text'] {
      font: inherit; padding: 0.2rem 0.65rem; border: 1px solid #d0d5dd; border-radius: 6px; background: #fff; color: #344054;
    }
    input[type='text'] { width: 11rem; padding: 0.15rem 0.4rem; font-family: ui-monospace, monospace; }
    button { cursor: pointer; }
    button:hover:not([aria-disabled='true']) { background: #f2f4f7; }
    button[aria-disabled='true'] { background: #f2f4f7; color: #98a2b3; border-color: #eaecf0; cursor: not-allowed; }
    button:focus-visible, input:focus-visible { outline: 2px solid #2e6bd6; outline-offset: 1px; }
    input[type='file'] { display: none; }
    .status { min-width: 0; overflow-wrap: anywhere; }
    .status.error { color: #b42318; }
    .status.busy { color: #667085; }
  `;

  @property({ attribute: false }) vm!: VmView;
  @state() private status: { kind: 'busy' | 'done' | 'error'; text: string } | undefined;
  private panel: HTMLElement | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    // Drops are taken on the whole panel this row sits in, not only on the row.
    const root = this.getRootNode();
    this.panel = root instanceof ShadowRoot ? (root.host as HTMLElement) : this;
    this.panel.addEventListener('dragover', this.onDragOver);
    this.panel.addEventListener('dragleave', this.onDragLeave);
    this.panel.addEventListener('drop', this.onDrop);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.panel?.removeEventListener('dragover', this.onDragOver);
    this.panel?.removeEventListener('dragleave', this.onDragLeave);
    this.panel?.removeEventListener('drop', this.onDrop);
    this.highlight(false);
  }

  private get running(): boolean {
    return this.vm?.id !== undefined && this.vm.state === 'running';
  }

  override render() {
    const off = !this.running || this.status?.kind === 'busy';
    const why = !this.running ? `Files move while ${this.vm?.name ?? 'the VM'} is running` : this.status?.kind === 'busy' ? 'Wait: a transfer is in progress' : '';
    return html`
      <button class="upload" aria-disabled=${off ? 'true' : 'false'} title=${why || 'Copy files to /root/upload in the guest (or drop them on this panel)'}
        @click=${() => (off ? this.say('error', why) : this.renderRoot.querySelector<HTMLInputElement>('input[type=file]')?.click())}>Upload files</button>
      <input type="file" multiple tabindex="-1" @change=${this.onPicked} />
      <form class="download" @submit=${this.onDownload}>
        <label>Download <input type="text" name="path" placeholder="/root/results" aria-label="Guest path to download"
          title="A file or folder in the guest (a folder comes as NAME.tar)" /></label>
        <button type="submit" aria-disabled=${off ? 'true' : 'false'} title=${why || 'Download this file, or this folder as a tar'}>Download</button>
      </form>
      ${this.status ? html`<span class="status ${this.status.kind}" role=${this.status.kind === 'error' ? 'alert' : 'status'}>${this.status.text}</span>` : nothing}
    `;
  }

  private readonly onDragOver = (e: DragEvent): void => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault(); // lets the drop happen
    e.dataTransfer.dropEffect = this.running ? 'copy' : 'none';
    this.highlight(true);
  };

  private readonly onDragLeave = (e: DragEvent): void => {
    if (e.target === this.panel) this.highlight(false);
  };

  private readonly onDrop = (e: DragEvent): void => {
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length === 0) return;
    e.preventDefault();
    this.highlight(false);
    void this.upload(files);
  };

  private readonly onPicked = (e: Event): void => {
    const input = e.target as HTMLInputElement;
    const files = [...(input.files ?? [])];
    input.value = '';
    if (files.length > 0) void this.upload(files);
  };

  private readonly onDownload = (e: SubmitEvent): void => {
    e.preventDefault();
    const path = String(new FormData(e.target as HTMLFormElement).get('path') ?? '').trim();
    if (!this.running || this.status?.kind === 'busy') return this.say('error', !this.running ? `Files move while ${this.vm.name} is running` : 'Wait: a transfer is in progress');
    if (path === '') return this.say('error', 'Type a path in the guest first, such as /root/results');
    void this.ask({ kind: 'download', vmId: this.vm.id!, path }, `Copying ${path} out of the guest …`);
  };

  private async upload(files: File[]): Promise<void> {
    if (!this.running) return this.say('error', `Files can be dropped while ${this.vm.name} is running`);
    if (this.status?.kind === 'busy') return this.say('error', 'Wait: a transfer is in progress');
    const what = files.length === 1 ? files[0]!.name : `${files.length} files`;
    await this.ask({ kind: 'upload', vmId: this.vm.id!, files }, `Copying ${what} to /root/upload (the guest's shell runs the copy) …`);
  }

  private async ask(request: VmFilesRequest, busyText: string): Promise<void> {
    const detail: VmFilesDetail = { ...request };
    this.dispatchEvent(new CustomEvent<VmFilesDetail>('vm-files', { detail, bubbles: true, composed: true }));
    if (!detail.result) return this.say('error', 'nothing on this page handles files');
    this.say('busy', busyText);
    try {
      this.say('done', await detail.result);
    } catch (error) {
      this.say('error', error instanceof Error ? error.message : String(error));
    }
  }

  private say(kind: 'busy' | 'done' | 'error', text: string): void {
    this.status = { kind, text };
  }

  private highlight(on: boolean): void {
    if (!this.panel || this.panel === this) return;
    this.panel.style.outline = on ? '2px dashed #2e6bd6' : '';
    this.panel.style.outlineOffset = on ? '-4px' : '';
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-file-transfer': TvFileTransfer;
  }
}
