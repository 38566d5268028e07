// What a user sees when an rv64 VM cannot boot or dies: a clear refusal for files that are not a
// kernel or do not fit, and a 'crash' exit with the reason for a guest that panics or is stuck.

import { describe, expect, it } from 'vitest';
import { createEngine, EngineConfigError } from '../../src/engines/create.js';
import { NodeAssetLoader } from '../../src/engines/assets-node.js';
import type { BootConfig, ExitReason } from '../../src/engines/engine.js';
import { Rv64Engine } from '../../src/engines/rv64/engine.js';
import { coreBuilt, findRv64Image, GuestSession } from './helpers.js';

const image = findRv64Image();
const assets = new NodeAssetLoader();

/** Boots `config` and resolves with the exit reason and the console. */
async function runToExit(config: BootConfig): Promise<{ exit: ExitReason; out: string }> {
  const engine = await createEngine(config, assets);
  let out = '';
  engine.onConsole((d) => (out += new TextDecoder().decode(d)));
  const exit = new Promise<ExitReason>((resolve) => engine.onExit(resolve));
  try {
    await engine.start();
    return { exit: await exit, out };
  } finally {
    await engine.destroy();
  }
}

describe('rv64 configurations that cannot boot are refused up front', () => {
  it('a file that is neither a RISC-V Image nor an ELF', async () => {
    const garbage = new Uint8Array(100_000).map((_, i) => (i * 7919) & 0xff);
    await expect(createEngine({ engine: 'rv64', memoryMiB: 64, kernel: garbage }, assets))
      .rejects.toThrow(/neither a RISC-V Linux Image nor a RISC-V ELF/);
  });

  it.runIf(image)('a Linux Image without firmware', async () => {
    await expect(createEngine({ engine: 'rv64', memoryMiB: 64, kernel: image!.kernel }, assets))
      .rejects.toThrow(/needs firmware/);
  });

  it.runIf(image)('an initrd that does not fit in memory, naming the fix', async () => {
    const err = await createEngine({
      engine: 'rv64', memoryMiB: 64, firmware: image!.firmware, kernel: image!.kernel, initrd: new Uint8Array(60 << 20),
    }, assets).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineConfigError);
    expect((err as Error).message).toMatch(/60.0 MiB initrd does not fit in 64.0 MiB of RAM.*give more memory/);
  });

  it('a saved state that is not an rv64 state', async () => {
    await expect(createEngine({ engine: 'rv64', memoryMiB: 64, state: new Uint8Array(64).fill(7) }, assets))
      .rejects.toThrow(/not an rv64 machine state/);
  });
});

describe.runIf(coreBuilt() && image)('rv64 guests that die end with a crash exit that says why', () => {
  it('a kernel panic (no root file system) ends the VM with the panic message', async () => {
    const { exit, out } = await runToExit({
      engine: 'rv64', memoryMiB: 64, firmware: image!.firmware, kernel: image!.kernel, cmdline: 'console=ttyS0',
    });
    expect(out).toContain('Kernel panic');
    expect(exit.kind).toBe('crash');
    expect((exit as { message: string }).message).toMatch(/Kernel panic - not syncing: VFS: Unable to mount root fs/);
  });

  it('a garbage kernel body (valid Image header) ends as a stuck guest, not an endless run', async () => {
    const kernel = new Uint8Array(256 * 1024);
    kernel.set(image!.kernel.subarray(0, 64)); // the header jumps into zeros: illegal instructions
    const { exit, out } = await runToExit({ engine: 'rv64', memoryMiB: 64, firmware: image!.firmware, kernel });
    expect(out).toContain('OpenSBI v');
    expect(exit).toEqual({ kind: 'crash', message: expect.stringMatching(/stuck: illegal instruction at pc 0x80201084/) });
  });

  it('reboot -f ends the VM with ExitReason reboot (the hypervisor decides what follows)', async () => {
    const engine = await createEngine({
      engine: 'rv64', memoryMiB: image!.memoryMiB, firmware: image!.firmware, kernel: image!.kernel, initrd: image!.initrd, cmdline: 'console=ttyS0',
    }, assets);
    const guest = new GuestSession(engine);
    try {
      await engine.start();
      await guest.waitFor('/ # ');
      engine.sendConsole('reboot -f\n');
      expect(await guest.exited).toEqual({ kind: 'reboot' });
    } finally {
      await engine.destroy();
    }
  });

  it('runs in slices driven from outside (drive: external), as the hypervisor\'s SliceRunner does', async () => {
    const engine = new Rv64Engine({
      engine: 'rv64', memoryMiB: 64, firmware: image!.firmware, kernel: image!.kernel, cmdline: 'console=ttyS0',
    }, assets, { drive: 'external' });
    let out = '';
    engine.onConsole((d) => (out += new TextDecoder().decode(d)));
    let exit: ExitReason | undefined;
    engine.onExit((r) => (exit = r));
    try {
      await engine.start();
      let total = 0;
      for (let i = 0; i < 20_000 && !engine.board!.exit; i++) {
        const report = engine.runSlice(200_000);
        expect(report.instructions).toBeLessThanOrEqual(200_000);
        total += report.instructions;
        if (report.idle) {
          await new Promise((r) => setTimeout(r, Math.max(0, Math.ceil((report.idle!.wakeAt ?? performance.now() + 1) - performance.now()))));
        }
      }
      await Promise.resolve();
      expect(out).toContain('Linux version 6.1');
      // No initrd: the kernel panics, as in the case above.
      expect(exit).toEqual({ kind: 'crash', message: expect.stringContaining('Kernel panic') });
      expect(engine.stats().instructions).toBe(total);
    } finally {
      await engine.destroy();
    }
  });
});
