// Caps are enforced by the VM's host, never by the hypervisor: an in-process host goes through the
// same VmHost code as a worker, takes setSchedule, runs the duty cycle of an engine with its own
// loop, and reports it with `throttle` events that VmSummary.throttled shows.
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

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('caps enforced by an in-process host', () => {
  it('the host holds a capped VM and says so; the hypervisor shows it and lifts it through setSchedule', async () => {
    const hosts: VmHost[] = [];
    hv = new Hypervisor({
      images: [image('x86-busybox')],
      memoryBudgetBytes: 256 << 20,
      poolSize: 1,
      hosts: async () => {
        const host = new VmHost({ assets: fakeAssets, createEngine: fakeEngineFactory, capPeriodMs: 20 });
        hosts.push(host);
        return inProcessHost(host);
      },
    });
    await hv.create({ image: 'x86-busybox', name: 'a', capPercent: 10 });
    await hv.start('a');
    await waitFor(() => hv!.get('a').throttled);
    expect(hv.get('a').state).toBe('running');
    const instance = hosts[0]!.list()[0]!.id;
    expect(hosts[0]!.stats(instance).schedule).toMatchObject({ capPercent: 10, sliced: false });
    const lifted = await hv.setSchedule('a', { capPercent: undefined, weight: 2 });
    expect(lifted.enforced).toBe(false); // a v86-like engine runs its own loop: no weights
    await waitFor(() => !hv!.get('a').throttled && hosts[0]!.list()[0]!.state === 'running');
    expect(hosts[0]!.stats(instance).schedule).toMatchObject({ capPercent: undefined, weight: 2 });
  });
});
