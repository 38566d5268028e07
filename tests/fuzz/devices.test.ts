// Guest -> devices (fuzz/targets/devices.ts): hostile guest programs against virtio-mmio, PLIC,
// UART and CLINT on a real Rv64Machine; the host never throws, the core never faults.
import { describe, expect, it } from 'vitest';
import { target } from '../../fuzz/targets/devices.js';
import { coreBuilt } from '../rv64/helpers.js';
import { expectClean, shortRun } from './run-short.js';

describe.runIf(coreBuilt())('guest -> devices fuzzer', () => {
  it('150 hostile guest programs: devices use buffers or set NEEDS_RESET, the host never throws', async () => {
    const r = await shortRun(target, 1, 150);
    expectClean(r);
    expect(r.summary.kinds['refused needs-reset']).toBeGreaterThan(0);
  }, 300_000);
});
