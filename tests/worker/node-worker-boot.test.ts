// Boots x86-busybox in a real node:worker_threads worker through comlink, as the hypervisor
// and the CLI will, and talks to its shell.
import { proxy } from 'comlink';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import type { NodeVmHost } from '../../src/worker/node-client.js';
import type { VmEvent } from '../../src/worker/protocol.js';
import { ensureCompiledWorker, repoRoot } from './build-dist.js';

const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const image = manifest.images.find((i) => i.name === 'x86-busybox');

/** The lines of `text` (CR LF or LF) after the last line that contains `marker`. */
function linesAfter(text: string, marker: string): string[] {
  const lines = text.split(/\r?\n/).map((line) => line.replace(/\r/g, ''));
  const at = lines.findLastIndex((line) => line.includes(marker));
  return at < 0 ? [] : lines.slice(at + 1);
}

/** Waits until `check` is true; the limit only turns a hang into a failure that says what was awaited. */
async function waitUntil(check: () => boolean, what: string, limitMs = 90_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('VmHost in a node:worker_threads worker', () => {
  let vmHost: NodeVmHost;
  const events: VmEvent[] = [];
  let consoleText = '';
  const workerErrors: string[] = [];

  beforeAll(async () => {
    if (!image) throw new Error('images/manifest.json has no x86-busybox image');
    const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
    vmHost = client.startNodeVmHost();
    vmHost.onError((message) => workerErrors.push(message));
    const decoder = new TextDecoder();
    await vmHost.host.subscribe(
      proxy((batch: VmEvent[]) => {
        for (const e of batch) {
          events.push(e);
          if (e.kind === 'console') consoleText += decoder.decode(e.data, { stream: true });
        }
      }),
    );
  });

  afterAll(async () => {
    await vmHost?.close();
  });

  it('boots x86-busybox to a shell that answers uname -m with i686', async () => {
    const info = await vmHost.host.create({ id: 'busybox-1', image: image! });
    expect(info).toMatchObject({ id: 'busybox-1', name: 'x86-busybox', engine: 'v86', state: 'created', ready: false });
    expect(events.some((e) => e.kind === 'progress' && e.message.includes(image!.kernel))).toBe(true);

    await vmHost.host.start('busybox-1');
    await waitUntil(() => events.some((e) => e.kind === 'ready' && e.vmId === 'busybox-1'), 'the ready marker');
    expect(consoleText).toContain(image!.readyMarker);
    await waitUntil(() => consoleText.includes('/ # '), 'the shell prompt');

    const before = consoleText.length;
    await vmHost.host.sendConsole('busybox-1', 'uname -m\n');
    // The answer is a line of its own after the echoed command (late kernel messages may land
    // anywhere on the console, so only the lines after the command are looked at).
    await waitUntil(() => linesAfter(consoleText.slice(before), 'uname -m').includes('i686'), 'the answer to uname -m');

    const listed = await vmHost.host.list();
    expect(listed).toEqual([expect.objectContaining({ id: 'busybox-1', state: 'running', ready: true })]);
    const stats = await vmHost.host.stats('busybox-1');
    expect(stats.instructions).toBeGreaterThan(0);
    expect(stats.memoryBytes).toBe(image!.memoryMiB * 1024 * 1024);
    expect(workerErrors).toEqual([]);
  });

  it('pauses and resumes: a paused guest runs no instructions, a resumed one answers again', async () => {
    await vmHost.host.pause('busybox-1');
    expect((await vmHost.host.info('busybox-1')).state).toBe('paused');
    const instructions = (await vmHost.host.stats('busybox-1')).instructions;
    await new Promise((r) => setTimeout(r, 300));
    expect((await vmHost.host.stats('busybox-1')).instructions).toBe(instructions);

    await vmHost.host.resume('busybox-1');
    const before = consoleText.length;
    await vmHost.host.sendConsole('busybox-1', 'echo $((6*7))\n');
    await waitUntil(() => consoleText.slice(before).includes('42'), 'the echo after resume');
    expect((await vmHost.host.stats('busybox-1')).instructions).toBeGreaterThan(instructions);
    expect(events.filter((e) => e.kind === 'state').map((e) => (e as { state: string }).state)).toEqual([
      'created',
      'running',
      'paused',
      'running',
    ]);
  });

  it('refuses operations the VM state does not allow, and unknown VMs, with clear messages', async () => {
    await expect(vmHost.host.resume('busybox-1')).rejects.toThrow('cannot resume VM busybox-1: it is running (needs paused)');
    await expect(vmHost.host.saveState('busybox-1')).rejects.toThrow('needs paused');
    await expect(vmHost.host.start('nope')).rejects.toThrow('no VM named nope');
    await expect(vmHost.host.create({ id: 'busybox-1', image: image! })).rejects.toThrow('already exists');
  });

  it('fails to create a VM whose kernel is missing, naming the file', async () => {
    const broken: ImageEntry = { ...image!, name: 'broken', kernel: 'images/does-not-exist/bzImage', sha256: {} };
    await expect(vmHost.host.create({ id: 'broken', image: broken })).rejects.toThrow('images/does-not-exist/bzImage');
    expect((await vmHost.host.list()).map((v) => v.id)).toEqual(['busybox-1']);
  });

  it('reports a guest power-off as an exit event and the stopped state', async () => {
    await vmHost.host.sendConsole('busybox-1', 'poweroff -f\n');
    await waitUntil(() => events.some((e) => e.kind === 'exit'), 'the exit event');
    expect(events.find((e) => e.kind === 'exit')).toEqual({ kind: 'exit', vmId: 'busybox-1', reason: { kind: 'poweroff', code: 0 } });
    expect(await vmHost.host.info('busybox-1')).toMatchObject({ state: 'stopped', exit: { kind: 'poweroff', code: 0 } });
    await expect(vmHost.host.pause('busybox-1')).rejects.toThrow('it is stopped');
  });

  it('destroys the VM and forgets it', async () => {
    await vmHost.host.destroy('busybox-1');
    expect(await vmHost.host.list()).toEqual([]);
    await expect(vmHost.host.info('busybox-1')).rejects.toThrow('no VM named busybox-1');
  });
});
