// The ELF parser against malformed files (issue 12, defects 7 and 9): truncations, byte flips,
// huge counts and offsets, overlapping segments, segments and entry points outside RAM, a damaged
// symbol table. Every outcome is a parsed image or an ElfError (an EngineConfigError: the CLI's
// exit 2) with one line; never a RangeError or another exception.
import { describe, expect, it } from 'vitest';
import { parseElf, checkElfInRam, loadElfInto, ElfError } from '../../src/engines/rv64/elf.js';
import { EngineConfigError } from '../../src/engines/create.js';
import { runBareProgram } from '../../src/engines/rv64/bare.js';
import { assemble, haveToolchain, readElf } from '../core/unit/toolchain.js';

const RAM_BASE = 0x8000_0000n;
const RAM_BYTES = 8 << 20;
const ram = new Uint8Array(RAM_BYTES);

/** parse + place in RAM + load, as runBareProgram does; returns 'ok' or the ElfError's message. */
function outcome(bytes: Uint8Array): string {
  try {
    const image = parseElf(bytes);
    checkElfInRam(image, RAM_BASE, RAM_BYTES);
    loadElfInto(image, bytes, ram, RAM_BASE);
    return 'ok';
  } catch (e) {
    if (!(e instanceof ElfError)) throw new Error(`not an ElfError: ${String(e)}`);
    expect(e).toBeInstanceOf(EngineConfigError);
    expect(e.message).not.toContain('\n');
    return e.message;
  }
}

/** A hand-made ELF64: header, `phdrs` program headers (type, offset, paddr, filesz, memsz), no sections. */
function craft(entry: bigint, phdrs: [number, number, bigint, number, number][]): Uint8Array {
  const size = 64 + 56 * phdrs.length + 4096;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true);
  v.setUint16(18, 243, true);
  v.setBigUint64(24, entry, true);
  v.setBigUint64(32, 64n, true);
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, phdrs.length, true);
  phdrs.forEach(([type, off, paddr, filesz, memsz], i) => {
    const o = 64 + i * 56;
    v.setUint32(o, type, true);
    v.setUint32(o + 4, 5, true);
    v.setBigUint64(o + 8, BigInt(off), true);
    v.setBigUint64(o + 16, paddr, true);
    v.setBigUint64(o + 24, paddr, true);
    v.setBigUint64(o + 32, BigInt(filesz), true);
    v.setBigUint64(o + 40, BigInt(memsz), true);
  });
  return b;
}

