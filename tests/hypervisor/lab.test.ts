import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { discardLabWork, formatLabReport, loadLab, parseLab, saveLabWork, type Lab } from '../../src/hypervisor/lab.js';
import { MemoryTemplateStore, templateKey } from '../../src/hypervisor/template-store.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { image, killableHost } from './support/fake-engine.js';

const MiB = 1024 * 1024;
const images = [image('riscv64-busybox', 'rv64'), image('x86-busybox', 'v86')];
const defaultLab = JSON.parse(readFileSync(new URL('../../labs/default.json', import.meta.url), 'utf8')) as unknown;

let hv: Hypervisor | undefined;
afterEach(async () => {
  await hv?.shutdown();
  hv = undefined;
});

function hypervisor(budgetMiB = 1024, withImages = images): Hypervisor {
  hv = new Hypervisor({
    images: withImages,
    memoryBudgetBytes: budgetMiB * MiB,
    poolSize: 2,
    hosts: async (i) => killableHost(i).connection,
  });
  return hv;
}

const lab = (vms: unknown[], extra: Record<string, unknown> = {}): unknown => ({ format: 'tabvisor-lab/1', name: 'l', vms, ...extra });

function parseError(json: unknown): string {
  try {
    parseLab(json, images);
  } catch (error) {
    expect(error).toBeInstanceOf(HypervisorError);
    return (error as Error).message;
  }
  throw new Error('parseLab accepted a bad lab');
}

describe('parseLab', () => {
  it('reads labs/default.json: one riscv64-busybox VM and one x86-busybox VM', () => {
    const parsed = parseLab(defaultLab, images);
    expect(parsed.vms).toEqual([
      { name: 'riscv', image: 'riscv64-busybox' },
      { name: 'x86', image: 'x86-busybox' },
    ]);
  });

  it('names the field that is wrong', () => {
    expect(parseError(lab([{ name: 'a', image: 'x86-busybox' }, { name: 'b', image: 'windows' }]))).toMatch(
      /^lab: "vms\[1\].image" names no image in the manifest \("windows"; have: riscv64-busybox, x86-busybox\)$/,
    );
    expect(parseError(lab([{ name: 'a', image: 'x86-busybox' }, { name: 'a', image: 'x86-busybox' }]))).toBe(
      'lab: "vms[1].name" repeats "vms[0].name" ("a")',
    );
    expect(parseError(lab([{ name: 'a', image: 'x86-busybox', memory: 64 }]))).toBe(
      'lab: unknown field "vms[0].memory" (fields: name, image, memoryMiB, weight, capPercent, network, ip)',
    );
    expect(parseError(lab([{ name: 'a', image: 'x86-busybox', capPercent: 150 }]))).toBe(
      'lab: "vms[0].capPercent": cap must be a percentage of one core from 1 to 100 (or none), got 150',
    );
    expect(parseError(lab([{ name: 'a', image: 'x86-busybox', memoryMiB: '64' }]))).toBe('lab: "vms[0].memoryMiB" must be a number, got "64"');
    expect(parseError(lab([]))).toBe('lab: "vms" must be a non-empty list');
    expect(parseError({ name: 'l', vms: [] })).toBe('lab: "format" must be "tabvisor-lab/1", got undefined');
    expect(parseError(lab([{ image: 'x86-busybox' }]))).toBe('lab: "vms[0].name" must be a non-empty string');
    expect(parseError([])).toBe('lab: the manifest must be a JSON object');
  });
});

describe('parseLab with allowMissingImages', () => {
  it('keeps a VM whose image the manifest lacks, and loadLab reports it unavailable', async () => {
    const h = hypervisor(1024, [images[1]!]);
    const parsed = parseLab(defaultLab, [images[1]!], { allowMissingImages: true });
    const report = await loadLab(h, parsed);
    expect(report.vms[0]).toMatchObject({
      name: 'riscv',
      status: 'unavailable',
      message: "not started: image 'riscv64-busybox' is not in the image manifest (not built yet?)",
    });
    expect(() => parseLab(defaultLab, [images[1]!])).toThrow(/"vms\[0\].image" names no image in the manifest/);
  });
});

