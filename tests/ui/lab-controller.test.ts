// The page's logic without a browser: LabController over a real Hypervisor whose hosts are real
// VmHosts in-process running the fake shell engine (tests/hypervisor/support), in which rv64 is
// "not available" — so one lab VM runs and one is reported unavailable, as a page would show.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { MemoryTemplateStore } from '../../src/hypervisor/template-store.js';
import { FigureHistory, sparklinePoints } from '../../src/ui/figures.js';
import { actionHint, allowedActions, LabController, type SettingsStore } from '../../src/ui/lab-controller.js';
import { image, killableHost, type KillableHost } from '../hypervisor/support/fake-engine.js';

const images = [image('riscv64-busybox', 'rv64'), image('x86-busybox', 'v86')];
const files: Record<string, unknown> = {
  'images/manifest.json': { images },
  'labs/default.json': JSON.parse(readFileSync(new URL('../../labs/default.json', import.meta.url), 'utf8')),
};

class MemorySettings implements SettingsStore {
  readonly values = new Map<string, string>();
  getItem(key: string): string | null {
    return this.values.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.values.set(key, value);
  }
}

const open: LabController[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** What the page itself sent to each VM's console (not the user's typing through sendConsole). */
type Sent = Array<{ vm: string; data: string }>;

function controller(stores: { templates?: MemoryTemplateStore; work?: MemoryTemplateStore; settings?: MemorySettings; sent?: Sent } = {}, labName: string | null = null) {
  const hosts: KillableHost[] = [];
  const c = new LabController({
    labName,
    labNames: ['default', 'networking'],
    loadJson: async (path) => {
      if (!(path in files)) throw new Error('HTTP 404');
      return files[path];
    },
    makeHypervisor: (imgs, budget) => {
      const hv = new Hypervisor({
        images: imgs,
        memoryBudgetBytes: budget,
        poolSize: 2,
        hosts: async (i) => (hosts[i] = killableHost(i)).connection,
      });
      const send = hv.sendConsole.bind(hv);
      hv.sendConsole = (ref, data) => {
        stores.sent?.push({ vm: hv.get(ref).name, data: String(data) });
        return send(ref, data);
      };
      return hv;
    },
    templates: stores.templates ?? new MemoryTemplateStore(),
    work: stores.work ?? new MemoryTemplateStore(),
    settings: stores.settings ?? budgetSettings(256),
    terminateHost: (index, reason) => hosts[index]!.kill(reason),
    onChange: () => {},
    saveDelayMs: 10,
  });
  open.push(c);
  return c;
}

const vm = (c: LabController, name: string) => c.view.vms.find((v) => v.name === name)!;

function budgetSettings(mib: number): MemorySettings {
  const settings = new MemorySettings();
  settings.setItem('tabvisor.memoryBudgetMiB', String(mib));
  return settings;
}

