// Persistent disks through the hypervisor, on both engines, with Node worker hosts that keep
// overlays in a folder (src/worker/node-disks.ts; the page does the same in OPFS): the images'
// init mounts the disk on /root; restore puts the snapshot's disk back; a clone gets a copy; an
// import over a disk that changed since is refused and the disk kept; reset empties the disk,
// also one made for another base image (an app update that changed the disk image). A lab VM
// with a disk starts from a template made with an empty disk while its own disk is empty, and
// boots with its disk once that holds files.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { encodeOverlayHeader, HEADER_BYTES } from '../../src/devices/backends/overlay-format.js';
import { loadLab, parseLab } from '../../src/hypervisor/lab.js';
import { MemoryTemplateStore, templateKey } from '../../src/hypervisor/template-store.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { sh, untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as {
  images: ImageEntry[];
  disks: { name: string; file: string; bytes: number; sha256: Record<string, string> }[];
};
const home = manifest.disks.find((d) => d.name === 'home')!;
let hv: Hypervisor;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'tabvisor-hv-disks-'));
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 2048 * MiB,
    poolSize: 2,
    hosts: nodeWorkerHosts({ diskDir: folder }),
    diskFor: (vm) => ({ key: `t.${vm.name}`, base: { file: home.file, sha256: home.sha256[home.file]!, bytes: home.bytes } }),
  });
});

/** A new VM of `image` named `name`, started and at its shell; returns its id. */
async function bootToShell(image: string, name: string): Promise<string> {
  const id = (await hv.create({ image, name })).id;
  await hv.start(id);
  await untilShell(hv, id, 240_000);
  return id;
}

async function remove(id: string): Promise<void> {
  await hv.stop(id);
  await hv.delete(id);
}

