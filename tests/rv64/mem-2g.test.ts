// 2048 MiB, the documented maximum of --mem (issue 12, defect 7): RAM of 2^31 bytes was read back
// from the core as a signed 32-bit number (-2147483648) and every view of it failed.
import { describe, expect, it } from 'vitest';
import { Rv64Core, RAM_BASE } from '../../src/engines/rv64/core.js';
import { loadRv64Module } from '../../src/engines/rv64/wasm-node.js';
import { runBareProgram } from '../../src/engines/rv64/bare.js';
import { NodeAssetLoader } from '../../src/engines/assets-node.js';
import { Rv64Engine } from '../../src/engines/rv64/engine.js';
import { assemble, haveToolchain, readElf } from '../core/unit/toolchain.js';
import { coreBuilt, findRv64Image, GuestSession } from './helpers.js';

const GiB2 = 2 ** 31;
const image = findRv64Image();

describe.runIf(coreBuilt())('2048 MiB of guest RAM', () => {
  it('the core reports and maps all 2^31 bytes', async () => {
    const core = Rv64Core.fromModule(await loadRv64Module(), { ramBytes: GiB2 });
    expect(core.ramBytes).toBe(GiB2);
    expect(core.ram.length).toBe(GiB2);
    const last = RAM_BASE + BigInt(GiB2) - 8n;
    core.writePhys64(last, 0x1122_3344_5566_7788n);
    expect(core.readPhys64(last)).toBe(0x1122_3344_5566_7788n);
    expect(() => core.readPhys64(last + 8n)).toThrow(/outside RAM/);
  });

  it.runIf(haveToolchain)('a bare program stores to the last doubleword of RAM and reads it back', async () => {
    const elf = readElf(assemble(`  .section .text.init, "ax"
  .globl _start
_start:
  li t0, 0x80000000 + 0x80000000 - 8
  li t1, 0x5a5a1234
  sd t1, 0(t0)
  ld t2, 0(t0)
  li t0, 0x100000
  li t3, 0x5555
  bne t1, t2, 1f
  sw t3, 0(t0)
1:
  li t3, 0x13333
  sw t3, 0(t0)
`));
    const r = await runBareProgram({ elf, memoryMiB: 2048, stdout: () => {} });
    expect(r).toMatchObject({ reason: 'poweroff', exitCode: 0 });
  });

  it.runIf(image)('Linux boots with 2048 MiB and sees it', async () => {
    const engine = new Rv64Engine({
      engine: 'rv64', memoryMiB: 2048, firmware: image!.firmware, kernel: image!.kernel, initrd: image!.initrd,
      cmdline: 'console=ttyS0',
    }, new NodeAssetLoader());
    const guest = new GuestSession(engine);
    try {
      await engine.start();
      await guest.waitFor('/ # ');
      const meminfo = await guest.sh('head -1 /proc/meminfo');
      const kb = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1]);
      expect(kb).toBeGreaterThan(1900 * 1024);
    } finally {
      await engine.destroy();
    }
  }, 300_000);
});
