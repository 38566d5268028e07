// <tv-status-line>: one line saying what the VM is doing (loading, booting, ready, failed ...).
import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { SessionPhase } from './vm-session.js';

const LABEL: Record<SessionPhase, string> = {
  loading: 'Loading',
  booting: 'Booting',
  ready: 'Ready',
  paused: 'Paused',
  stopped: 'Stopped',
  failed: 'Failed',
};

@customElement('tv-status-line')
export class TvStatusLine extends LitElement {
  static override styles = css`
    :host {
      display: flex;
      align-items: center;
      gap: 0.6rem;
      font-size: 0.95rem;
      min-height: 1.6rem;
    }
    .badge {
      font-size: 0.75rem;
      font-weight: 600;
      letter-spacing: 0.04em;
      text-transform: uppercase;
      padding: 0.15rem 0.5rem;
      border-radius: 999px;
      background: #e4e7ec;
      color: #344054;
    }
    .busy .badge::before {
      content: '';
      display: inline-block;
      width: 0.5rem;
      height: 0.5rem;
      margin-right: 0.35rem;
      border-radius: 50%;
      border: 2px solid currentColor;
      border-right-color: transparent;
      vertical-align: -0.05rem;
      animation: spin 0.8s linear infinite;
    }
    .ready .badge { background: #d1fadf; color: #05603a; }
    .paused .badge, .stopped .badge { background: #fef0c7; color: #93370d; }
    .failed .badge { background: #fee4e2; color: #b42318; }
    .failed .message { color: #b42318; font-weight: 500; }
    .line { display: flex; align-items: center; gap: 0.6rem; }
    @keyframes spin { to { transform: rotate(360deg); } }
  `;

  @property() phase: SessionPhase = 'loading';
  @property() message = '';

  override render() {
    const busy = this.phase === 'loading' || this.phase === 'booting';
    return html`<div class="line ${this.phase} ${busy ? 'busy' : ''}" role="status" aria-live="polite">
      <span class="badge">${LABEL[this.phase]}</span><span class="message">${this.message}</span>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-status-line': TvStatusLine;
  }
}
