// ELF kernels and boot configurations (fuzz/targets/elf.ts): refused with ElfError /
// EngineConfigError / MachineConfigError or loaded and run; never another exception.
import { describe, expect, it } from 'vitest';
import { target } from '../../fuzz/targets/elf.js';
import { parseElf, ElfError } from '../../src/engines/rv64/elf.js';
import { A, words, writeElf } from '../../fuzz/lib/rv-asm.js';
import { coreBuilt } from '../rv64/helpers.js';
import { expectClean, shortRun } from './run-short.js';

const elf = () => writeElf({ entry: 0x8000_0000n, segments: [{ paddr: 0x8000_0000n, data: words([A.jal(0, 0)]) }] });

describe.runIf(coreBuilt())('ELF and boot-config fuzzer', () => {
  // DESIRED behaviour; fails on today's code. Known defect "ELF parser RangeErrors" (being fixed by
  // another helper): damaged headers make parseElf throw DataView RangeErrors instead of ElfError.
  it('200 generated kernels and configurations: refused with the documented errors or run', async () => {
    const r = await shortRun(target, 1, 200);
    expectClean(r);
    expect(r.summary.accepted).toBeGreaterThan(0);
    expect(r.summary.refused).toBeGreaterThan(0);
  }, 180_000);

  // DESIRED behaviour; fails on today's code (known defect "ELF parser RangeErrors", being fixed by
  // another helper): a program-header table whose entries are shorter than 56 bytes, placed at the
  // end of the file, makes parseElf read past the end (RangeError) instead of throwing ElfError.
  it('a short program-header entry at the end of the file is an ElfError', () => {
    const e = elf();
    const dv = new DataView(e.buffer);
    dv.setBigUint64(32, BigInt(e.length - 8), true); // phoff: the last 8 bytes
    dv.setUint16(54, 8, true); // phentsize 8 (an ELF64 entry is 56)
    dv.setUint32(e.length - 8, 1, true); // PT_LOAD
    expect(() => parseElf(e)).toThrow(ElfError);
  });
});
