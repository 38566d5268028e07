// A guest reboot on x86: v86 itself would restart only the BIOS (it does not load the bzImage
// again), so the v86 engine reports the reset as a 'reboot' exit and the hypervisor boots a
// fresh machine from the image. Both `reboot -f` and init's `reboot` come back to a shell.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { remoteHostConnection } from '../../src/hypervisor/remote-host.js';
import { ensureCompiledWorker, repoRoot } from '../worker/build-dist.js';
import { sh, untilShell } from '../hypervisor/support/guest-shell.js';

const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const x86 = manifest.images.find((i) => i.name === 'x86-busybox')!;
const BOOT_MS = 120_000;
let hv: Hypervisor;

beforeAll(async () => {
  const client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as typeof import('../../src/worker/node-client.js');
  hv = new Hypervisor({
    images: manifest.images,
    memoryBudgetBytes: 2 * x86.memoryMiB * 1024 * 1024,
    poolSize: 1,
    hosts: async (index) => remoteHostConnection(client.startNodeVmHost(), `worker ${index + 1}`),
  });
  await hv.create({ image: 'x86-busybox', name: 'r' });
  await hv.start('r');
  await untilShell(hv, 'r', BOOT_MS);
}, 2 * BOOT_MS);

afterAll(async () => {
  await hv?.shutdown();
});

/** Marks the running guest, types a reboot command and waits for the next boot's shell. */
async function rebootWith(command: string): Promise<void> {
  await sh(hv, 'r', 'echo before > /tmp/mark');
  const from = hv.consoleOffset('r');
  await hv.sendConsole('r', `${command}\n`);
  await hv.waitForConsole('r', x86.readyMarker, { from, timeoutMs: BOOT_MS });
  await untilShell(hv, 'r', BOOT_MS);
}

describe('x86-busybox reboot under the hypervisor (v86 engine)', () => {
  it('reboot -f comes back to a shell on a fresh machine', async () => {
    await rebootWith('reboot -f');
    // A fresh boot: the tmpfs file from before is gone, the VM is running and ready.
    expect(await sh(hv, 'r', 'cat /tmp/mark 2>/dev/null || echo gone')).toBe('gone');
    expect(hv.list().map((v) => [v.name, v.state, v.ready])).toEqual([['r', 'running', true]]);
  }, 2 * BOOT_MS);

  it("init's reboot (unmount, then reset) comes back too", async () => {
    await rebootWith('reboot');
    expect(await sh(hv, 'r', 'cat /tmp/mark 2>/dev/null || echo gone')).toBe('gone');
    expect(await sh(hv, 'r', 'uname -m')).toBe('i686');
  }, 2 * BOOT_MS);
});
