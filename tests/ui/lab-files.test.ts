// Labs as files in the page's logic, without a browser: the Markdown subset (and that it never
// makes HTML), where a lab comes from and the one-line errors, task states, and LabController's
// resets, hand-in and idle pausing over a real Hypervisor with the fake shell engine (in-process
// VmHosts). The real guests run these in tests/e2e/lab-tasks.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { readHandIn } from '../../src/hypervisor/hand-in.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { parseLab } from '../../src/hypervisor/lab.js';
import type { LabTask, TaskResult } from '../../src/hypervisor/lab-tasks.js';
import { MemoryTemplateStore, templateKey } from '../../src/hypervisor/template-store.js';
import { LabController, type SettingsStore } from '../../src/ui/lab-controller.js';
import { labSourceFromParam, readLabJson } from '../../src/ui/lab-source.js';
import { parseInline, parseMarkdown } from '../../src/ui/markdown.js';
import { studentProblem } from '../../src/ui/page-hand-in.js';
import { TaskBoard } from '../../src/ui/task-board.js';
import { image, killableHost } from '../hypervisor/support/fake-engine.js';

const images = [image('riscv64-busybox', 'rv64'), image('x86-busybox', 'v86')];

describe('the Markdown subset', () => {
  it('parses paragraphs, headings, lists, code blocks and inline spans', () => {
    expect(parseMarkdown('# Title\n\nSome *em* and **strong** and `code`.\nSame paragraph.\n\n- one\n- two\n\n1. first\n2. second\n\n```\n<b>x</b>\n```')).toEqual([
      { kind: 'h', level: 1, children: [{ kind: 'text', text: 'Title' }] },
      {
        kind: 'p',
        children: [
          { kind: 'text', text: 'Some ' },
          { kind: 'em', children: [{ kind: 'text', text: 'em' }] },
          { kind: 'text', text: ' and ' },
          { kind: 'strong', children: [{ kind: 'text', text: 'strong' }] },
          { kind: 'text', text: ' and ' },
          { kind: 'code', text: 'code' },
          { kind: 'text', text: '. Same paragraph.' },
        ],
      },
      { kind: 'ul', items: [[{ kind: 'text', text: 'one' }], [{ kind: 'text', text: 'two' }]] },
      { kind: 'ol', items: [[{ kind: 'text', text: 'first' }], [{ kind: 'text', text: 'second' }]] },
      { kind: 'pre', text: '<b>x</b>' },
    ]);
  });

  it('keeps raw HTML as text and links only to http(s)', () => {
    const html = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    expect(parseInline(html)).toEqual([{ kind: 'text', text: html }]);
    expect(parseInline('[a](javascript:alert(1))')).toEqual([{ kind: 'text', text: '[a](javascript:alert(1))' }]);
    expect(parseInline('[a](data:text/html,x)')[0]).toMatchObject({ kind: 'text' });
    expect(parseInline('[site](https://example.org/x)')).toEqual([{ kind: 'link', href: 'https://example.org/x', children: [{ kind: 'text', text: 'site' }] }]);
    // Underscores inside words are not emphasis (window.__x and a__b__c stay whole).
    expect(parseInline('a window.__pwned=1 b window.__pwned=2')).toEqual([{ kind: 'text', text: 'a window.__pwned=1 b window.__pwned=2' }]);
    expect(parseInline('call a__init__b or _this_')).toEqual([{ kind: 'text', text: 'call a__init__b or ' }, { kind: 'em', children: [{ kind: 'text', text: 'this' }] }]);
    // Unclosed markers and snake_case stay as typed.
    expect(parseInline('a * b and file_name_here and `open')).toEqual([{ kind: 'text', text: 'a * b and file_name_here and `open' }]);
  });
});

