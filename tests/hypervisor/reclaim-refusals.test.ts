// hv.reclaimMemory is refused plainly where it cannot work, and the VM is left as it was.
import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../src/hypervisor/index.js';
import { inProcessHost } from '../../src/hypervisor/host-port.js';
import { VmHost } from '../../src/worker/vm-host.js';
import { fakeAssets, fakeEngineFactory, image } from './support/fake-engine.js';

let hv: Hypervisor | undefined;
afterEach(async () => {
  await hv?.shutdown();
  hv = undefined;
});

describe('giving memory back: refusals', () => {
  it('refuses an x86 VM (bad-argument) and a VM that is not running or paused (invalid-state)', async () => {
    hv = new Hypervisor({
      images: [image('x86-busybox')],
      memoryBudgetBytes: 256 << 20,
      poolSize: 1,
      hosts: async () => inProcessHost(new VmHost({ assets: fakeAssets, createEngine: fakeEngineFactory })),
    });
    await hv.create({ image: 'x86-busybox', name: 'a' });
    await expect(hv.reclaimMemory('a')).rejects.toMatchObject({ code: 'invalid-state' });
    await hv.start('a');
    const refusal = await hv.reclaimMemory('a').then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(refusal?.code).toBe('bad-argument');
    expect(refusal?.message).toBe("cannot give back the memory of VM 'a': only rv64 VMs can (v86 keeps one fixed memory buffer)");
    expect(hv.get('a').state).toBe('running');
  });
});
