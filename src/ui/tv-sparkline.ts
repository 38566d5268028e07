// <tv-sparkline>: one figure as a label, its latest value and a small line chart of its history.
import { LitElement, css, html, svg } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { sparklinePoints } from './figures.js';

const WIDTH = 72;
const HEIGHT = 24;

@customElement('tv-sparkline')
export class TvSparkline extends LitElement {
  static override styles = css`
    :host { display: inline-flex; align-items: center; gap: 0.4rem; font-size: 0.8rem; color: #475467; }
    /* Fixed width, digits of equal width: "0.6 MIPS" and "157 MIPS" take the same room. */
    .value { font-variant-numeric: tabular-nums; color: #1d2939; width: 8ch; text-align: right; white-space: nowrap; }
    svg { display: block; background: #f2f4f7; border-radius: 3px; }
    polyline { fill: none; stroke: #2e6bd6; stroke-width: 1.5; stroke-linejoin: round; }
  `;

  @property() label = '';
  @property() value = '';
  @property({ attribute: false }) values: readonly number[] = [];
  /** Fixed top of the scale (1 for a share); the largest value when absent. */
  @property({ type: Number }) max: number | undefined;

  override render() {
    // One pixel of room above and below, so that a flat line at the top or bottom stays visible.
    const points = sparklinePoints(this.values, { width: WIDTH, height: HEIGHT - 2, ...(this.max !== undefined ? { max: this.max } : {}) });
    return html`<span>${this.label}</span><span class="value">${this.value}</span>
      <svg width=${WIDTH} height=${HEIGHT} viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${this.label} over the last minute">
        ${svg`<polyline transform="translate(0 1)" points=${points}></polyline>`}
      </svg>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-sparkline': TvSparkline;
  }
}
