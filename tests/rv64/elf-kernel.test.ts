// A Linux kernel given as an ELF (like vmlinux: linked at kernel-virtual addresses, physical ones
// from 0) boots as its Image would: placed at 0x8020_0000, where fw_jump enters it.

import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engines/create.js';
import { NodeAssetLoader } from '../../src/engines/assets-node.js';
import { parseLinuxImage } from '../../src/engines/rv64/boot-layout.js';
import { coreBuilt, findRv64Image, GuestSession } from './helpers.js';

const image = findRv64Image();

/** An ELF64 RISC-V executable with one PT_LOAD segment holding `body` at `vaddr` (paddr 0). */
function elfWrap(body: Uint8Array, vaddr: bigint, memSize: number): Uint8Array {
  const out = new Uint8Array(0x1000 + body.length);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 243, true); // EM_RISCV
  v.setUint32(20, 1, true);
  v.setBigUint64(24, vaddr, true); // entry
  v.setBigUint64(32, 64n, true); // phoff
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, 1, true);
  v.setUint32(64, 1, true); // PT_LOAD
  v.setUint32(68, 7, true);
  v.setBigUint64(72, 0x1000n, true); // offset
  v.setBigUint64(80, vaddr, true);
  v.setBigUint64(88, 0n, true); // paddr
  v.setBigUint64(96, BigInt(body.length), true);
  v.setBigUint64(104, BigInt(Math.max(memSize, body.length)), true);
  v.setBigUint64(112, 0x1000n, true);
  out.set(body, 0x1000);
  return out;
}

describe.runIf(coreBuilt() && image)('rv64 ELF kernels', () => {
  it('boots the kernel wrapped as a vmlinux-style ELF to the shell', async () => {
    const header = parseLinuxImage(image!.kernel)!;
    const kernel = elfWrap(image!.kernel, 0xffff_ffff_8000_0000n, header.imageSize);
    const engine = await createEngine({
      engine: 'rv64', memoryMiB: image!.memoryMiB, firmware: image!.firmware, kernel, initrd: image!.initrd, cmdline: 'console=ttyS0',
    }, new NodeAssetLoader());
    const guest = new GuestSession(engine);
    try {
      await engine.start();
      await guest.waitFor('/ # ');
      expect((await guest.sh('uname -m')).trim()).toBe('riscv64');
    } finally {
      await engine.destroy();
    }
  });
});
