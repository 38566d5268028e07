// The hypervisor in Node with real worker_threads VM hosts and the real v86 engine booting
// x86-busybox. One pair of VMs is booted once and reused across the cases (each boot ~2-3 s).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { remoteHostConnection } from '../../src/hypervisor/remote-host.js';
import type { NodeVmHost } from '../../src/worker/node-client.js';
import { ensureCompiledWorker, repoRoot } from '../worker/build-dist.js';
import { sh as shellCommand, untilShell, waitFor } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const x86 = manifest.images.find((i) => i.name === 'x86-busybox')!;
const BOOT_MS = 90_000;

let hv: Hypervisor;
const workers: NodeVmHost[] = [];
const sh = (vm: string, command: string): Promise<string> => shellCommand(hv, vm, command);
const bootToShell = (vm: string): Promise<void> => untilShell(hv, vm, BOOT_MS);

beforeAll(async () => {
  const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 3 * x86.memoryMiB * MiB,
    poolSize: 2,
    hosts: async (index) => {
      const handle = client.startNodeVmHost();
      workers[index] = handle;
      return remoteHostConnection(handle, `worker ${index + 1}`);
    },
  });
  await Promise.all(['a', 'b'].map((name) => hv.create({ image: 'x86-busybox', name })));
  await Promise.all(['a', 'b'].map((name) => hv.start(name)));
  await Promise.all(['a', 'b'].map(bootToShell));
}, 3 * BOOT_MS);

afterAll(async () => {
  await hv?.shutdown();
});

describe('Hypervisor with worker_threads hosts and x86-busybox (v86)', () => {
  it('runs two VMs in two workers and both consoles answer', async () => {
    expect(await sh('a', 'echo $((6*7))')).toBe('42');
    expect(await sh('b', 'uname -m')).toBe('i686');
    expect(hv.list().map((v) => [v.name, v.state, v.ready])).toEqual([
      ['a', 'running', true],
      ['b', 'running', true],
    ]);
    expect(new Set(hv.list().map((v) => v.host))).toEqual(new Set([0, 1]));
    const stats = await hv.stats('a');
    expect(stats.instructions).toBeGreaterThan(1_000_000);
    expect(stats.memoryBytes).toBe(x86.memoryMiB * MiB);
    expect(stats.jit).toBeUndefined(); // v86 has a JIT of its own; the figures are our rv64 JIT's
  });

  it('pauses (no instructions retire, input waits) and resumes (the input is answered)', async () => {
    await hv.pause('a');
    const before = (await hv.stats('a')).instructions;
    const from = hv.consoleOffset('a');
    await hv.sendConsole('a', 'echo after-resume\n');
    await new Promise((r) => setTimeout(r, 300));
    expect((await hv.stats('a')).instructions).toBe(before);
    expect(hv.consoleText('a', from)).not.toContain('after-resume');
    await hv.resume('a');
    await hv.waitForConsole('a', 'after-resume', { from, timeoutMs: 30_000 });
    expect(hv.get('a').state).toBe('running');
  });

  it('snapshot, write a file in the guest, restore: the file is gone', async () => {
    await sh('a', 'rm -f /tmp/after-snapshot');
    const snap = await hv.snapshot('a');
    expect(hv.get('a').state).toBe('running');
    await sh('a', 'echo data > /tmp/after-snapshot');
    expect(await sh('a', 'cat /tmp/after-snapshot')).toBe('data');
    await hv.restore('a', snap);
    expect(hv.get('a').state).toBe('running');
    expect(await sh('a', 'ls /tmp/after-snapshot 2>&1 || echo gone')).toMatch(/gone$/);
  });

  it('clones a running VM: the clone answers, has a new identity and the source still runs', async () => {
    await sh('a', 'echo from-source > /tmp/origin');
    const clone = await hv.clone('a', { name: 'a-clone' });
    expect(clone.state).toBe('running');
    expect(clone.identity.mac).not.toBe(hv.get('a').identity.mac);
    expect(await sh('a-clone', 'cat /tmp/origin')).toBe('from-source');
    await sh('a-clone', 'echo clone-only > /tmp/origin');
    expect(await sh('a', 'cat /tmp/origin')).toBe('from-source');
    await hv.stop('a-clone');
    await hv.delete('a-clone');
  });

  it('refuses a VM that does not fit in the memory budget', async () => {
    await expect(hv.create({ image: 'x86-busybox', name: 'big', memoryMiB: 2 * x86.memoryMiB })).rejects.toThrow(
      `cannot create VM 'big': it asks for ${2 * x86.memoryMiB} MiB but only ${x86.memoryMiB} MiB of the ${3 * x86.memoryMiB} MiB budget is free`,
    );
    expect(hv.has('big')).toBe(false);
  });

  it('caps a VM at 25% with the duty cycle: it retires far fewer instructions than its uncapped twin', async () => {
    expect(hv.get('a').host).not.toBe(hv.get('b').host); // one worker each: they do not compete
    await sh('a', 'while :; do :; done & echo $! > /tmp/spin');
    await sh('b', 'while :; do :; done & echo $! > /tmp/spin');
    expect((await hv.setSchedule('a', { capPercent: 25 })).enforced).toBe(true);
    await hv.stats('a');
    await hv.stats('b');
    await new Promise((r) => setTimeout(r, 2000));
    const capped = await hv.stats('a');
    const free = await hv.stats('b');
    expect(capped.cpuShare).toBeLessThan(0.4); // measured 0.26: the pauses absorb the overshoot
    expect(free.cpuShare).toBeGreaterThan(0.9);
    expect(capped.mips / free.mips).toBeLessThan(0.6);
    await hv.setSchedule('a', { capPercent: undefined });
    await sh('a', 'kill $(cat /tmp/spin)');
    await sh('b', 'kill $(cat /tmp/spin)');
    expect(hv.get('a')).toMatchObject({ state: 'running', throttled: false });
  });

  it('a killed worker crashes only its VM; the other still answers; reset boots it on a fresh worker', async () => {
    const slot = hv.get('b').host!;
    await workers[slot]!.worker.terminate();
    await waitFor(() => hv.get('b').state === 'crashed');
    expect(hv.get('b').crashReason).toMatch(new RegExp(`^its host \\(worker ${slot + 1}\\) died`));
    expect(await sh('a', 'echo still-alive')).toBe('still-alive');
    await hv.reset('b');
    await bootToShell('b');
    expect(await sh('b', 'uname -m')).toBe('i686');
  }, 2 * BOOT_MS);

  it('migrates a running VM to the other worker: its files come along and it answers', async () => {
    await sh('a', 'echo before-move > /tmp/moved');
    const from = hv.get('a').host!;
    const report = await hv.migrate('a');
    expect(report.toHost).toBe(1 - from);
    expect(report.stateBytes).toBeGreaterThan(1_000_000);
    expect(hv.get('a')).toMatchObject({ state: 'running', host: 1 - from });
    expect(await sh('a', 'cat /tmp/moved')).toBe('before-move');
    expect(await sh('b', 'echo neighbour')).toBe('neighbour');
  });
});