describe('LabController', () => {
  it('opens the default lab: x86 boots and saves a template, riscv says why it cannot start; the next load restores', async () => {
    const templates = new MemoryTemplateStore();
    const first = controller({ templates });
    await first.open();
    expect(first.view.phase).toBe('ready');
    expect(first.view.message).toBe('Lab default: 1 of 2 VMs running (riscv unavailable)');
    expect(first.view.lab?.title).toBe('Two small Linux machines');
    expect(vm(first, 'x86')).toMatchObject({ state: 'running', ready: true, image: 'x86-busybox' });
    expect(vm(first, 'x86').message).toMatch(/^booted from its image; saved template x86-busybox-/);
    expect(vm(first, 'riscv')).toMatchObject({ key: 'lab:riscv', state: 'unavailable' });
    expect(vm(first, 'riscv').message).toContain('the rv64 Linux engine is not available yet');
    expect(vm(first, 'riscv').allowed.size).toBe(0);
    await first.close();

    const second = controller({ templates });
    await second.open();
    expect(vm(second, 'x86').message).toMatch(/^restored from template x86-busybox-/);
  });

  it('says which lab is missing or malformed', async () => {
    const missing = controller({}, 'nope');
    await missing.open();
    expect(missing.view).toMatchObject({
      phase: 'failed',
      message: 'Could not open the lab: no lab named "nope" (labs/nope.json: HTTP 404); labs here: default, networking',
    });
    const bad = controller({}, 'no good!');
    await bad.open();
    expect(bad.view.message).toContain('"no good!" is not a lab name');
  });

  it('runs actions, keeps a snapshot for Restore, and shows each refusal as the hypervisor words it', async () => {
    const c = controller();
    await c.open();
    const id = vm(c, 'x86').id!;
    await c.act(id, 'restore');
    expect(c.view.notice).toEqual({ kind: 'error', text: "VM 'x86' has no snapshot yet: take one first" });
    await c.act(id, 'delete');
    expect(c.view.notice?.text).toMatch(/^cannot delete VM 'x86': it is running \(delete is allowed when created, stopped or crashed\)$/);

    const hv = c.hypervisor!;
    await hv.sendConsole(id, 'touch before\n');
    await c.act(id, 'snapshot');
    expect(c.view.notice?.text).toMatch(/^Snapshot of x86 taken/);
    expect(vm(c, 'x86').allowed.has('restore')).toBe(true);
    await hv.sendConsole(id, 'touch after\n');
    await c.act(id, 'restore');
    const from = hv.consoleOffset(id);
    await hv.sendConsole(id, 'ls\n');
    await hv.waitForConsole(id, 'before\n', { from, timeoutMs: 5000 });
    expect(hv.consoleText(id, from)).not.toContain('after');

    await c.act(id, 'clone');
    expect(vm(c, 'x86-clone-1')).toMatchObject({ state: 'running', message: 'a clone of x86' });
    await c.act(id, 'pause');
    expect(vm(c, 'x86')).toMatchObject({ state: 'paused' });
    expect([...vm(c, 'x86').allowed].sort()).toEqual(['clone', 'export', 'reset', 'restore', 'resume', 'snapshot', 'stop']);

    const file = await c.exportSnapshot(id);
    expect(file?.fileName).toMatch(/^x86-.*\.tvsnap$/);
    const imported = await c.importSnapshot(file!.bytes, file!.fileName);
    // Named after the VM in the file, not after its image.
    expect(imported?.name).toBe('x86-copy-1');
    expect(vm(c, 'x86-copy-1').message).toBe(`imported from ${file!.fileName}`);

    // A refusal in the dialog is not repeated in the bar behind it.
    const before = c.view.notice;
    expect(await c.createVm({ image: 'x86-busybox', name: 'big', memoryMiB: 1024 })).toBe(
      "cannot create VM 'big': it asks for 1 GiB but only 64 MiB of the 256 MiB budget is free",
    );
    expect(c.view.notice).toEqual(before);
    expect(await c.createVm({ image: 'x86-busybox', name: 'small', memoryMiB: 32 })).toBeUndefined();
    expect(vm(c, 'small').state).toBe('running');
    expect(c.view.memory?.reservedBytes).toBe((64 * 3 + 32) * 1024 * 1024);
  });

  it('keeps the work across a reload only while "keep my work" is on', async () => {
    const templates = new MemoryTemplateStore();
    const work = new MemoryTemplateStore();
    const settings = budgetSettings(256);
    const first = controller({ templates, work, settings });
    await first.open();
    await first.setKeepWork(true);
    expect(first.view.workStatus).toMatch(/^Work saved at \d\d:\d\d:\d\d: x86; not saved: riscv \(not running\)$/);
    expect(settings.getItem('tabvisor.keepWork.default')).toBe('1');
    const id = vm(first, 'x86').id!;
    first.sendConsole(id, 'touch kept\n');
    await new Promise((r) => setTimeout(r, 50)); // the save waits for typing to stop (10 ms here)
    await first.saveWork();
    await first.close();

    const second = controller({ templates, work, settings });
    await second.open();
    expect(second.view.keepWork).toBe(true);
    expect(vm(second, 'x86').message).toBe('restored the saved work');
    const hv = second.hypervisor!;
    const x86 = vm(second, 'x86').id!;
    const from = hv.consoleOffset(x86);
    await hv.sendConsole(x86, 'ls\n');
    await hv.waitForConsole(x86, 'kept', { from, timeoutMs: 5000 });
    await second.setKeepWork(false);
    expect(await work.keys()).toEqual([]);
    await second.close();

    const third = controller({ templates, work, settings });
    await third.open();
    expect(vm(third, 'x86').message).toMatch(/^restored from template/);
  });

  it('shows a VM whose worker died as crashed, with the reason, and leaves the others running', async () => {
    const c = controller();
    await c.open();
    await c.createVm({ image: 'x86-busybox', name: 'other' });
    expect(vm(c, 'other').host).not.toBe(vm(c, 'x86').host);
    c.terminateWorkerOf('x86');
    await new Promise((r) => setTimeout(r, 0)); // the view follows transitions in a microtask
    expect(vm(c, 'x86').state).toBe('crashed');
    expect(vm(c, 'x86').message).toMatch(/^its host \(worker \d\) died: the worker was terminated$/);
    expect([...vm(c, 'x86').allowed].sort()).toEqual(['delete', 'reset', 'stop']);
    expect(vm(c, 'other').state).toBe('running');
    await c.act(vm(c, 'x86').id!, 'reset');
    await c.hypervisor!.waitUntilReady('x86', 5000);
    expect(vm(c, 'x86').state).toBe('running');
  });

  it('samples figures of live VMs', async () => {
    const c = controller();
    await c.open();
    await c.sampleFigures();
    await c.sampleFigures();
    expect(vm(c, 'x86').figures?.cpu.length).toBe(2);
    expect(vm(c, 'x86').figures?.latest?.memoryBytes).toBeGreaterThanOrEqual(0);
  });
});