describe('ELF parser against malformed files', () => {
  it('hand-made files: overlaps, outside RAM, huge sizes', () => {
    const body = 64 + 56 * 2;
    expect(outcome(craft(RAM_BASE, [[1, body, RAM_BASE, 16, 16]]))).toBe('ok');
    expect(outcome(craft(RAM_BASE, [[1, body, RAM_BASE, 16, 4096], [1, body, RAM_BASE + 100n, 16, 16]]))).toMatch(/overlap/);
    expect(outcome(craft(RAM_BASE, [[1, body, 0x1000n, 16, 16]]))).toMatch(/outside RAM/);
    expect(outcome(craft(RAM_BASE, [[1, body, RAM_BASE + BigInt(RAM_BYTES) - 8n, 16, 16]]))).toMatch(/outside RAM/);
    expect(outcome(craft(0x1000n, [[1, body, RAM_BASE, 16, 16]]))).toMatch(/entry point 0x1000 is outside RAM/);
    expect(outcome(craft(RAM_BASE + BigInt(RAM_BYTES), [[1, body, RAM_BASE, 16, 16]]))).toMatch(/entry point/);
    expect(outcome(craft(RAM_BASE + 1n, [[1, body, RAM_BASE, 16, 16]]))).toMatch(/entry point 0x80000001 is odd/);
    expect(outcome(craft(RAM_BASE, [[1, body, 0xffff_ffff_ffff_f000n, 16, 0x2000]]))).toMatch(/wraps|outside RAM/);
    expect(outcome(craft(RAM_BASE, [[1, body, RAM_BASE, 16, 2 ** 40]]))).toMatch(/larger than any RAM/);
    expect(outcome(craft(RAM_BASE, [[1, 2 ** 52, RAM_BASE, 16, 16]]))).toMatch(/past the end/);
    expect(outcome(craft(RAM_BASE, [[1, body, RAM_BASE, 2 ** 30, 2 ** 30]]))).toMatch(/past the end/);
    expect(outcome(craft(RAM_BASE, [[1, body, RAM_BASE, 32, 16]]))).toMatch(/file size larger/);
    expect(outcome(craft(RAM_BASE, [[6, body, RAM_BASE, 16, 16]]))).toMatch(/no loadable/);
    expect(outcome(craft(RAM_BASE, []))).toMatch(/no program headers/);
  });

  it.skipIf(!haveToolchain)('a real program: every truncation, huge header fields, and 3000 byte flips', () => {
    const good = readElf(assemble(`  .section .text.init, "ax"\n  .globl _start\n_start:\n  la t0, tohost\n  j .\n  .data\n  .globl tohost\ntohost: .dword 0\n`));
    expect(outcome(good)).toBe('ok');
    expect(parseElf(good).symbols.get('tohost')).toBeDefined();
    for (let n = 0; n < good.length; n += n < 256 ? 1 : 7) {
      const r = outcome(good.subarray(0, n));
      if (n < good.length - 1) expect(r, `truncated to ${n}`).not.toBe('ok');
    }
    const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const fields: [string, (v: DataView) => void][] = [
      ['phnum 0xfffe', (v) => v.setUint16(56, 0xfffe, true)],
      ['phnum 0xffff', (v) => v.setUint16(56, 0xffff, true)],
      ['phentsize 0', (v) => v.setUint16(54, 0, true)],
      ['phoff 2^63', (v) => v.setBigUint64(32, 1n << 63n, true)],
      ['phoff 2^64-1', (v) => v.setBigUint64(32, (1n << 64n) - 1n, true)],
      ['shoff 2^64-1', (v) => v.setBigUint64(40, (1n << 64n) - 1n, true)],
      ['shnum 0xffff', (v) => v.setUint16(60, 0xffff, true)],
      ['shentsize 1', (v) => v.setUint16(58, 1, true)],
      ['shnum 0 with shoff', (v) => v.setUint16(60, 0, true)],
    ];
    for (const [what, edit] of fields) {
      const b = good.slice();
      edit(dv(b));
      expect(outcome(b), what).not.toBe('ok');
    }
    let x = 0x9e37_79b9;
    const rand = (n: number): number => {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      return x % n;
    };
    const counts = { ok: 0, refused: 0 };
    for (let i = 0; i < 3000; i++) {
      const b = good.slice();
      // Mostly the headers (ELF, program and section headers), sometimes anywhere.
      const shoff = Number(dv(good).getBigUint64(40, true));
      const at = i % 3 === 0 ? rand(64 + 56 * 4) : i % 3 === 1 ? shoff + rand(good.length - shoff) : rand(good.length);
      b[at] ^= 1 << rand(8);
      counts[outcome(b) === 'ok' ? 'ok' : 'refused']++;
    }
    expect(counts.refused).toBeGreaterThan(100);
  });

  it.skipIf(!haveToolchain)('a damaged symbol table is refused (tohost would silently not work)', () => {
    const good = readElf(assemble(`  .section .text.init, "ax"\n  .globl _start\n_start:\n  j .\n  .data\n  .globl tohost\ntohost: .dword 0\n`));
    const v = new DataView(good.buffer, good.byteOffset, good.byteLength);
    const shoff = Number(v.getBigUint64(40, true));
    const shnum = v.getUint16(60, true);
    let symtab = -1;
    for (let i = 0; i < shnum; i++) if (v.getUint32(shoff + i * 64 + 4, true) === 2) symtab = shoff + i * 64;
    expect(symtab).toBeGreaterThan(0);
    const damaged = (edit: (d: DataView) => void): string => {
      const b = good.slice();
      edit(new DataView(b.buffer));
      return outcome(b);
    };
    expect(damaged((d) => d.setBigUint64(symtab + 24, 1n << 40n, true))).toMatch(/damaged symbol table/);
    expect(damaged((d) => d.setUint32(symtab + 40, 999, true))).toMatch(/damaged symbol table/);
    expect(damaged((d) => d.setBigUint64(symtab + 56, 7n, true))).toMatch(/damaged symbol table/);
  });

  it.skipIf(!haveToolchain)('runBareProgram refuses them with an EngineConfigError', async () => {
    const good = readElf(assemble(`  .section .text.init, "ax"\n  .globl _start\n_start:\n  j .\n`));
    const bad = good.slice();
    new DataView(bad.buffer).setBigUint64(32, 1n << 63n, true);
    await expect(runBareProgram({ elf: bad, memoryMiB: 8, stdout: () => {} })).rejects.toBeInstanceOf(EngineConfigError);
    await expect(runBareProgram({ elf: good.subarray(0, 70), memoryMiB: 8, stdout: () => {} })).rejects.toThrow(/past the end/);
  });
});
