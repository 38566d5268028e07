// <tv-vm-console>: one guest console in xterm.js. It only displays bytes and reports keystrokes:
//   write(bytes)            guest output (UTF-8) into the terminal
//   'console-input' event   detail: string typed or pasted by the user, for the guest
//   'console-resize' event  detail: { cols, rows } after the terminal was fitted to its box
//   screenReader            xterm.js's screen-reader mode (an accessible copy of the rows)
// Copy: select with the mouse, then Ctrl+Shift+C (or the browser's copy). Paste: Ctrl+Shift+V
// (or the browser's paste). Plain Ctrl+C and Ctrl+V stay terminal keys (interrupt, literal next).
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import xtermCss from '@xterm/xterm/css/xterm.css?inline';
import { LitElement, css, html, unsafeCSS } from 'lit';
import { customElement, property } from 'lit/decorators.js';

export interface ConsoleSize {
  cols: number;
  rows: number;
}

@customElement('tv-vm-console')
export class TvVmConsole extends LitElement {
  static override styles = [
    unsafeCSS(xtermCss),
    css`
      :host {
        display: block;
        position: relative;
        min-height: 12rem;
        background: #16181d;
        border-radius: 6px;
        padding: 6px;
        box-sizing: border-box;
      }
      :host(:focus-within) {
        outline: 2px solid #84adff;
        outline-offset: 2px;
      }
      .terminal-box {
        position: absolute;
        inset: 6px;
      }
    `,
  ];

  /** xterm.js's screen-reader mode: rows mirrored into an accessible tree, output announced. */
  @property({ type: Boolean }) screenReader = false;
  private terminal: Terminal | null = null;
  private fitAddon: FitAddon | null = null;
  private resizeObserver: ResizeObserver | null = null;
  private fitScheduled = false;
  /**
   * The view follows the last line, unless the user scrolled back (wheel up); typing or scrolling
   * down to the end follows again. Reflows and xterm.js's late scroll sync do not change it.
   */
  private following = true;
  /** Fits done so far; a settle chain of an older fit stops. */
  private fits = 0;
  /** Timer that puts a following view back at the end when a late sync left it above (see firstUpdated). */
  private keeper: ReturnType<typeof setInterval> | undefined;
  private reported: ConsoleSize | undefined;
  /** Output that arrived before the terminal existed. */
  private early: Uint8Array[] = [];

  override render() {
    return html`<div class="terminal-box" part="terminal"></div>`;
  }

