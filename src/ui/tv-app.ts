// <tv-app>: the first page. Boots one VM (the image named by ?image=NAME, x86-busybox by default)
// in a VM-host worker and shows its state and its console. The logic lives in VmSession.
import { LitElement, css, html } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { startBrowserVmHost } from '../worker/browser-client.js';
import './tv-status-line.js';
import './tv-vm-console.js';
import type { TvVmConsole } from './tv-vm-console.js';
import { VmSession, type SessionStatus } from './vm-session.js';

@customElement('tv-app')
export class TvApp extends LitElement {
  static override styles = css`
    :host {
      display: flex;
      flex-direction: column;
      height: 100vh;
      box-sizing: border-box;
      padding: 1rem 1.25rem 1.25rem;
      gap: 0.75rem;
      font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
      color: #1d2939;
      background: #f7f8fa;
    }
    header {
      display: flex;
      align-items: baseline;
      gap: 0.75rem;
      flex-wrap: wrap;
    }
    h1 {
      font-size: 1.25rem;
      margin: 0;
      font-weight: 650;
    }
    .image {
      color: #475467;
      font-size: 0.95rem;
    }
    .bar {
      display: flex;
      align-items: center;
      justify-content: space-between;
      gap: 1rem;
    }
    button {
      font: inherit;
      font-size: 0.85rem;
      padding: 0.25rem 0.8rem;
      border: 1px solid #d0d5dd;
      border-radius: 6px;
      background: #fff;
      color: #344054;
      cursor: pointer;
    }
    button:disabled {
      opacity: 0.5;
      cursor: default;
    }
    tv-vm-console {
      flex: 1;
    }
    .hint {
      font-size: 0.8rem;
      color: #667085;
      margin: 0;
    }
  `;

  @state() private status: SessionStatus = { phase: 'loading', message: 'Starting' };
  @query('tv-vm-console') private console!: TvVmConsole;
  private session: VmSession | null = null;

  override connectedCallback(): void {
    super.connectedCallback();
    const appRoot = new URL(import.meta.env.BASE_URL, document.baseURI);
    this.session = new VmSession({
      appRoot,
      imageName: new URLSearchParams(location.search).get('image'),
      connect: startBrowserVmHost,
      onStatus: (status) => this.onStatus(status),
      onConsole: (data) => this.console.write(data),
    });
    void this.updateComplete.then(() => this.session?.run());
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.session?.close();
    this.session = null;
  }

  /** The console's text (for tests and for people who want to copy all of it). */
  consoleText(): string {
    return this.console?.bufferText() ?? '';
  }

  get phase(): SessionStatus['phase'] {
    return this.status.phase;
  }

  override render() {
    const { phase, message, image } = this.status;
    const canPause = phase === 'booting' || phase === 'ready';
    return html`
      <header>
        <h1>Tabvisor</h1>
        ${image
          ? html`<span class="image" title=${image.description ?? ''}>${image.name} · ${image.arch} · ${image.memoryMiB} MiB · ${image.engine}</span>`
          : ''}
      </header>
      <div class="bar">
        <tv-status-line .phase=${phase} .message=${message}></tv-status-line>
        <div>
          ${phase === 'paused'
            ? html`<button @click=${() => this.session?.resume()}>Resume</button>`
            : html`<button ?disabled=${!canPause} @click=${() => this.session?.pause()}>Pause</button>`}
        </div>
      </div>
      <tv-vm-console @console-input=${(e: CustomEvent<string>) => this.session?.sendInput(e.detail)}></tv-vm-console>
      <p class="hint">Click the console to type. Copy: select, then Ctrl+Shift+C. Paste: Ctrl+Shift+V.</p>
    `;
  }

  private onStatus(status: SessionStatus): void {
    const previous = this.status.phase;
    this.status = status;
    if (status.phase === 'ready' && previous !== 'ready' && previous !== 'paused') this.console?.focusTerminal();
    if (status.phase === 'failed' || status.phase === 'stopped') this.console?.writeNotice(status.message);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-app': TvApp;
  }
}