afterAll(async () => {
  await hv?.shutdown();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe.each([['riscv64-busybox', 'r'], ['x86-busybox', 'x']])('a persistent disk on %s', (image, name) => {
  it('mounts on /root; restore, clone, import and reset treat it as the docs say', { timeout: 600_000 }, async () => {
    const vm = await bootToShell(image, name);
    expect(await sh(hv, vm, 'grep -c " /root ext4 " /proc/mounts')).toBe('1');
    expect(await sh(hv, vm, 'echo one > /root/f; sync; cat /root/f')).toBe('one');

    // Restore: the snapshot's disk comes back with its machine.
    const snap = await hv.snapshot(vm);
    expect(await sh(hv, vm, 'echo two > /root/f; sync; cat /root/f')).toBe('two');
    await hv.restore(vm, snap);
    await untilShell(hv, vm, 120_000).catch(() => undefined);
    expect(await sh(hv, vm, 'cat /root/f')).toBe('one');

    // Clone: its own disk, a copy.
    const clone = (await hv.clone(vm, { name: `${name}-c` })).id;
    expect(await sh(hv, clone, 'cat /root/f')).toBe('one');
    expect(await sh(hv, clone, 'echo clone > /root/f; sync; cat /root/f')).toBe('clone');
    expect(await sh(hv, vm, 'cat /root/f')).toBe('one');
    await remove(clone);

    // Import over a disk that changed after the snapshot: refused, the disk keeps the newer file.
    const saved = await hv.snapshot(vm);
    expect(await sh(hv, vm, 'echo three > /root/f; sync; cat /root/f')).toBe('three');
    await remove(vm);
    const refused = await hv.importSnapshot(saved, { name }).then(() => 'imported', (e: unknown) => e);
    expect(refused).toBeInstanceOf(HypervisorError);
    expect((refused as HypervisorError).message).toMatch(/disk changed after this state was saved/);
    const again = await bootToShell(image, name);
    expect(await sh(hv, again, 'cat /root/f')).toBe('three');

    // Reset: the disk is the base image again.
    await hv.reset(again);
    await untilShell(hv, again, 240_000);
    expect(await sh(hv, again, 'test -e /root/f && echo has-f || echo no-f; head -c 12 /root/README')).toBe('no-f\nThis is your');
    await remove(again);
    if (name !== 'r') return;

    // A whole lab's reset: the VM is made again under its name, with its disk emptied.
    const kept = await bootToShell(image, name);
    expect(await sh(hv, kept, 'echo four > /root/f; sync; cat /root/f')).toBe('four');
    await remove(kept);
    hv.emptyDisksOf([name]);
    const fresh = await bootToShell(image, name);
    expect(await sh(hv, fresh, 'test -e /root/f && echo has-f || echo no-f')).toBe('no-f');
    await remove(fresh);
  });
});

describe('a saved disk made for another base image', () => {
  it('the VM is refused with the reason; once the lab is reset it starts over with an empty disk', { timeout: 300_000 }, async () => {
    const header = new Uint8Array(HEADER_BYTES);
    header.set(encodeOverlayHeader({ chunkBytes: 64 * 1024, baseBytes: home.bytes, baseSha256: new Uint8Array(32).fill(7), nonce: new Uint8Array(16).fill(1), pid: 0 }));
    const file = join(folder, 't.old.tvoverlay');
    writeFileSync(file, header);
    const refused = await hv.create({ image: 'riscv64-busybox', name: 'old' }).then(() => 'created', (e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/saved disk t\.old cannot be used: overlay belongs to another base image \(made for \d+ bytes, sha256 070707070707/);
    expect(readFileSync(file)).toEqual(Buffer.from(header)); // not touched without a reset

    hv.emptyDisksOf(['old']);
    const vm = await bootToShell('riscv64-busybox', 'old');
    expect(await sh(hv, vm, 'grep -c " /root ext4 " /proc/mounts; head -c 12 /root/README')).toBe('1\nThis is your');
    expect(await sh(hv, vm, 'echo new > /root/f; sync; cat /root/f')).toBe('new');
    await remove(vm);
    const again = await bootToShell('riscv64-busybox', 'old');
    expect(await sh(hv, again, 'cat /root/f')).toBe('new');
    await remove(again);
  });
});

describe('a lab VM with a disk and a template made with an empty disk', () => {
  it('restores the template while its disk is empty; once the disk holds files it boots with them', { timeout: 300_000 }, async () => {
    const image = manifest.images.find((i) => i.name === 'riscv64-busybox')!;
    const base = { file: home.file, sha256: home.sha256[home.file]!, bytes: home.bytes };
    const key = await templateKey(image, image.memoryMiB, base);
    expect(key).not.toBe(await templateKey(image, image.memoryMiB));
    const templates = new MemoryTemplateStore();
    const maker = (await hv.create({ image: image.name, name: 'tmpl' })).id;
    await hv.start(maker);
    await hv.waitUntilReady(maker, 240_000);
    await templates.put(key, await hv.snapshot(maker));
    await remove(maker);

    const lab = parseLab({ format: 'tabvisor-lab/1', name: 'dl', vms: [{ name: 'dl1', image: image.name }] }, manifest.images);
    const first = await loadLab(hv, lab, { templates });
    expect(first.vms[0]).toMatchObject({ status: 'restored', message: `restored from template ${key}` });
    await untilShell(hv, 'dl1', 120_000);
    expect(await sh(hv, 'dl1', 'grep -c " /root ext4 " /proc/mounts; head -c 12 /root/README')).toBe('1\nThis is your');
    expect(await sh(hv, 'dl1', 'echo mine > /root/f; sync; cat /root/f')).toBe('mine');

    const second = await loadLab(hv, lab, { templates, replace: true });
    expect(second.vms[0]).toMatchObject({ status: 'booted', message: 'booted from its image with its disk (its disk holds files of its own)' });
    expect(await templates.keys()).toEqual([key]); // kept for the next empty disk
    await untilShell(hv, 'dl1', 240_000);
    expect(await sh(hv, 'dl1', 'cat /root/f')).toBe('mine');

    // Told that the disk holds files (the page looks at the overlay's size): it boots without
    // fetching the template at all.
    let asked = 0;
    const counting = { ...templates, get: (k: string) => (asked++, templates.get(k)), keys: () => templates.keys(), put: (k: string, b: Uint8Array) => templates.put(k, b), delete: (k: string) => templates.delete(k) };
    const third = await loadLab(hv, lab, { templates: counting, replace: true, diskHoldsFiles: async () => true });
    expect(third.vms[0]).toMatchObject({ status: 'booted', message: 'booted from its image with its disk (its disk holds files of its own)' });
    expect(asked).toBe(0);
    await untilShell(hv, 'dl1', 240_000);
    expect(await sh(hv, 'dl1', 'cat /root/f')).toBe('mine');

    // A lab reset empties the disk when the VM is made again: the template fits again.
    hv.emptyDisksOf(['dl1']);
    const fourth = await loadLab(hv, lab, { templates: counting, replace: true, diskHoldsFiles: async () => true });
    expect(fourth.vms[0]).toMatchObject({ status: 'restored', message: `restored from template ${key}` });
    await untilShell(hv, 'dl1', 120_000);
    expect(await sh(hv, 'dl1', 'test -e /root/f && echo has-f || echo no-f')).toBe('no-f');
    await hv.stop('dl1');
    await hv.delete('dl1');
  });
});
