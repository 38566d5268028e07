// <tv-tasks-panel>: the lab's tasks — instructions (safe Markdown), a Check button that runs the
// task's check in its VM, the state (not checked, checking, passed, failed with the check's FAIL:
// lines), hints revealed one at a time — and "Hand in". It renders and emits only:
// 'task-check' { id }, 'task-hint' { id }, 'hand-in' { student }.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { TaskView } from './task-board.js';
import './tv-markdown.js';

const STUDENT_KEY = 'tabvisor.student';

@customElement('tv-tasks-panel')
export class TvTasksPanel extends LitElement {
  static override styles = css`
    :host { display: block; background: #fff; border: 1px solid #e4e7ec; border-radius: 8px; padding: 0.75rem; min-width: 0; }
    h2 { font-size: 1rem; margin: 0 0 0.5rem; font-weight: 650; }
    ol.tasks { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.6rem; grid-template-columns: repeat(auto-fill, minmax(min(24rem, 100%), 1fr)); }
    li.task { border: 1px solid #eaecf0; border-radius: 6px; padding: 0.6rem; display: flex; flex-direction: column; gap: 0.35rem; min-width: 0; }
    .head { display: flex; align-items: baseline; gap: 0.5rem; flex-wrap: wrap; }
    h3 { font-size: 0.95rem; margin: 0; font-weight: 600; margin-right: auto; }
    .vm { color: #667085; font-size: 0.8rem; }
    .state { font-size: 0.7rem; font-weight: 600; letter-spacing: 0.04em; text-transform: uppercase; padding: 0.12rem 0.5rem; border-radius: 999px; background: #e4e7ec; color: #344054; }
    .state.passed { background: #d1fadf; color: #05603a; }
    .state.failed { background: #fee4e2; color: #b42318; }
    .state.checking { background: #eef4ff; color: #1d3f8a; }
    ul.failures { margin: 0; padding-left: 1.2rem; color: #b42318; font-size: 0.85rem; }
    ol.hints { margin: 0; padding-left: 1.2rem; font-size: 0.85rem; color: #475467; }
    .actions, .handin { display: flex; gap: 0.4rem; align-items: center; flex-wrap: wrap; }
    .handin { margin-top: 0.6rem; border-top: 1px solid #eaecf0; padding-top: 0.6rem; font-size: 0.85rem; }
    .handin input { font: inherit; padding: 0.2rem 0.4rem; border: 1px solid #d0d5dd; border-radius: 6px; width: 12rem; max-width: 100%; }
    button { font: inherit; font-size: 0.8rem; padding: 0.2rem 0.65rem; border: 1px solid #d0d5dd; border-radius: 6px; background: #fff; color: #344054; cursor: pointer; }
    button:disabled { background: #f2f4f7; color: #98a2b3; border-color: #eaecf0; cursor: not-allowed; }
    button.primary { background: #2e6bd6; border-color: #2e6bd6; color: #fff; }
    button:focus-visible, input:focus-visible { outline: 2px solid #2e6bd6; outline-offset: 1px; }
    .seed { color: #667085; }
  `;

  @property({ attribute: false }) tasks: TaskView[] = [];
  /** Something is being done to the whole lab ("Handing in"): the buttons wait. */
  @property() busy = '';
  @property() seed = '';
  /** The lab is loaded (checks and hand-in possible). */
  @property({ type: Boolean }) ready = false;

  override render() {
    return html`
      ${this.tasks.length
        ? html`<h2>Tasks</h2>
            <ol class="tasks">${this.tasks.map((task) => this.renderTask(task))}</ol>`
        : html`<h2>Hand in</h2>`}
      <form class="handin" @submit=${this.onHandIn}>
        <label for="student">Your name</label>
        <input id="student" name="student" autocomplete="name" maxlength="64" .value=${localStorage.getItem(STUDENT_KEY) ?? ''} />
        <button id="hand-in" class="primary" type="submit" ?disabled=${!this.ready || this.busy !== ''}
          title="Download one file with this lab, your results and every VM, for your teacher">${this.busy === 'Handing in' ? 'Handing in…' : 'Hand in'}</button>
        ${this.seed ? html`<span class="seed">Seed: <code>${this.seed}</code></span>` : nothing}
      </form>
    `;
  }

  private renderTask(task: TaskView) {
    const checking = task.state === 'checking';
    return html`<li class="task" data-task=${task.id}>
      <div class="head">
        <h3>${task.title}</h3>
        <span class="vm">in ${task.vm}</span>
        <span class="state ${task.state.replace(' ', '-')}" role="status">${task.state}${task.checkedAt && !checking ? html` · ${task.checkedAt}` : nothing}</span>
      </div>
      ${task.instructions ? html`<tv-markdown .source=${task.instructions}></tv-markdown>` : nothing}
      ${task.failures.length ? html`<ul class="failures">${task.failures.map((line) => html`<li>${line}</li>`)}</ul>` : nothing}
      ${task.hints.length ? html`<ol class="hints">${task.hints.map((hint) => html`<li><tv-markdown .source=${hint}></tv-markdown></li>`)}</ol>` : nothing}
      <div class="actions">
        <button class="check" ?disabled=${!this.ready || checking} @click=${() => this.emit('task-check', { id: task.id })}
          title="Run this task's check in ${task.vm}">${checking ? 'Checking…' : 'Check'}</button>
        ${task.hintsTotal > 0
          ? html`<button class="hint" ?disabled=${task.hints.length >= task.hintsTotal} @click=${() => this.emit('task-hint', { id: task.id })}>
              ${task.hints.length >= task.hintsTotal ? 'No more hints' : `Show a hint (${task.hints.length + 1} of ${task.hintsTotal})`}</button>`
          : nothing}
      </div>
    </li>`;
  }

  private readonly onHandIn = (event: SubmitEvent): void => {
    event.preventDefault();
    const student = String(new FormData(event.target as HTMLFormElement).get('student') ?? '').trim();
    localStorage.setItem(STUDENT_KEY, student);
    this.emit('hand-in', { student });
  };

  private emit<T>(name: string, detail: T): void {
    this.dispatchEvent(new CustomEvent<T>(name, { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tv-tasks-panel': TvTasksPanel;
  }
}
