// <tv-status-line>: a badge and one line of text, e.g. [RUNNING] shell ready. It only renders.
import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';

/** Badge colours: busy states spin, good ones are green, held ones amber, broken ones red. */
const TONE: Record<string, 'busy' | 'good' | 'held' | 'bad' | 'plain'> = {
  loading: 'busy',
  booting: 'busy',
  ready: 'good',
  running: 'good',
  paused: 'held',
  stopped: 'held',
  created: 'plain',
  failed: 'bad',
  crashed: 'bad',
  unavailable: 'bad',
};

@customElement('tv-status-line')
export class TvStatusLine extends LitElement {
  static override styles = css`
    :host { display: flex; align-items: center; min-height: 1.5rem; font-size: 0.9rem; }
    .line { display: flex; align-items: center; gap: 0.5rem; min-width: 0; }
    .badge {
      flex: none;
      font-size: 0.7rem;
      font-weight: 600;
      letter-spacing: 0.04em;
      text-transform: uppercase;
      padding: 0.12rem 0.5rem;
      border-radius: 999px;
      background: #e4e7ec;
      color: #344054;
    }
    .message { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: #475467; }
    .busy .badge::before {
      content: '';
      display: inline-block;
      width: 0.45rem;
      height: 0.45rem;
      margin-right: 0.35rem;
      border-radius: 50%;
      border: 2px solid currentColor;
      border-right-color: transparent;
      vertical-align: -0.05rem;
      /* 8 steps a turn (10 frames a second), not 60: a smooth turn kept the compositor drawing
         a frame every 16 ms for the whole of a lab's load, about a CPU second (bench/RESULTS.md). */
      animation: spin 0.8s steps(8) infinite;
    }
    .good .badge { background: #d1fadf; color: #05603a; }
    .held .badge { background: #fef0c7; color: #93370d; }
    .bad .badge { background: #fee4e2; color: #b42318; }
    .bad .message { color: #b42318; font-weight: 500; white-space: normal; }
    @keyframes spin { to { transform: rotate(360deg); } }
  `;

  /** A lifecycle state or page phase: it picks the badge's colour and, by default, its text. */
  @property() phase = 'loading';
  @property() label = '';
  @property() message = '';

  override render() {
    const tone = TONE[this.phase] ?? 'plain';
    return html`<div class="line ${tone}" role="status" aria-live="polite">
      <span class="badge">${this.label || this.phase}</span><span class="message" title=${this.message}>${this.message}</span>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-status-line': TvStatusLine;
  }
}
