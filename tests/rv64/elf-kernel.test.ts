// A Linux kernel given as an ELF (like vmlinux: linked at kernel-virtual addresses, physical ones
// from 0) boots as its Image would: placed at 0x8020_0000, where fw_jump enters it. Without
// firmware, an ELF linked for the board is entered directly in M mode with a1 = the device tree.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const hasAs = spawnSync('riscv64-linux-gnu-as', ['--version']).status === 0;

/** M-mode program: checks a1 points at a device tree (magic d00dfeed), prints "bare-ok" on the UART, powers off. */
const BARE = `
  .globl _start
_start:
  lwu t0, 0(a1)
  li t1, 0xedfe0dd0
  bne t0, t1, fail
  la t2, msg
  li t3, 0x10000000
1:lbu t4, 0(t2)
  beqz t4, off
  sb t4, 0(t3)
  addi t2, t2, 1
  j 1b
off:
  li t3, 0x100000
  li t4, 0x5555
  sw t4, 0(t3)
2:j 2b
fail:
  li t3, 0x100000
  li t4, 0x13333
  sw t4, 0(t3)
  j 2b
msg: .asciz "bare-ok\\n"
`;

describe.runIf(coreBuilt() && hasAs)('rv64 bare ELF programs through the engine', () => {
  it('enters an ELF linked at 0x8000_0000 in M mode with the device tree in a1, and powers off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabvisor-bare-'));
    try {
      writeFileSync(join(dir, 'p.S'), BARE);
      for (const [cmd, args] of [
        ['riscv64-linux-gnu-as', ['-march=rv64imac_zicsr', '-o', 'p.o', 'p.S']],
        ['riscv64-linux-gnu-ld', ['-Ttext=0x80000000', '-o', 'p.elf', 'p.o']],
      ] as const) {
        const r = spawnSync(cmd, [...args], { cwd: dir, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
      }
      const engine = await createEngine({ engine: 'rv64', memoryMiB: 16, kernel: new Uint8Array(readFileSync(join(dir, 'p.elf'))) }, new NodeAssetLoader());
      const guest = new GuestSession(engine);
      try {
        await engine.start();
        expect(await guest.exited).toEqual({ kind: 'poweroff', code: 0 });
        expect(guest.out).toBe('bare-ok\n');
      } finally {
        await engine.destroy();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
