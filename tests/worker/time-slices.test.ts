// Several RV64 VMs in one real node:worker_threads VM host, through comlink, booting the real
// riscv64-busybox image on our core: the host's slice loop shares its one thread by weight and
// cap, an idle guest (wfi) gets almost nothing, console input wakes it, and pause, save, load and
// destroy work while the loop runs. Shares are shown with instruction counts, never with timing.
import { proxy } from 'comlink';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import type { NodeVmHost } from '../../src/worker/node-client.js';
import type { VmEvent, VmStats } from '../../src/worker/protocol.js';
import { ensureCompiledWorker, repoRoot } from './build-dist.js';

const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const image = manifest.images.find((i) => i.name === 'riscv64-busybox');
/** A shell loop in the background: the guest never idles, the shell still answers. */
const BUSY = '(while :; do :; done) &\n';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a VM host time-slicing several RV64 VMs (worker_threads, riscv64-busybox)', () => {
  let vmHost: NodeVmHost;
  const text = new Map<string, string>();
  const exits: VmEvent[] = [];
  const workerErrors: string[] = [];
  let created: string[] = [];

  async function waitFor(id: string, needle: string, from = 0, limitMs = 90_000): Promise<number> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const at = (text.get(id) ?? '').indexOf(needle, from);
      if (at >= 0) return at + needle.length;
      if (Date.now() > deadline) throw new Error(`VM ${id} did not print ${JSON.stringify(needle)}; its console ends with:\n${(text.get(id) ?? '').slice(-400)}`);
      await sleep(20);
    }
  }

  /** Boots riscv64-busybox in the shared host to its shell. */
  async function boot(id: string): Promise<void> {
    created.push(id);
    await vmHost.host.create({ id, image: image! });
    await vmHost.host.start(id);
    await waitFor(id, image!.readyMarker);
    // The shell answers (the marker is printed just before its prompt).
    await run(id, 'echo up-$((40+2))', 'up-42');
  }

  /** Types a command and waits for `answer` after it; returns ms from typing to the answer. */
  async function run(id: string, command: string, answer: string): Promise<number> {
    const from = (text.get(id) ?? '').length;
    const t0 = performance.now();
    await vmHost.host.sendConsole(id, command + '\n');
    // The echo of the command contains the expression, not its value: look for the value.
    await waitFor(id, answer, from);
    return performance.now() - t0;
  }

  async function statsOf(...ids: string[]): Promise<VmStats[]> {
    return Promise.all(ids.map((id) => vmHost.host.stats(id)));
  }

  /** Instructions each VM retires over a window of `ms`. */
  async function window(ms: number, ...ids: string[]): Promise<{ instructions: number[]; runMs: number[]; wallMs: number }> {
    const before = await statsOf(...ids);
    const t0 = performance.now();
    await sleep(ms);
    const after = await statsOf(...ids);
    const wallMs = performance.now() - t0;
    return {
      instructions: after.map((s, i) => s.instructions - before[i]!.instructions),
      runMs: after.map((s, i) => s.runMs - before[i]!.runMs),
      wallMs,
    };
  }

  beforeAll(async () => {
    if (!image) throw new Error('images/manifest.json has no riscv64-busybox image');
    const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
    // Shares are counted in instructions, which compare only when every VM runs at the same speed
    // per ms of its slices. The JIT makes speed depend on warm-up (a VM that runs more compiles its
    // loop sooner), so this worker interprets: these tests pin the scheduler, not the JIT.
    const jitSetting = process.env.TABVISOR_JIT;
    process.env.TABVISOR_JIT = '0'; // the worker copies the environment when it starts
    vmHost = client.startNodeVmHost();
    if (jitSetting === undefined) delete process.env.TABVISOR_JIT;
    else process.env.TABVISOR_JIT = jitSetting;
    vmHost.onError((message) => workerErrors.push(message));
    const decoder = new Map<string, TextDecoder>();
    await vmHost.host.subscribe(
      proxy((batch: VmEvent[]) => {
        for (const e of batch) {
          if (e.kind === 'console') {
            if (!decoder.has(e.vmId)) decoder.set(e.vmId, new TextDecoder());
            text.set(e.vmId, (text.get(e.vmId) ?? '') + decoder.get(e.vmId)!.decode(e.data, { stream: true }));
          } else if (e.kind === 'exit') exits.push(e);
        }
      }),
    );
  });

  afterEach(async () => {
    for (const id of created) await vmHost.host.destroy(id);
    created = [];
    expect(workerErrors).toEqual([]);
    expect(exits).toEqual([]);
  });

  afterAll(async () => {
    await vmHost?.close();
  });

  it('gives two busy VMs with weights 2:1 about 2:1 of the instructions', async () => {
    await boot('w2');
    await boot('w1');
    await vmHost.host.setSchedule('w2', { weight: 2 });
    await vmHost.host.setSchedule('w1', { weight: 1 });
    await run('w2', BUSY, '# ');
    await run('w1', BUSY, '# ');
    const w = await window(3000, 'w2', 'w1');
    const [a, b] = w.instructions as [number, number];
    console.log(`weights 2:1 over ${w.wallMs.toFixed(0)} ms: ${(a / 1e6).toFixed(1)} M vs ${(b / 1e6).toFixed(1)} M instructions (ratio ${(a / b).toFixed(2)})`);
    expect(b).toBeGreaterThan(10e6); // both really ran
    expect(a / b).toBeGreaterThan(1.8);
    expect(a / b).toBeLessThan(2.2);
    const [s2, s1] = await statsOf('w2', 'w1');
    expect(s2!.schedule).toMatchObject({ weight: 2, sliced: true, runnable: true });
    expect(s1!.schedule).toMatchObject({ weight: 1, sliced: true, runnable: true });
  });

  it('holds a VM capped at 25% to its budget next to an uncapped one', async () => {
    await boot('capped');
    await boot('free');
    await run('capped', BUSY, '# ');
    await run('free', BUSY, '# ');
    await vmHost.host.setSchedule('capped', { capPercent: 25 });
    await sleep(300); // the cap's bucket settles (it may bank one 100 ms window)
    const w = await window(3000, 'capped', 'free');
    const [c, f] = w.instructions as [number, number];
    const [cRun, fRun] = w.runMs as [number, number];
    // The capped VM's own speed, from its instructions per ms of its slices.
    const speed = c / cRun;
    // Over a window T it may run cap × (T + one 100 ms window) plus one slice of 10^5 instructions.
    const budget = 0.25 * (w.wallMs + 100) * speed + 100_000;
    console.log(
      `cap 25% over ${w.wallMs.toFixed(0)} ms: capped ${(c / 1e6).toFixed(1)} M (budget ${(budget / 1e6).toFixed(1)} M), ` +
        `uncapped ${(f / 1e6).toFixed(1)} M; ratio ${(c / f).toFixed(2)}; run ms ${cRun.toFixed(0)} vs ${fRun.toFixed(0)}`,
    );
    expect(c).toBeLessThanOrEqual(budget);
    // The uncapped VM gets the rest of the core: about 75 : 25 of the time. Instructions per ms
    // of run time differ between the two guests (by up to 1.3x either way here), so the
    // instruction ratio only has to show that the cap holds (an ignored cap gives about 1).
    expect(c / f).toBeLessThan(0.6);
    expect(cRun / fRun).toBeLessThan(0.45);
    expect(cRun / fRun).toBeGreaterThan(0.2);
    // Lifting the cap gives it an equal share again.
    await vmHost.host.setSchedule('capped', { capPercent: undefined });
    const after = await window(2000, 'capped', 'free');
    const ratio = after.instructions[0]! / after.instructions[1]!;
    console.log(`cap lifted: ratio ${ratio.toFixed(2)}`);
    expect(ratio).toBeGreaterThan(0.7);
    expect(ratio).toBeLessThan(1.4);
  });

  it('gives an idle guest (shell waiting in wfi) almost nothing while another VM runs, and wakes it on input', async () => {
    await boot('idle');
    await boot('busy');
    await run('busy', BUSY, '# ');
    await sleep(500);
    const w = await window(3000, 'idle', 'busy');
    const [i, b] = w.instructions as [number, number];
    console.log(`idle vs busy over ${w.wallMs.toFixed(0)} ms: ${(i / 1e6).toFixed(2)} M vs ${(b / 1e6).toFixed(1)} M instructions`);
    // The idle kernel's 250 Hz timer tick only: about half a million instructions a second, a
    // count that depends on guest time, not on the host's speed.
    expect(i).toBeLessThan(w.wallMs * 1000);
    expect(i).toBeLessThan(b / 20);
    expect((await vmHost.host.stats('idle')).schedule?.runnable).toBe(false);
    // Typing wakes it: it answers a command while the other VM keeps the core busy.
    const ms = await run('idle', 'echo woke-$((7*6))', 'woke-42');
    console.log(`idle VM answered in ${ms.toFixed(0)} ms`);
    const again = await run('idle', 'echo twice-$((7*7))', 'twice-49');
    console.log(`and again in ${again.toFixed(0)} ms`);
  });

  it('pauses, saves, loads and destroys VMs while the slice loop runs', async () => {
    await boot('p');
    await boot('q');
    await run('q', BUSY, '# ');
    await vmHost.host.pause('p');
    const paused = await window(500, 'p', 'q');
    expect(paused.instructions[0]).toBe(0);
    expect(paused.instructions[1]).toBeGreaterThan(1e6);
    // Input typed while paused waits for resume.
    await vmHost.host.sendConsole('p', 'echo held-$((5*5))\n');
    const state = await vmHost.host.saveState('p');
    expect(state.length).toBeGreaterThan(1 << 20);
    await vmHost.host.loadState('p', state);
    await vmHost.host.resume('p');
    await waitFor('p', 'held-25');
    // Pause and save the busy one, resume it, then destroy it in the middle of its loop.
    await vmHost.host.pause('q');
    const qState = await vmHost.host.saveState('q');
    await vmHost.host.resume('q');
    const moving = await window(300, 'q');
    expect(moving.instructions[0]).toBeGreaterThan(1e6);
    await vmHost.host.destroy('q');
    created = created.filter((id) => id !== 'q');
    expect((await vmHost.host.list()).map((v) => v.id)).toEqual(['p']);
    // A new VM from the busy one's state runs in the same loop, still busy.
    await vmHost.host.create({ id: 'q2', config: { engine: 'rv64', memoryMiB: image!.memoryMiB, state: qState } });
    created.push('q2');
    await vmHost.host.start('q2');
    const restored = await window(500, 'q2', 'p');
    expect(restored.instructions[0]).toBeGreaterThan(1e6);
    expect(await run('p', 'echo still-$((9*9))', 'still-81')).toBeGreaterThan(0);
  });
});