describe('where a lab comes from', () => {
  it('tells built-in names from URLs and files', () => {
    expect(labSourceFromParam(null)).toEqual({ kind: 'builtin', name: 'default' });
    expect(labSourceFromParam('networking')).toEqual({ kind: 'builtin', name: 'networking' });
    expect(labSourceFromParam('https://x.org/l.json')).toEqual({ kind: 'url', url: 'https://x.org/l.json' });
    expect(labSourceFromParam('labs/mine.json')).toEqual({ kind: 'url', url: 'labs/mine.json' });
    expect(labSourceFromParam('file:my.json')).toEqual({ kind: 'file', fileName: 'my.json' });
  });

  it('fails with one line that lists the built-in labs', async () => {
    const readers = {
      loadBuiltin: async () => {
        throw new Error('not in this build');
      },
      fetchText: async (url: string) => {
        if (url.endsWith('404.json')) throw new Error('HTTP 404 Not Found');
        return '{ nope';
      },
      fileText: () => undefined,
      labNames: ['default', 'net'],
    };
    const fails = (source: Parameters<typeof readLabJson>[0]) => readLabJson(source, readers).then(() => 'loaded', (e: Error) => e.message);
    expect(await fails({ kind: 'builtin', name: 'x' })).toBe('no lab named "x" (labs/x.json: not in this build); labs here: default, net');
    expect(await fails({ kind: 'url', url: 'https://h/404.json' })).toBe('could not fetch the lab https://h/404.json: HTTP 404 Not Found; labs here: default, net');
    expect(await fails({ kind: 'url', url: 'https://h/bad.json' })).toMatch(/^https:\/\/h\/bad\.json is not JSON \(.+\); labs here: default, net$/);
    expect(await fails({ kind: 'file', fileName: 'gone.json' })).toBe('the lab file gone.json is not open in this tab any more: open it again; labs here: default, net');
    for (const message of [await fails({ kind: 'url', url: 'https://h/bad.json' })]) expect(message).not.toContain('\n');
  });
});

describe('idlePauseSeconds in a lab manifest', () => {
  it('is optional, whole seconds from 10 to 86400, and refused otherwise with one line', () => {
    const lab = (extra: Record<string, unknown>) => ({ format: 'tabvisor-lab/1', name: 'l', vms: [{ name: 'a', image: 'x86-busybox' }], ...extra });
    expect(parseLab(lab({}), images).idlePauseSeconds).toBeUndefined();
    expect(parseLab(lab({ idlePauseSeconds: 600 }), images).idlePauseSeconds).toBe(600);
    expect(() => parseLab(lab({ idlePauseSeconds: 5 }), images)).toThrow('lab: "idlePauseSeconds" must be a whole number of seconds from 10 to 86400, got 5');
    expect(() => parseLab(lab({ idlePauseSeconds: 'soon' }), images)).toThrow('lab: "idlePauseSeconds" must be a number, got "soon"');
  });
});

describe('TaskBoard', () => {
  const tasks: LabTask[] = [
    { id: 'a', title: 'A', vm: 'x86', check: 'true', hints: ['one', 'two'] },
    { id: 'b', title: 'B', vm: 'x86', check: 'false' },
  ];

  it('shows not checked, checking, passed and failed with the FAIL: lines; hints one at a time', async () => {
    let release!: (r: TaskResult) => void;
    const board = new TaskBoard(tasks, (task) => new Promise((resolve) => (release = (r) => resolve({ ...r, id: task.id }))), () => {}, () => '10:00:00');
    expect(board.views.map((t) => t.state)).toEqual(['not checked', 'not checked']);
    const running = board.check('b');
    expect(board.views[1]!.state).toBe('checking');
    await new Promise((r) => setTimeout(r, 0)); // the check starts once the queue reaches it
    release({ id: 'b', passed: false, exitCode: 1, failures: ['no file'], output: 'FAIL: no file' });
    await running;
    expect(board.views[1]).toMatchObject({ state: 'failed', failures: ['no file'], checkedAt: '10:00:00' });
    const other = board.check('a');
    await new Promise((r) => setTimeout(r, 0));
    release({ id: 'a', passed: false, exitCode: -1, failures: [], output: '', error: 'no shell answered' });
    await other;
    expect(board.views[0]!.failures).toEqual(['the check could not run: no shell answered']);
    expect(board.revealHint('a')).toBe(true);
    expect(board.views[0]!.hints).toEqual(['one']);
    board.revealHint('a');
    expect(board.revealHint('a')).toBe(false);
    expect(board.hintSummary()).toEqual(['a: 2 of 2 hints shown']);
    expect(board.recorded().map((r) => r.id)).toEqual(['a', 'b']);
    board.forget(new Set(['x86']));
    expect(board.views.map((t) => t.state)).toEqual(['not checked', 'not checked']);
  });

  it('runs one check at a time (two scripts typed on one console would mix)', async () => {
    let running = 0;
    let most = 0;
    const board = new TaskBoard(tasks, async (task) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return { id: task.id, passed: true, exitCode: 0, failures: [], output: '' };
    }, () => {}, () => '10:00:00');
    await Promise.all([board.check('a'), board.check('b')]);
    expect(most).toBe(1);
    expect(board.views.map((t) => t.state)).toEqual(['passed', 'passed']);
  });

  it('refuses a student name that is not a name', () => {
    expect(studentProblem('')).toBeUndefined();
    expect(studentProblem("Zoë O'Neil")).toBeUndefined();
    expect(studentProblem('a/../b')).toMatch(/your name may have/);
  });
});

