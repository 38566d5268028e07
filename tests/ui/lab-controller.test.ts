// The page's logic without a browser: LabController over a real Hypervisor whose hosts are real
// VmHosts in-process running the fake shell engine (tests/hypervisor/support), in which rv64 is
// "not available" — so one lab VM runs and one is reported unavailable, as a page would show.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { MemoryTemplateStore } from '../../src/hypervisor/template-store.js';
import { FigureHistory, sparklinePoints } from '../../src/ui/figures.js';
import { allowedActions, LabController, type SettingsStore } from '../../src/ui/lab-controller.js';
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

function controller(stores: { templates?: MemoryTemplateStore; work?: MemoryTemplateStore; settings?: MemorySettings } = {}, labName: string | null = null) {
  const hosts: KillableHost[] = [];
  const c = new LabController({
    labName,
    loadJson: async (path) => {
      if (!(path in files)) throw new Error('HTTP 404');
      return files[path];
    },
    makeHypervisor: (imgs) =>
      new Hypervisor({
        images: imgs,
        memoryBudgetBytes: 256 * 1024 * 1024,
        poolSize: 2,
        hosts: async (i) => (hosts[i] = killableHost(i)).connection,
      }),
    templates: stores.templates ?? new MemoryTemplateStore(),
    work: stores.work ?? new MemoryTemplateStore(),
    settings: stores.settings ?? new MemorySettings(),
    terminateHost: (index, reason) => hosts[index]!.kill(reason),
    onChange: () => {},
    saveDelayMs: 10,
  });
  open.push(c);
  return c;
}

const vm = (c: LabController, name: string) => c.view.vms.find((v) => v.name === name)!;

describe('LabController', () => {
  it('opens the default lab: x86 boots and saves a template, riscv says why it cannot start; the next load restores', async () => {
    const templates = new MemoryTemplateStore();
    const first = controller({ templates });
    await first.open();
    expect(first.view.phase).toBe('ready');
    expect(first.view.message).toBe('Lab default: 1 of 2 VMs running');
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
    expect(missing.view).toMatchObject({ phase: 'failed', message: 'Could not open the lab: no lab named "nope" (labs/nope.json: HTTP 404)' });
    const bad = controller({}, '../etc');
    await bad.open();
    expect(bad.view.message).toContain('"../etc" is not a lab name');
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
    expect(imported?.name).toBe('x86-busybox-1');
    expect(vm(c, 'x86-busybox-1').message).toBe(`imported from ${file!.fileName}`);

    expect(await c.createVm({ image: 'x86-busybox', name: 'big', memoryMiB: 1024 })).toBe(
      "cannot create VM 'big': it asks for 1 GiB but only 64 MiB of the 256 MiB budget is free",
    );
    expect(await c.createVm({ image: 'x86-busybox', name: 'small', memoryMiB: 32 })).toBeUndefined();
    expect(vm(c, 'small').state).toBe('running');
    expect(c.view.memory?.reservedBytes).toBe((64 * 3 + 32) * 1024 * 1024);
  });

  it('keeps the work across a reload only while "keep my work" is on', async () => {
    const templates = new MemoryTemplateStore();
    const work = new MemoryTemplateStore();
    const settings = new MemorySettings();
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
