// Weights and caps outside the documented ranges (src/worker/schedule-limits.ts) are refused with
// one clear message naming the range, everywhere they can be given: create, setSchedule, import,
// a lab manifest, a VM host and the scheduler. Before, a weight of 1e9 and a cap of 1e-300 were
// accepted (the cap flooded stderr with timer warnings and kept a host loop busy).
import { afterEach, describe, expect, it } from 'vitest';
import { parseLab } from '../../src/hypervisor/lab.js';
import { SliceScheduler } from '../../src/worker/scheduler.js';
import { VmHost } from '../../src/worker/vm-host.js';
import { fakeAssets, fakeEngineFactory, image } from './support/fake-engine.js';
import { bootedVm, fakeRig, shutdownRigs } from './support/fake-rig.js';

afterEach(shutdownRigs);

const WEIGHT_RANGE = 'weight must be a number from 0.1 to 1000';
const CAP_RANGE = 'cap must be a percentage of one core from 1 to 100 (or none)';

describe('weight and cap ranges', () => {
  it('Hypervisor.create and setSchedule refuse 1e9 and 1e-300, and accept the ends of the ranges', async () => {
    const { hv } = fakeRig();
    await expect(hv.create({ image: 'x86-busybox', name: 'a', weight: 1e9 })).rejects.toThrow(`VM 'a': ${WEIGHT_RANGE}, got 1000000000`);
    await expect(hv.create({ image: 'x86-busybox', name: 'a', capPercent: 1e-300 })).rejects.toThrow(`VM 'a': ${CAP_RANGE}, got 1e-300`);
    await expect(hv.create({ image: 'x86-busybox', name: 'a', weight: Number.NaN })).rejects.toThrow(`${WEIGHT_RANGE}, got NaN`);
    await expect(hv.create({ image: 'x86-busybox', name: 'a', capPercent: 0 })).rejects.toThrow(`${CAP_RANGE}, got 0`);
    expect(hv.list()).toEqual([]);
    expect(hv.memoryUsage().reservedBytes).toBe(0);
    await bootedVm(hv, 'b');
    await expect(hv.setSchedule('b', { weight: 1001 })).rejects.toMatchObject({ code: 'bad-argument' });
    await expect(hv.setSchedule('b', { capPercent: 0.5 })).rejects.toThrow(`VM 'b': ${CAP_RANGE}, got 0.5`);
    expect(hv.get('b')).toMatchObject({ weight: 1, capPercent: undefined }); // nothing changed
    expect(await hv.setSchedule('b', { weight: 1000, capPercent: 1 })).toMatchObject({ weight: 1000, capPercent: 1 });
    expect(await hv.setSchedule('b', { weight: 0.1, capPercent: 100 })).toMatchObject({ weight: 0.1, capPercent: 100 });
  });

  it('importSnapshot refuses an out-of-range weight', async () => {
    const { hv } = fakeRig();
    await bootedVm(hv, 'a');
    const file = await hv.snapshot('a');
    await expect(hv.importSnapshot(file, { name: 'b', weight: 5000 })).rejects.toThrow(`VM 'b': ${WEIGHT_RANGE}, got 5000`);
    expect(hv.has('b')).toBe(false);
  });

  it('a lab manifest names the field', () => {
    const lab = (vm: object) => ({ format: 'tabvisor-lab/1', name: 'l', vms: [{ name: 'a', image: 'x86-busybox', ...vm }] });
    expect(() => parseLab(lab({ weight: 1e9 }), [image('x86-busybox')])).toThrow(`lab: "vms[0].weight": ${WEIGHT_RANGE}, got 1000000000`);
    expect(() => parseLab(lab({ capPercent: 1e-300 }), [image('x86-busybox')])).toThrow(`lab: "vms[0].capPercent": ${CAP_RANGE}, got 1e-300`);
  });

  it('a VM host and the scheduler refuse them too (no caller can go around the hypervisor)', async () => {
    const host = new VmHost({ assets: fakeAssets, createEngine: fakeEngineFactory });
    await host.create({ id: 'x', image: image('x86-busybox') });
    expect(() => host.setSchedule('x', { capPercent: 1e-300 })).toThrow(`VM x: ${CAP_RANGE}, got 1e-300`);
    expect(() => host.setSchedule('x', { weight: 1e9 })).toThrow(`VM x: ${WEIGHT_RANGE}, got 1000000000`);
    expect(host.setSchedule('x', { weight: 2, capPercent: 50 })).toEqual({ weight: false, cap: true }); // v86: no weights
    await host.destroyAll();
    const sched = new SliceScheduler();
    expect(() => sched.add('a', { weight: 1e9 })).toThrow(`${WEIGHT_RANGE}, got 1000000000`);
    expect(() => sched.add('b', { capPercent: 1e-300 })).toThrow(`${CAP_RANGE}, got 1e-300`);
  });
});