class MemorySettings implements SettingsStore {
  readonly values = new Map<string, string>();
  getItem(key: string): string | null {
    return this.values.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.values.set(key, value);
  }
}

const labJson = {
  format: 'tabvisor-lab/1',
  name: 'idle-lab',
  idlePauseSeconds: 30,
  vms: [{ name: 'x86', image: 'x86-busybox' }],
  tasks: [{ id: 't', title: 'T', vm: 'x86', check: 'true' }],
};

const open: LabController[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function controller(options: { templates?: MemoryTemplateStore; clock?: () => number; settings?: MemorySettings } = {}) {
  const settings = options.settings ?? new MemorySettings();
  settings.setItem('tabvisor.memoryBudgetMiB', '256');
  const c = new LabController({
    source: { kind: 'url', url: 'https://teacher.example/idle-lab.json' },
    fetchText: async () => JSON.stringify(labJson),
    labNames: ['default'],
    seed: null,
    loadJson: async (path) => {
      if (path === 'images/manifest.json') return { images };
      throw new Error('HTTP 404');
    },
    makeHypervisor: (imgs, budget) => new Hypervisor({ images: imgs, memoryBudgetBytes: budget, poolSize: 1, hosts: async (i) => killableHost(i).connection }),
    templates: options.templates ?? new MemoryTemplateStore(),
    work: new MemoryTemplateStore(),
    settings,
    onChange: () => {},
    idleTickMs: 60_000, // ticks are driven by the test
    ...(options.clock ? { clock: options.clock } : {}),
  });
  open.push(c);
  return c;
}

describe('LabController: labs as files', () => {
  it('loads a lab by URL, with its idle time; pauses a quiet VM and resumes it when the user types', async () => {
    let now = 1_000_000;
    const c = controller({ clock: () => now });
    await c.open();
    expect(c.view.lab).toMatchObject({ name: 'idle-lab', source: 'https://teacher.example/idle-lab.json' });
    expect(c.view.idle).toEqual({ seconds: 30, from: 'lab' });
    const id = c.view.vms[0]!.id!;
    await c.idle!.tick();
    now += 29_000;
    await c.idle!.tick();
    expect(c.hypervisor!.get(id).state).toBe('running');
    now += 2_000;
    await c.idle!.tick();
    expect(c.hypervisor!.get(id).state).toBe('paused');
    expect(c.view.vms[0]).toMatchObject({ state: 'paused', idle: true, message: 'paused after 30 s without activity; type in its console to resume' });
    c.sendConsole(id, 'touch typed\n');
    await expect.poll(() => c.hypervisor!.get(id).state).toBe('running');
    const from = c.hypervisor!.consoleOffset(id);
    await c.hypervisor!.sendConsole(id, 'ls\n');
    await c.hypervisor!.waitForConsole(id, '# ', { from });
    expect(c.hypervisor!.consoleText(id, from)).toContain('typed');
    expect(c.view.vms[0]!.notes.join('\n')).toMatch(/idle for 30 s; typing resumes it[\s\S]*you typed/);
    // A VM the user paused is theirs: typing does not resume it.
    await c.act(id, 'pause');
    c.sendConsole(id, 'x');
    await new Promise((r) => setTimeout(r, 20));
    expect(c.hypervisor!.get(id).state).toBe('paused');
    // The page's setting wins; out of range is refused with the range; 0 turns it off.
    expect(c.setIdlePause(5)).toBe('Idle pause must be a whole number of seconds from 10 to 86400, or 0 for never (got 5)');
    expect(c.setIdlePause(0)).toBeUndefined();
    expect(c.view.idle).toEqual({ seconds: undefined, from: 'page' });
    expect(c.setIdlePause(null)).toBeUndefined();
    expect(c.view.idle).toEqual({ seconds: 30, from: 'lab' });
  });

  it('keys typed one at a time into an idle-paused VM reach the guest in order (none overtakes the held ones)', async () => {
    let now = 1_000_000;
    const c = controller({ clock: () => now });
    await c.open();
    const hv = c.hypervisor!;
    const id = c.view.vms[0]!.id!;
    await c.idle!.tick();
    now += 31_000;
    await c.idle!.tick();
    expect(hv.get(id).state).toBe('paused');
    // Keys typed the moment it runs again, before the held keys are delivered, must queue behind them.
    hv.events.on('transition', (t) => {
      if (t.vmId === id && t.input === 'resume') for (const key of 'mnop\n') c.sendConsole(id, key);
    });
    // Keys held while paused (one event per key, as the page sends them); the first one wakes it.
    for (const key of 'touch abcdefghijkl') c.sendConsole(id, key);
    await expect.poll(() => hv.get(id).state).toBe('running');
    const from = hv.consoleOffset(id);
    await hv.sendConsole(id, 'ls\n');
    // ls answers with the file names on one line (or "(empty)"), then a prompt.
    await expect.poll(() => /([a-z]+|\(empty\))\n# $/.test(hv.consoleText(id, from))).toBe(true);
    expect(hv.consoleText(id, from).split(/\s+/)).toContain('abcdefghijklmnop');
  });

  it('resets one VM to its template (same VM, work gone), resets the lab, and hands in a file grade can read', async () => {
    const templates = new MemoryTemplateStore();
    const c = controller({ templates });
    await c.open();
    const hv = c.hypervisor!;
    const id = c.view.vms[0]!.id!;
    const key = await templateKey(hv.image('x86-busybox')!, hv.get(id).memoryMiB);
    expect(await templates.get(key)).toBeDefined(); // made by the first load
    await hv.sendConsole(id, 'touch work\nls\n');
    await expect.poll(() => hv.consoleText(id)).toContain('work');
    await c.resetVm(id);
    expect(c.view.notice).toEqual({ kind: 'info', text: 'x86 is back to its template' });
    expect(hv.get(id).state).toBe('running');
    const from = hv.consoleOffset(id);
    await hv.sendConsole(id, 'ls\n');
    await hv.waitForConsole(id, '# ', { from });
    expect(hv.consoleText(id, from)).toContain('(empty)');

    await c.createVm({ image: 'x86-busybox', name: 'extra', memoryMiB: 32 });
    await c.resetLab();
    expect(c.view.notice?.text).toBe('Lab idle-lab was reset: every VM is back to its template');
    expect(hv.list().map((v) => v.name)).toEqual(['x86']);
    expect(c.view.message).toBe('Lab idle-lab: 1 of 1 VMs running');

    expect(await c.handIn('bad/name')).toBeUndefined();
    expect(c.view.notice?.text).toMatch(/your name may have/);
    const file = await c.handIn('bob');
    expect(file!.fileName).toMatch(/^idle-lab-bob-.*\.handin\.tar$/);
    const back = readHandIn(file!.bytes);
    expect(back.student).toBe('bob');
    expect(back.vms.map((v) => v.name)).toEqual(['x86']);
    expect(parseLab(back.lab, images).name).toBe('idle-lab');
    expect(back.log).toMatch(/opened lab idle-lab from https:\/\/teacher\.example\/idle-lab\.json[\s\S]*reset the whole lab[\s\S]*handed in/);
    // A lab VM that is not running cannot be handed in: one line says which.
    await c.act(hv.get('x86').id, 'stop');
    expect(await c.handIn('bob')).toBeUndefined();
    expect(c.view.notice?.text).toBe('cannot hand in: x86 is stopped; start it or reset the lab first');
  });

  it('refuses a seed that is not a plain word, in one line, and opens the lab anyway', async () => {
    const c = new LabController({
      source: { kind: 'url', url: 'l.json' },
      fetchText: async () => JSON.stringify(labJson),
      seed: '$(reboot)',
      loadJson: async () => ({ images }),
      makeHypervisor: (imgs, budget) => new Hypervisor({ images: imgs, memoryBudgetBytes: budget, poolSize: 1, hosts: async (i) => killableHost(i).connection }),
      templates: new MemoryTemplateStore(),
      work: new MemoryTemplateStore(),
      settings: new MemorySettings(),
      onChange: () => {},
    });
    open.push(c);
    await c.open();
    expect(c.view.seed).toBeUndefined();
    expect(c.view.notice).toEqual({ kind: 'error', text: 'The seed in the address is not used: a lab seed is 1-64 letters, digits, "_" or "-"' });
    expect(c.view.phase).toBe('ready');
  });
});