  override firstUpdated(): void {
    const box = this.renderRoot.querySelector<HTMLDivElement>('.terminal-box');
    if (!box) return;
    const terminal = new Terminal({
      fontFamily: '"DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      // At line height 1 the row box is exactly the font's ascent + descent, and the underscore of
      // DejaVu/Liberation Mono is drawn at or below the descent: rows clip it (a_b shows as "a b").
      lineHeight: 1.2,
      cursorBlink: true,
      screenReaderMode: this.screenReader,
      scrollback: 5000,
      convertEol: false,
      theme: { background: '#16181d', foreground: '#e6e6e6', cursor: '#e6e6e6', selectionBackground: '#3e5c8a' },
    });
    const fitAddon = new FitAddon();
    terminal.loadAddon(fitAddon);
    terminal.open(box);
    terminal.attachCustomKeyEventHandler((event) => this.handleClipboardKeys(event));
    terminal.onData((data) => {
      this.following = true; // xterm.js scrolls to the end on input
      this.emitInput(data);
    });
    // Capture: decide before xterm.js scrolls, so that onScroll below does not undo the user's scroll.
    box.addEventListener('wheel', (event) => {
      if (event.deltaY < 0) this.following = false;
      else requestAnimationFrame(() => (this.following = this.atEnd));
    }, { passive: true, capture: true });
    box.addEventListener('pointerdown', (event) => {
      if ((event.target as Element | null)?.closest?.('.scrollbar')) this.following = false;
    }, { capture: true });
    box.addEventListener('pointerup', () => requestAnimationFrame(() => (this.following = this.following || this.atEnd)));
    // Whatever else moves a following view off the end (a reflow, xterm.js's late scroll sync,
    // a console drawn while off-screen) is put back.
    terminal.onScroll(() => {
      if (this.following && !this.atEnd) queueMicrotask(() => this.terminal?.scrollToBottom());
    });
    // Binary data (some mouse reports) is latin-1, one byte per char.
    terminal.onBinary((data) => this.emitInput(data));
    terminal.onResize(() => this.reportSize());
    this.terminal = terminal;
    this.fitAddon = fitAddon;
    for (const chunk of this.early) terminal.write(chunk);
    this.early = [];
    this.resizeObserver = new ResizeObserver(() => this.scheduleFit());
    this.resizeObserver.observe(this);
    this.scheduleFit();
    // xterm.js can leave the view off the end without a scroll event we see: seen at 1280 -> 390 px
    // on a loaded machine, frames after the settle chain ended, and for good while the guest is
    // quiet. Two numbers compared a few times a second.
    this.keeper = setInterval(() => {
      if (this.following && !this.atEnd) this.toEnd();
    }, 250);
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('screenReader') && this.terminal) this.terminal.options.screenReaderMode = this.screenReader;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resizeObserver?.disconnect();
    this.resizeObserver = null;
    clearInterval(this.keeper);
    this.keeper = undefined;
    this.terminal?.dispose();
    this.terminal = null;
    this.fitAddon = null;
  }

  /** Guest output: UTF-8 bytes, escape sequences included. */
  write(data: Uint8Array): void {
    if (!this.terminal) {
      this.early.push(data.slice());
      return;
    }
    // A view that follows the end shows new output even if a reflow left it above the end.
    this.terminal.write(data, () => {
      if (this.following && !this.atEnd) this.terminal?.scrollToBottom();
    });
  }

  /** Writes a line of our own (not the guest's), e.g. a notice when the VM stops. */
  writeNotice(text: string): void {
    this.write(new TextEncoder().encode(`\r\n\x1b[2m[${text}]\x1b[0m\r\n`));
  }

  focusTerminal(): void {
    this.terminal?.focus();
  }

  /**
   * The terminal's text (scrollback included): one line per logical line, rows that the terminal
   * wrapped joined again, trailing blanks of each line and trailing empty lines cut.
   */
  bufferText(): string {
    const buffer = this.terminal?.buffer.active;
    if (!buffer) return '';
    const lines: string[] = [];
    for (let y = 0; y < buffer.length; y++) {
      const row = buffer.getLine(y);
      if (!row) continue;
      const next = buffer.getLine(y + 1);
      // A row continued on the next one keeps its trailing blanks: they are part of the line.
      const text = row.translateToString(!next?.isWrapped);
      if (row.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
      else lines.push(text);
    }
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.join('\n');
  }

  /**
   * Where a cell of the visible screen is, in page coordinates (row 0 is the top visible row).
   * Tests use it to look at the pixels of one character.
   */
  cellRect(row: number, col: number): { x: number; y: number; width: number; height: number } | null {
    const screen = this.renderRoot.querySelector('.xterm-screen');
    if (!this.terminal || !screen) return null;
    const box = screen.getBoundingClientRect();
    const width = box.width / this.terminal.cols;
    const height = box.height / this.terminal.rows;
    return { x: box.x + col * width, y: box.y + row * height, width, height };
  }

  /** The visible row (0 = top) whose text is exactly `text`, the last one when several are. */
  visibleRowOf(text: string): number {
    const buffer = this.terminal?.buffer.active;
    if (!buffer || !this.terminal) return -1;
    for (let row = this.terminal.rows - 1; row >= 0; row--) {
      if (buffer.getLine(buffer.viewportY + row)?.translateToString(true) === text) return row;
    }
    return -1;
  }

  /** The view shows the last line (not scrolled back). */
  get atEnd(): boolean {
    const buffer = this.terminal?.buffer.active;
    return !buffer || buffer.viewportY >= buffer.baseY;
  }

  get size(): ConsoleSize | null {
    return this.terminal ? { cols: this.terminal.cols, rows: this.terminal.rows } : null;
  }

  private emitInput(data: string): void {
    this.dispatchEvent(new CustomEvent<string>('console-input', { detail: data, bubbles: true, composed: true }));
  }

  private handleClipboardKeys(event: KeyboardEvent): boolean {
    // Shift+PageUp/PageDown scroll the view in xterm.js: up stops following, down to the end follows again.
    if (event.type === 'keydown' && event.shiftKey && !event.ctrlKey && !event.altKey) {
      if (event.key === 'PageUp') this.following = false;
      else if (event.key === 'PageDown') requestAnimationFrame(() => (this.following = this.atEnd));
    }
    if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey || event.altKey) return true;
    const key = event.key.toLowerCase();
    if (key === 'c') {
      const selection = this.terminal?.getSelection() ?? '';
      if (selection) void navigator.clipboard?.writeText(selection).catch(() => {});
      event.preventDefault();
      return false;
    }
    if (key === 'v') {
      // The browser asks the user once for clipboard access; its own paste (context menu) works too.
      void navigator.clipboard
        ?.readText()
        .then((text) => {
          if (text) this.terminal?.paste(text);
        })
        .catch(() => {});
      event.preventDefault();
      return false;
    }
    return true;
  }

  private scheduleFit(): void {
    if (this.fitScheduled) return;
    this.fitScheduled = true;
    requestAnimationFrame(() => {
      this.fitScheduled = false;
      // fit() measures the box; a hidden (display: none) console has no size to fit to.
      if (this.terminal && this.offsetWidth > 0 && this.offsetHeight > 0) {
        this.fitAddon?.fit();
        this.reportSize(); // also when the fitted size is the terminal's first one
      }
      this.settle(++this.fits, 3);
    });
  }

  /**
   * For a few frames after a fit, puts a following view back at the end: a reflow to another width
   * can leave it above the end, and xterm.js syncs its scroll position from the viewport element
   * a frame later, which undoes one scroll (seen at 1280 → 390 px: 3 rows above the end).
   */
  private settle(fit: number, frames: number): void {
    if (fit !== this.fits) return;
    if (this.following) this.toEnd();
    if (frames > 0) requestAnimationFrame(() => this.settle(fit, frames - 1));
  }

  /**
   * Scrolls a following view to the end. xterm.js 6 scrolls through its viewport's scroll area, whose
   * height it updates only on a buffer resize or scroll; after a reflow that height can be stale, and
   * scrollToBottom is then clamped short of the end with no event, until the guest prints again.
   * Asking the viewport to sync (its height, from the current render dimensions) on the next render
   * lets the next try reach the end. Private in 6.0.0 (pinned), hence the guarded lookup.
   */
  private toEnd(): void {
    const terminal = this.terminal;
    if (!terminal) return;
    terminal.scrollToBottom();
    if (!this.atEnd) (terminal as unknown as { _core?: { _viewport?: { queueSync?: () => void } } })._core?._viewport?.queueSync?.();
  }

  private reportSize(): void {
    const size = this.size;
    if (!size || (this.reported && this.reported.cols === size.cols && this.reported.rows === size.rows)) return;
    this.reported = size;
    this.dispatchEvent(new CustomEvent<ConsoleSize>('console-resize', { detail: size, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-vm-console': TvVmConsole;
  }
}
