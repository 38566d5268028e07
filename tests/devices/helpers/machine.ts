// A minimal rv64 machine for device tests under real guest software: the core (build/rv64.wasm),
// VirtDevices on its bus, our device tree, OpenSBI fw_jump and a payload or Linux kernel.
// The engine (src/engines/rv64) is the real board; this harness exists so that device tests do not
// depend on it.

import { existsSync, readFileSync } from 'node:fs';
import { Rv64Core, StopReason } from '../../../src/engines/rv64/core.js';
import { loadRv64Module, rv64WasmPath } from '../../../src/engines/rv64/wasm-node.js';
import { VirtDevices } from '../../../src/devices/virt-devices.js';
import { ArrayGuestMemory } from '../../../src/devices/guest-memory.js';
import { BufferConsole } from '../../../src/devices/backends/console.js';
import { faultReportingBus } from '../../../src/devices/mmio-bus.js';
import type { VirtioDevice } from '../../../src/devices/virtio/device.js';

export const FW_JUMP = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
/** TABVISOR_RV64_WASM may name another core build (e.g. one with a local fix) for these tests. */
const altCore = process.env.TABVISOR_RV64_WASM;
export const coreAvailable = (): boolean => existsSync(altCore ?? rv64WasmPath());
const loadCore = (): Promise<WebAssembly.Module> =>
  altCore ? WebAssembly.compile(readFileSync(altCore)) : loadRv64Module();

export interface MachineOptions {
  ramBytes?: number;
  payload: Uint8Array; // at 0x8020_0000 (kernel Image or an S-mode program)
  initrd?: Uint8Array;
  bootargs?: string;
  virtio?: (VirtioDevice | undefined)[];
}

export async function createMachine(opts: MachineOptions) {
  const ramBytes = opts.ramBytes ?? 128 << 20;
  const core = Rv64Core.fromModule(await loadCore(), { ramBytes });
  const console = new BufferConsole();
  const memory = new ArrayGuestMemory(() => core.ram);
  const events: string[] = [];
  const stop = (what: string) => {
    events.push(what);
    core.requestStop();
  };
  const devices = new VirtDevices({
    memory,
    console,
    syscon: { poweroff: () => stop('poweroff'), reboot: () => stop('reboot'), fail: (c) => stop(`fail ${c}`) },
    virtio: opts.virtio,
  });
  devices.connectHart((l) => core.setMeip(l), (l) => core.setSeip(l));
  core.setBus(faultReportingBus(devices.bus, () => core.mmioFault()));
  const base = 0x8000_0000n;
  core.writePhys(base, readFileSync(FW_JUMP));
  core.writePhys(base + 0x20_0000n, opts.payload);
  let initrd: { start: bigint; end: bigint } | undefined;
  if (opts.initrd) {
    // Above the kernel and the place fw_jump moves the tree to (0x8220_0000), 2 MiB aligned.
    const start = base + ((0x20_0000n + BigInt(opts.payload.length) + 0x40_0000n + 0x1f_ffffn) & ~0x1f_ffffn);
    const s = start < base + 0x240_0000n ? base + 0x240_0000n : start;
    core.writePhys(s, opts.initrd);
    initrd = { start: s, end: s + BigInt(opts.initrd.length) };
  }
  const dtbAddr = base + BigInt(ramBytes) - 0x10_0000n;
  core.writePhys(dtbAddr, devices.deviceTree({ memoryBytes: ramBytes, bootargs: opts.bootargs, initrd }));
  core.setReg(10, 0n);
  core.setReg(11, dtbAddr);
  core.pc = base;

  let output = '';
  /**
   * Runs until `until(output)` holds, the guest stops (syscon) or `maxInstructions` retire. When the
   * hart sleeps in WFI, time jumps to its next timer (the test does not wait in real time) and
   * `onIdle` may feed input.
   */
  const run = (until: (out: string) => boolean, maxInstructions = 2e9, onIdle: () => void = () => {}): string => {
    const limit = core.instret + BigInt(maxInstructions);
    while (events.length === 0 && !until(output) && core.instret < limit) {
      const r = core.run(500_000);
      output += console.takeText();
      if (r === StopReason.Fatal) throw new Error(`core fatal ${core.exports.fatalCode()} at pc 0x${core.pc.toString(16)}`);
      if (r === StopReason.Wfi) {
        const t = core.ticksUntilTimer();
        onIdle();
        if (t !== undefined) core.advanceTime(t > 0n ? t : 1n);
        else core.advanceTime(10_000n);
      }
    }
    return output;
  };
  const output_ = () => output;
  return { core, devices, console, memory, events, run, output: output_ };
}
