// labs/default.json on real worker_threads hosts: the x86 VM boots (the rv64 Linux engine is not
// there yet and is reported, not faked); a template is saved on disk; a reload restores it clean.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { loadLab, parseLab, type Lab } from '../../src/hypervisor/lab.js';
import { FileTemplateStore } from '../../src/hypervisor/template-store-node.js';
import { readSnapshot } from '../../src/snapshot/index.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { sh, untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
/** The RV64 Linux engine and its image exist (then the lab's riscv VM must boot too). */
const rv64Ready =
  existsSync(join(repoRoot, 'src/engines/rv64/engine.ts')) && manifest.images.some((i) => i.name === 'riscv64-busybox');
const labJson = JSON.parse(readFileSync(join(repoRoot, 'labs/default.json'), 'utf8')) as unknown;

let hv: Hypervisor;
let dir: string;
let lab: Lab;

beforeAll(async () => {
  // The production path for Node: nodeWorkerHosts() starts dist/worker/node-entry.js workers.
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 512 * MiB,
    poolSize: 1,
    hosts: nodeWorkerHosts(),
  });
  dir = mkdtempSync(join(tmpdir(), 'tabvisor-templates-'));
  lab = parseLab(labJson, manifest.images, { allowMissingImages: true });
});

afterAll(async () => {
  await hv?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the default lab on worker_threads hosts', () => {
  it('boots what works, reports the rest, saves a template, and a reload restores a clean VM', async () => {
    const templates = new FileTemplateStore(dir);
    const first = await loadLab(hv, lab, { templates, makeTemplates: true, readyTimeoutMs: 90_000 });
    const byName = Object.fromEntries(first.vms.map((v) => [v.name, v]));
    expect(byName.x86!.status).toBe('booted');
    expect(byName.x86!.message).toMatch(/saved template x86-busybox-[0-9a-f]{16}$/);
    if (rv64Ready) {
      expect(byName.riscv!.status).toBe('booted');
    } else {
      // Not built yet: reported plainly, and no VM stands in for it.
      expect(byName.riscv!.status).toBe('unavailable');
      expect(byName.riscv!.message).toMatch(/^not started: /);
      expect(hv.list().map((v) => v.name)).toEqual(['x86']);
    }

    const key = (await templates.keys()).find((k) => k.startsWith('x86-busybox-'));
    const snap = await readSnapshot((await templates.get(key!))!);
    expect(snap.metadata).toMatchObject({ engine: 'v86', image: 'x86-busybox' });

    await untilShell(hv, 'x86');
    await sh(hv, 'x86', 'echo work > /tmp/homework');
    expect(await sh(hv, 'x86', 'cat /tmp/homework')).toBe('work');
    const oldMac = hv.get('x86').identity.mac;

    const second = await loadLab(hv, lab, { templates, replace: true });
    expect(second.vms.find((v) => v.name === 'x86')).toMatchObject({ status: 'restored' });
    expect(hv.get('x86')).toMatchObject({ state: 'running', ready: true });
    expect(hv.get('x86').identity.mac).not.toBe(oldMac);
    await untilShell(hv, 'x86');
    expect(await sh(hv, 'x86', 'cat /tmp/homework 2>&1 || echo clean')).toMatch(/clean$/);
    expect(await sh(hv, 'x86', 'uname -m')).toBe('i686');
    // A VM made from a template is a new machine: its guest took the VM's host name.
    expect(await sh(hv, 'x86', 'hostname')).toBe('x86');
  }, 240_000);
});
