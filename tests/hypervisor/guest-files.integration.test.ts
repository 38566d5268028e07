// Files in and out of real guests through the Hypervisor (src/hypervisor/guest-files.ts): every
// VM has an exchange folder (a MemoryFileShare in its worker, 9p at /mnt/host). Uploads land in
// /root/upload; a folder made in the guest comes back as a tar that the system tar reads; a
// restored copy of a VM (snapshot -> import, as templates and saved work are) still transfers;
// bad requests are refused with one line and nothing reaches the guest.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { ensureDistBuilt } from '../cli/build-dist.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { sh, untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const text = (s: string) => new TextEncoder().encode(s);

let hv: Hypervisor;
let dir: string;

beforeAll(async () => {
  ensureDistBuilt();
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 1024 * MiB, poolSize: 2, hosts: nodeWorkerHosts() });
  dir = mkdtempSync(join(tmpdir(), 'tv-guest-files-'));
  await Promise.all(['riscv64-busybox', 'x86-busybox'].map(async (image) => {
    const vm = await hv.create({ image, name: image.split('-')[0] });
    await hv.start(vm.id);
  }));
  await untilShell(hv, 'riscv64', 180_000);
  await untilShell(hv, 'x86', 180_000);
}, 400_000);

afterAll(async () => {
  await hv?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

function untar(bytes: Uint8Array, name: string): string {
  const out = mkdtempSync(join(dir, `${name}-`));
  writeFileSync(join(out, 'x.tar'), bytes);
  execFileSync('tar', ['-xf', 'x.tar'], { cwd: out });
  return out;
}

describe.each(['riscv64', 'x86'])('files in and out of the %s guest', (vm) => {
  it('uploads files to /root/upload, byte for byte', async () => {
    const binary = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7 + 3) & 0xff);
    const sum = execFileSync('md5sum', { input: binary }).toString().split(' ')[0];
    // The bytes are transferred to the worker: the caller's buffers are detached afterwards.
    const report = await hv.uploadFiles(vm, [
      { name: 'notes.txt', bytes: text(`hello ${vm}\n`) },
      { name: "it's a file.bin", bytes: binary.slice() },
    ]);
    expect(report).toEqual({ dir: '/root/upload', names: ['notes.txt', "it's a file.bin"], bytes: binary.length + `hello ${vm}\n`.length });
    expect(await sh(hv, vm, 'cat /root/upload/notes.txt')).toBe(`hello ${vm}`);
    expect(await sh(hv, vm, `stat -c %s "/root/upload/it's a file.bin"`)).toBe('300000');
    expect(await sh(hv, vm, `md5sum "/root/upload/it's a file.bin" | cut -d' ' -f1`)).toBe(sum);
    // The exchange folder is left empty (the copy is the guest's own file).
    expect(await sh(hv, vm, 'ls -A /mnt/host | wc -l')).toBe('0');
  });

  it('downloads a folder as NAME.tar and a file as itself', async () => {
    await sh(hv, vm, 'mkdir -p /root/results/sub && echo alpha > /root/results/a.txt && ' +
      'head -c 5000 /dev/zero | tr "\\0" "q" > /root/results/sub/b.txt && ln -s a.txt /root/results/link');
    const folder = await hv.downloadFromGuest(vm, '/root/results/');
    expect(folder.fileName).toBe('results.tar');
    expect(folder.kind).toBe('tar');
    const out = untar(folder.bytes, vm);
    expect(readFileSync(join(out, 'results', 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(readFileSync(join(out, 'results', 'sub', 'b.txt'), 'utf8')).toBe('q'.repeat(5000));
    expect(readFileSync(join(out, 'results', 'link'), 'utf8')).toBe('alpha\n');
    const file = await hv.downloadFromGuest(vm, '/root/results/a.txt');
    expect(file).toMatchObject({ fileName: 'a.txt', kind: 'file' });
    expect(new TextDecoder().decode(file.bytes)).toBe('alpha\n');
    expect(await sh(hv, vm, 'ls -A /mnt/host | wc -l')).toBe('0');
  });

  it('refuses bad requests with one line, before anything reaches the guest', async () => {
    const before = hv.consoleOffset(vm);
    await expect(hv.uploadFiles(vm, [{ name: '..', bytes: text('x') }])).rejects.toThrow(/'\.\.' cannot be a file name/);
    await expect(hv.uploadFiles(vm, [{ name: 'a/b', bytes: text('x') }])).rejects.toThrow(/cannot be a file name/);
    await expect(hv.uploadFiles(vm, Array.from({ length: 33 }, (_, i) => ({ name: `f${i}`, bytes: text('x') })))).rejects.toThrow(/at most 32 files/);
    await expect(hv.uploadFiles(vm, [{ name: 'big', bytes: new Uint8Array(33 * MiB) }])).rejects.toThrow(/at most 32 MiB/);
    await expect(hv.downloadFromGuest(vm, 'relative/path')).rejects.toThrow(/absolute path/);
    await expect(hv.downloadFromGuest(vm, '/')).rejects.toThrow(/not \/ itself/);
    expect(hv.consoleOffset(vm)).toBe(before);
    await expect(hv.downloadFromGuest(vm, '/root/no-such-thing')).rejects.toThrow(/\/root\/no-such-thing: no such file or folder/);
  });
});

describe('a restored copy of a VM (as templates and saved work are restored)', () => {
  it('still moves files in and out', async () => {
    const file = await hv.exportSnapshot('x86');
    const copy = await hv.importSnapshot(file.bytes, { name: 'x86-copy', identity: 'new' });
    await untilShell(hv, copy.name, 120_000);
    await hv.uploadFiles(copy.name, [{ name: 'after.txt', bytes: text('after restore\n') }]);
    expect(await sh(hv, copy.name, 'cat /root/upload/after.txt')).toBe('after restore');
    const back = await hv.downloadFromGuest(copy.name, '/root/upload/after.txt');
    expect(new TextDecoder().decode(back.bytes)).toBe('after restore\n');
    await hv.stop(copy.name);
    await hv.delete(copy.name);
  }, 200_000);
});
