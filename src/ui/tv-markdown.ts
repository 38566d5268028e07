// <tv-markdown>: renders the Markdown subset of markdown.ts. Every string goes through Lit's
// text bindings (escaped); only the tags below are ever made, and links open in a new tab
// without access to this page.
import { LitElement, css, html, type TemplateResult } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { parseMarkdown, type Block, type Inline } from './markdown.js';

function inline(nodes: Inline[]): TemplateResult[] {
  return nodes.map((n) => {
    switch (n.kind) {
      case 'text': return html`${n.text}`;
      case 'code': return html`<code>${n.text}</code>`;
      case 'strong': return html`<strong>${inline(n.children)}</strong>`;
      case 'em': return html`<em>${inline(n.children)}</em>`;
      case 'link': return html`<a href=${n.href} target="_blank" rel="noopener noreferrer">${inline(n.children)}</a>`;
    }
  });
}

function block(b: Block): TemplateResult {
  switch (b.kind) {
    case 'p': return html`<p>${inline(b.children)}</p>`;
    case 'h': return b.level === 1 ? html`<h3>${inline(b.children)}</h3>` : b.level === 2 ? html`<h4>${inline(b.children)}</h4>` : html`<h5>${inline(b.children)}</h5>`;
    case 'ul': return html`<ul>${b.items.map((item) => html`<li>${inline(item)}</li>`)}</ul>`;
    case 'ol': return html`<ol>${b.items.map((item) => html`<li>${inline(item)}</li>`)}</ol>`;
    case 'pre': return html`<pre><code>${b.text}</code></pre>`;
  }
}

@customElement('tv-markdown')
export class TvMarkdown extends LitElement {
  static override styles = css`
    :host { display: block; font-size: 0.9rem; line-height: 1.45; overflow-wrap: anywhere; }
    p, ul, ol, pre { margin: 0.35rem 0; }
    h3, h4, h5 { margin: 0.5rem 0 0.25rem; font-size: 0.95rem; }
    ul, ol { padding-left: 1.3rem; }
    code { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 0.85em; background: #f2f4f7; padding: 0.05rem 0.25rem; border-radius: 4px; }
    pre { background: #f2f4f7; padding: 0.4rem 0.6rem; border-radius: 6px; overflow-x: auto; max-width: 100%; }
    pre code { background: none; padding: 0; }
    a { color: #2e6bd6; }
  `;

  @property() source = '';

  override render() {
    return parseMarkdown(this.source).map(block);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-markdown': TvMarkdown;
  }
}
