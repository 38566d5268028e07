// SliceRunner + SliceScheduler driving real RV64 machines (our core, build/rv64.wasm) through
// Rv64Machine.runSlice: shares by weight in instructions retired, and a machine that stops is
// removed while the others keep running.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Rv64Machine } from '../../src/engines/rv64/machine.js';
import { loadRv64Module, rv64WasmPath } from '../../src/engines/rv64/wasm-node.js';
import { SliceScheduler } from '../../src/worker/scheduler.js';
import { SliceRunner, systemRunnerHost } from '../../src/worker/slice-runner.js';

const MiB = 1024 * 1024;

/** A minimal ELF64 RISC-V executable: `words` at 0x8000_0000, entry there. */
function elf(words: number[]): Uint8Array {
  const code = new Uint8Array(new Uint32Array(words).buffer);
  const out = new Uint8Array(64 + 56 + code.length);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // magic, ELFCLASS64, little endian, version
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 0xf3, true); // EM_RISCV
  v.setUint32(20, 1, true);
  v.setBigUint64(24, 0x8000_0000n, true); // e_entry
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setUint16(52, 64, true); // e_ehsize
  v.setUint16(54, 56, true); // e_phentsize
  v.setUint16(56, 1, true); // e_phnum
  const ph = 64;
  v.setUint32(ph, 1, true); // PT_LOAD
  v.setUint32(ph + 4, 5, true); // R+X
  v.setBigUint64(ph + 8, 120n, true); // p_offset
  v.setBigUint64(ph + 16, 0x8000_0000n, true); // p_vaddr
  v.setBigUint64(ph + 24, 0x8000_0000n, true); // p_paddr
  v.setBigUint64(ph + 32, BigInt(code.length), true); // p_filesz
  v.setBigUint64(ph + 40, BigInt(code.length), true); // p_memsz
  v.setBigUint64(ph + 48, 4n, true);
  out.set(code, 120);
  return out;
}

const SPIN = [0x0000006f]; // j .
/** Writes 0x5555 (poweroff) to the syscon at 0x10_0000, then spins. */
const POWEROFF = [
  0x001002b7, // lui t0, 0x100
  0x00005337, // lui t1, 0x5
  0x5553031b, // addiw t1, t1, 0x555
  0x0062a023, // sw t1, 0(t0)
  0x0000006f, // j .
];

/** Enables the machine timer interrupt and waits in wfi with no deadline set. */
const IDLE = [
  0x08000293, // li t0, 0x80 (MTIE)
  0x30429073, // csrw mie, t0
  0x10500073, // wfi
  0xffdff06f, // j .-4
];

describe.skipIf(!existsSync(rv64WasmPath()))('SliceRunner with real RV64 machines', () => {
  it('gives two spinning machines with weights 2:1 instructions 2:1, and drops one that powers off', async () => {
    const module = await loadRv64Module();
    const machine = (program: number[]) =>
      new Rv64Machine({ module, memoryBytes: 16 * MiB, kernel: elf(program), output: () => {} });
    const scheduler = new SliceScheduler({ quantum: 100_000 });
    const exits: Array<[string, unknown]> = [];
    const faults: unknown[] = [];
    const runner = new SliceRunner(scheduler, systemRunnerHost(), {
      onExit: (id, exit) => exits.push([id, exit]),
      onFault: (_id, e) => faults.push(e),
    });
    runner.add('heavy', machine(SPIN), { weight: 2 });
    runner.add('light', machine(SPIN), { weight: 1 });
    runner.add('short', machine(POWEROFF), { weight: 1 });
    // Run until the two spinning machines have retired enough for a stable ratio.
    await new Promise<void>((resolve) => {
      const check = () => (scheduler.stats('light').instructions >= 3_000_000 ? resolve() : setTimeout(check, 20));
      check();
    });
    runner.stop();
    expect(faults).toEqual([]);
    expect(exits).toEqual([['short', { kind: 'poweroff', code: 0 }]]);
    const ratio = scheduler.stats('heavy').instructions / scheduler.stats('light').instructions;
    expect(ratio).toBeGreaterThan(1.9);
    expect(ratio).toBeLessThan(2.1);
  });

  it('never runs a machine idling in wfi again until it is woken', async () => {
    const module = await loadRv64Module();
    const scheduler = new SliceScheduler({ quantum: 100_000 });
    const runner = new SliceRunner(scheduler, systemRunnerHost());
    runner.add('idle', new Rv64Machine({ module, memoryBytes: 16 * MiB, kernel: elf(IDLE), output: () => {} }));
    runner.add('spin', new Rv64Machine({ module, memoryBytes: 16 * MiB, kernel: elf(SPIN), output: () => {} }));
    await new Promise<void>((resolve) => {
      const check = () => (scheduler.stats('spin').instructions >= 3_000_000 ? resolve() : setTimeout(check, 20));
      check();
    });
    const idle = scheduler.stats('idle');
    expect(idle.state).toBe('idle');
    expect(idle.slices).toBe(1); // it ran until wfi, once
    expect(idle.instructions).toBeLessThan(10);
    runner.wake('idle');
    await new Promise((r) => setTimeout(r, 50));
    runner.stop();
    expect(scheduler.stats('idle').slices).toBe(2); // woken: it ran, found nothing to do, idled again
  });
});