describe('allowedActions and figures', () => {
  it('follows the lifecycle table; Restore needs a snapshot', () => {
    expect([...allowedActions('running', false)].sort()).toEqual(['clone', 'export', 'pause', 'reset', 'snapshot', 'stop']);
    expect(allowedActions('running', true).has('restore')).toBe(true);
    expect([...allowedActions('stopped', true)].sort()).toEqual(['delete', 'reset', 'restore', 'start']);
    expect(allowedActions('loading', true).size).toBe(0);
  });

  it('keeps the last N samples and draws them right-aligned, 0 at the bottom', () => {
    const h = new FigureHistory(3);
    for (const v of [1, 2, 3, 4]) h.push({ cpuShare: v / 4, mips: v, memoryBytes: 0 });
    expect(h.mips).toEqual([2, 3, 4]);
    expect(sparklinePoints([0, 1], { width: 100, height: 10, slots: 5, max: 1 })).toBe('75,10 100,0');
    expect(sparklinePoints([2, 4], { width: 10, height: 10, slots: 2 })).toBe('0,5 10,0');
    expect(sparklinePoints([], { width: 10, height: 10 })).toBe('');
  });
});

describe('LabController: what a new user ran into', () => {
  it('keeps the lab line true after a crash and a delete', async () => {
    const c = controller();
    await c.open();
    await c.createVm({ image: 'x86-busybox', name: 'other' });
    expect(c.view.message).toBe('Lab default: 1 of 2 VMs running (riscv unavailable)');
    c.terminateWorkerOf('x86');
    await new Promise((r) => setTimeout(r, 0));
    expect(c.view.message).toBe('Lab default: 0 of 2 VMs running (riscv unavailable, x86 crashed)');
    await c.act(vm(c, 'x86').id!, 'delete');
    expect(c.view.message).toBe('Lab default: 0 of 2 VMs running (riscv unavailable, x86 deleted)');
  });

  it('clears an old error after a success and speaks the page language', async () => {
    const c = controller();
    await c.open();
    const id = vm(c, 'x86').id!;
    await c.act(id, 'delete');
    expect(c.view.notice?.kind).toBe('error');
    await c.act(id, 'snapshot');
    expect(c.view.notice).toMatchObject({ kind: 'info', text: expect.stringMatching(/^Snapshot of x86 taken/) });
    await c.act(id, 'start');
    expect(c.view.notice?.kind).toBe('error');
    await c.act(id, 'pause');
    expect(c.view.notice).toBeUndefined();
  });

  it('refuses weights, caps and budgets out of range with the range, and applies good ones through the hypervisor', async () => {
    const c = controller();
    await c.open();
    const id = vm(c, 'x86').id!;
    expect(await c.setSchedule(id, 1e9, undefined)).toBe('Weight must be a number from 0.1 to 100 (got 1000000000)');
    expect(c.view.notice?.text).toBe('Weight must be a number from 0.1 to 100 (got 1000000000)');
    expect(await c.setSchedule(id, 1, 250)).toMatch(/^CPU cap must be a percentage from 1 to 100 \(got 250\)/);
    expect(vm(c, 'x86')).toMatchObject({ weight: 1, capPercent: undefined });
    expect(await c.setSchedule(id, 2.5, 40)).toBeUndefined();
    expect(vm(c, 'x86')).toMatchObject({ weight: 2.5, capPercent: 40 });
    expect(c.hypervisor!.get(id)).toMatchObject({ weight: 2.5, capPercent: 40 });
    expect(await c.setSchedule(id, 1, undefined)).toBeUndefined();
    expect(c.hypervisor!.get(id).capPercent).toBeUndefined();
    expect(await c.createVm({ image: 'x86-busybox', weight: 1e9 })).toBe('Weight must be a number from 0.1 to 100 (got 1000000000)');

    expect(c.setMemoryBudget(32)).toBe('The memory budget must be a whole number of MiB from 64 to 4096 (got 32)');
    expect(await c.createVm({ image: 'x86-busybox', name: 'n', memoryMiB: 64 })).toBeUndefined();
    expect(c.setMemoryBudget(100)).toMatch(/^the memory budget cannot be 100 MiB: the VMs have 128 MiB reserved/);
    expect(c.setMemoryBudget(160)).toBeUndefined();
    expect(c.view.memory?.totalBytes).toBe(160 * 1024 * 1024);
    expect(await c.createVm({ image: 'x86-busybox', name: 'm', memoryMiB: 64 })).toMatch(/only 32 MiB of the 160 MiB budget is free/);
  });

  it('greets a restored shell once, never after the user typed, and notes lifecycle actions in the console', async () => {
    const templates = new MemoryTemplateStore();
    const first = controller({ templates });
    await first.open();
    await first.close();

    const sent: Sent = [];
    const c = controller({ templates, sent });
    await c.open();
    const id = vm(c, 'x86').id!;
    // Restored from the template: nothing is sent until the console's size is known.
    expect(sent).toEqual([]);
    c.consoleResized(id, { cols: 100, rows: 30 });
    expect(sent).toEqual([{ vm: 'x86', data: "stty rows 30 cols 100;export COLUMNS=100 LINES=30;printf '\\33[H\\33[J\\33[3J'\r" }]);
    c.consoleResized(id, { cols: 90, rows: 30 });
    expect(sent).toHaveLength(1);

    await c.act(id, 'snapshot');
    await c.act(id, 'clone');
    expect(sent[1]).toEqual({ vm: 'x86-clone-1', data: '\x0c' });
    await c.act(id, 'restore');
    expect(sent[2]).toEqual({ vm: 'x86', data: '\r' });
    await c.act(id, 'pause');
    await c.act(id, 'resume');
    await c.act(id, 'stop');
    expect(vm(c, 'x86').notes.map((n) => n.replace(/\d\d:\d\d:\d\d/, 'T'))).toEqual([
      'restored snapshot T',
      'paused T: what you type waits for Resume',
      'resumed T',
      'stopped T',
    ]);

    // The user types before the panel measured the console: the greeting must not split their line.
    const typedSent: Sent = [];
    const typing = controller({ templates, sent: typedSent });
    await typing.open();
    const x86 = vm(typing, 'x86').id!;
    typing.sendConsole(x86, 'ec');
    typing.consoleResized(x86, { cols: 100, rows: 30 });
    expect(typedSent).toEqual([{ vm: 'x86', data: 'ec' }]);
  });

  it('knows when a reload would lose work', async () => {
    const c = controller();
    await c.open();
    expect(c.wouldLoseWork()).toBe(false);
    c.sendConsole(vm(c, 'x86').id!, 'touch x\n');
    expect(c.wouldLoseWork()).toBe(true);
    await c.setKeepWork(true);
    expect(c.wouldLoseWork()).toBe(false);
    expect(c.hasSavedWork).toBe(true);
  });

  it('boots the page quietly: kernel messages do not bury the prompt', async () => {
    const c = controller();
    await c.open();
    expect(c.view.images.map((i) => i.cmdline)).toEqual(images.map((i) => `quiet loglevel=3 ${i.cmdline ?? ''}`.trim()));
  });

  it('explains why a button cannot be used', () => {
    expect(actionHint('delete', 'x86', 'running', false)).toBe('Delete is possible when the VM is created, stopped or crashed; x86 is running');
    expect(actionHint('restore', 'x86', 'running', false)).toBe('Restore needs a snapshot of x86: take one with Snapshot first');
    expect(actionHint('pause', 'x86', 'running', false)).toBe('');
  });
});