describe('weights set through the Hypervisor reach the worker that time-slices its RV64 VMs', () => {
  it('two busy VMs in one worker with weights 3:1 (hv.setSchedule) retire about 3:1 of the instructions', async () => {
    const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
    const { Hypervisor } = await import('../../src/hypervisor/hypervisor.js');
    const { remoteHostConnection } = await import('../../src/hypervisor/remote-host.js');
    const hv = new Hypervisor({
      images: manifest.images,
      memoryBudgetBytes: 512 * 1024 * 1024,
      poolSize: 1,
      hosts: async (index) => remoteHostConnection(client.startNodeVmHost(), `worker ${index + 1}`),
    });
    try {
      for (const name of ['heavy', 'light']) {
        await hv.create({ image: image!.name, name, memoryMiB: 64 });
        await hv.start(name);
        await hv.waitUntilReady(name, 90_000);
        const from = hv.consoleOffset(name);
        await hv.sendConsole(name, 'echo spin-$((2+2)); ' + BUSY);
        await hv.waitForConsole(name, 'spin-4', { from, timeoutMs: 30_000 });
      }
      expect(hv.get('heavy').host).toBe(hv.get('light').host);
      expect((await hv.setSchedule('heavy', { weight: 3 })).enforced).toBe(true);
      const before = [await hv.stats('heavy'), await hv.stats('light')];
      await sleep(3000);
      const after = [await hv.stats('heavy'), await hv.stats('light')];
      const heavy = after[0]!.instructions - before[0]!.instructions;
      const light = after[1]!.instructions - before[1]!.instructions;
      console.log(`hv weights 3:1: ${(heavy / 1e6).toFixed(1)} M vs ${(light / 1e6).toFixed(1)} M (ratio ${(heavy / light).toFixed(2)})`);
      expect(light).toBeGreaterThan(5e6);
      expect(heavy / light).toBeGreaterThan(2.6);
      expect(heavy / light).toBeLessThan(3.4);
      expect(hv.get('heavy').throttled).toBe(false);
    } finally {
      await hv.shutdown();
    }
  });
});