describe('loadLab', () => {
  it('starts what works and reports, per VM, what does not (no fake VM)', async () => {
    const h = hypervisor();
    const report = await loadLab(h, parseLab(defaultLab, images));
    expect(report.complete).toBe(false);
    expect(report.vms.map((v) => [v.name, v.status])).toEqual([
      ['riscv', 'unavailable'],
      ['x86', 'booted'],
    ]);
    expect(report.vms[0]!.message).toBe(
      "not started: cannot create VM 'riscv' (image riscv64-busybox): the rv64 Linux engine is not available yet",
    );
    expect(h.list().map((v) => [v.name, v.state])).toEqual([['x86', 'running']]);
    expect(formatLabReport(report)).toContain('lab default: 1 of 2 VMs running');
  });

  it('reports a VM refused for memory and still starts the others', async () => {
    const h = hypervisor(100);
    const parsed = parseLab(lab([{ name: 'a', image: 'x86-busybox' }, { name: 'b', image: 'x86-busybox' }]), images);
    const report = await loadLab(h, parsed);
    const statuses = report.vms.map((v) => v.status).sort();
    expect(statuses).toEqual(['booted', 'failed']);
    expect(report.vms.find((v) => v.status === 'failed')!.message).toMatch(/asks for 64 MiB but only 36 MiB of the 100 MiB budget is free/);
  });

  it('saves a template after the first boot; a reload restores it: clean, ready, new identity', async () => {
    const h = hypervisor();
    const templates = new MemoryTemplateStore();
    const parsed: Lab = parseLab(lab([{ name: 'web', image: 'x86-busybox' }]), images);
    const first = await loadLab(h, parsed, { templates, makeTemplates: true, readyTimeoutMs: 5000 });
    expect(first.vms[0]).toMatchObject({ status: 'booted' });
    expect(first.vms[0]!.message).toMatch(/saved template x86-busybox-[0-9a-f]{16}$/);
    expect(await templates.keys()).toEqual([await templateKey(images[1]!)]);
    const firstIdentity = h.get('web').identity;
    // The student works in the VM...
    const from = h.consoleOffset('web');
    await h.sendConsole('web', 'touch homework\nls\n');
    await h.waitForConsole('web', 'homework\n', { from, timeoutMs: 5000 });

    const second = await loadLab(h, parsed, { templates, replace: true });
    expect(second.vms[0]).toMatchObject({ status: 'restored', name: 'web' });
    const vm = h.get('web');
    expect(vm).toMatchObject({ state: 'running', ready: true });
    expect(vm.identity.mac).not.toBe(firstIdentity.mac);
    const at = h.consoleOffset('web');
    await h.sendConsole('web', 'ls\n');
    await h.waitForConsole('web', '(empty)', { from: at, timeoutMs: 5000 });
    expect(h.list()).toHaveLength(1);
  });

  it('drops a template it cannot read and boots instead', async () => {
    const h = hypervisor();
    const templates = new MemoryTemplateStore();
    const key = await templateKey(images[1]!);
    await templates.put(key, new Uint8Array([1, 2, 3, 4]));
    const report = await loadLab(h, parseLab(lab([{ name: 'a', image: 'x86-busybox' }]), images), { templates });
    expect(report.vms[0]!.status).toBe('booted');
    expect(await templates.keys()).toEqual([]);
  });

  it('refuses to take over an existing VM unless asked to replace it', async () => {
    const h = hypervisor();
    await h.create({ image: 'x86-busybox', name: 'a' });
    const report = await loadLab(h, parseLab(lab([{ name: 'a', image: 'x86-busybox' }]), images));
    expect(report.vms[0]).toMatchObject({ status: 'failed', message: "a VM named 'a' already exists" });
  });
});

describe('keeping the student\'s work across a reload', () => {
  it('saveLabWork + loadLab({ work }) resumes each VM as it was; discardLabWork starts clean again', async () => {
    const work = new MemoryTemplateStore();
    const parsed = parseLab(lab([{ name: 'web', image: 'x86-busybox' }, { name: 'db', image: 'x86-busybox' }]), images);
    let h = hypervisor();
    await loadLab(h, parsed);
    await h.waitUntilReady('web', 5000);
    const from = h.consoleOffset('web');
    await h.sendConsole('web', 'touch homework\nls\n');
    await h.waitForConsole('web', 'homework\n', { from, timeoutMs: 5000 });
    const mac = h.get('web').identity.mac;
    await h.stop('db');
    expect(await saveLabWork(h, parsed, work)).toEqual([
      { name: 'web', saved: true, message: 'saved' },
      { name: 'db', saved: false, message: 'it is stopped' },
    ]);

    await h.shutdown(); // the page reloads
    h = hypervisor();
    const resumed = await loadLab(h, parsed, { work });
    expect(resumed.vms.map((v) => [v.name, v.status])).toEqual([
      ['web', 'resumed'],
      ['db', 'booted'],
    ]);
    expect(h.get('web').identity.mac).toBe(mac); // the same machine, not a copy
    const at = h.consoleOffset('web');
    await h.sendConsole('web', 'ls\n');
    await h.waitForConsole('web', 'homework', { from: at, timeoutMs: 5000 });

    await discardLabWork(parsed, work);
    expect(await work.keys()).toEqual([]);
    const clean = await loadLab(h, parsed, { work, replace: true });
    expect(clean.vms.map((v) => v.status)).toEqual(['booted', 'booted']);
  });
});

describe('templateKey', () => {
  it('changes when the image files, memory or command line change', async () => {
    const base = image('x86-busybox');
    const key = await templateKey(base);
    expect(await templateKey(base)).toBe(key);
    expect(await templateKey(base, 256)).not.toBe(key);
    expect(await templateKey({ ...base, cmdline: 'quiet' })).not.toBe(key);
    expect(await templateKey({ ...base, sha256: { 'images/x86-busybox/kernel': 'cd'.repeat(32) } })).not.toBe(key);
  });
});
