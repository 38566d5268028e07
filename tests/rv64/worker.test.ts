// riscv64-busybox on the rv64 engine inside a real node:worker_threads worker (VmHost through comlink),
// as the hypervisor runs VMs: the engine gets the core's wasm through the worker's AssetLoader.

import { proxy } from 'comlink';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import type { NodeVmHost } from '../../src/worker/node-client.js';
import type { VmEvent } from '../../src/worker/protocol.js';
import { ensureCompiledWorker } from '../worker/build-dist.js';
import { coreBuilt, ROOT } from './helpers.js';

const manifest = JSON.parse(readFileSync(join(ROOT, 'images', 'manifest.json'), 'utf8')) as { images: ImageEntry[] };
const image = manifest.images.find((i) => i.name === 'riscv64-busybox');

async function waitUntil(check: () => boolean, what: string, limitMs = 180_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.runIf(coreBuilt() && image)('rv64 engine in a node:worker_threads VmHost', () => {
  let vmHost: NodeVmHost;
  const events: VmEvent[] = [];
  let text = '';
  const workerErrors: string[] = [];

  beforeAll(async () => {
    const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
    vmHost = client.startNodeVmHost();
    vmHost.onError((m) => workerErrors.push(m));
    const decoder = new TextDecoder();
    await vmHost.host.subscribe(proxy((batch: VmEvent[]) => {
      for (const e of batch) {
        events.push(e);
        if (e.kind === 'console') text += decoder.decode(e.data, { stream: true });
      }
    }));
  });

  afterAll(async () => {
    await vmHost?.close();
  });

  it('boots to the shell, answers, pauses with no instructions running, and powers off', async () => {
    await vmHost.host.create({ id: 'rv', image: image! });
    await vmHost.host.start('rv');
    await waitUntil(() => events.some((e) => e.kind === 'ready' && e.vmId === 'rv'), 'the ready marker');
    await waitUntil(() => text.includes('/ # '), 'the prompt');
    const before = text.length;
    await vmHost.host.sendConsole('rv', 'uname -m\n');
    await waitUntil(() => /\nriscv64\r?\n/.test(text.slice(before)), 'riscv64');

    await vmHost.host.pause('rv');
    const n = (await vmHost.host.stats('rv')).instructions;
    await new Promise((r) => setTimeout(r, 300));
    expect((await vmHost.host.stats('rv')).instructions).toBe(n);
    await vmHost.host.resume('rv');

    await vmHost.host.sendConsole('rv', 'poweroff -f\n');
    await waitUntil(() => events.some((e) => e.kind === 'exit'), 'the exit event');
    expect(events.find((e) => e.kind === 'exit')).toEqual({ kind: 'exit', vmId: 'rv', reason: { kind: 'poweroff', code: 0 } });
    expect(workerErrors).toEqual([]);
  });
});
