// ELF kernels and boot configurations: ELF files written whole and then damaged field by field
// (header, program headers with phentsize < 56, offsets, sizes and addresses at the edges, symbol
// tables with bad links and offsets), fake Linux Image headers, firmware, initrd and disk sizes,
// RAM sizes up to and past 2048 MiB. Fed to parseElf/loadElfInto (src/engines/rv64/elf.ts), the
// bare runner (src/engines/rv64/bare.ts), checkRv64Config (src/engines/rv64/engine.ts) and a real
// Rv64Machine (src/engines/rv64/machine.ts), which then runs a few slices.
// Outcomes: refused bad-elf (ElfError), refused bad-config (EngineConfigError / MachineConfigError),
// accepted parsed / bare-<reason> / machine-ran.

import { parseElf, loadElfInto, ElfError } from '../../src/engines/rv64/elf.js';
import { placeElf } from '../../src/engines/rv64/boot-layout.js';
import { runBareProgram } from '../../src/engines/rv64/bare.js';
import { checkRv64Config } from '../../src/engines/rv64/engine.js';
import { Rv64Machine, MachineConfigError } from '../../src/engines/rv64/machine.js';
import { EngineConfigError } from '../../src/engines/create.js';
import { loadRv64Module } from '../../src/engines/rv64/wasm-node.js';
import { Rng } from '../lib/rng.js';
import { A, li, words, writeElf } from '../lib/rv-asm.js';
import { accepted, refused, type FuzzTarget, type Outcome } from '../lib/target.js';

const MiB = 2 ** 20;
let module: WebAssembly.Module | undefined;

/** A program that prints through the bare board's UART and powers off through syscon. */
function program(r: Rng): number[] {
  const code = [...li(5, 0x1000_0000n), A.addi(6, 0, 0x41), A.store(1, 6, 5, 0), ...li(7, 0x10_0000n), ...li(6, 0x5555n), A.store(4, 6, 7, 0)];
  if (r.chance(0.3)) for (let k = r.int(32); k > 0; k--) code.splice(r.int(code.length), 0, r.u32());
  return code;
}

function validElf(r: Rng): Uint8Array {
  const segs = r.range(1, 3);
  const segments = Array.from({ length: segs }, (_, k) => ({
    paddr: 0x8000_0000n + BigInt(k * 0x10000),
    vaddr: r.chance(0.2) ? 0xffff_ffff_8000_0000n + BigInt(k * 0x10000) : undefined,
    data: k === 0 ? words(program(r)) : r.bytes(r.int(512)),
    memSize: r.chance(0.3) ? r.pick([0, 4096, 1 << 20]) + 512 : undefined,
  }));
  for (const s of segments) if (s.memSize !== undefined && s.memSize < s.data.length) s.memSize = s.data.length;
  let elf = writeElf({ entry: 0x8000_0000n, segments });
  if (r.chance(0.3)) elf = withSymtab(r, elf);
  return elf;
}

/** Appends a section table with a .symtab (tohost) and a .strtab, sometimes damaged. */
function withSymtab(r: Rng, elf: Uint8Array): Uint8Array {
  const strtab = new TextEncoder().encode('\0tohost\0fromhost\0');
  const sym = new Uint8Array(24 * 3);
  const sdv = new DataView(sym.buffer);
  sdv.setUint32(24, 1, true);
  sdv.setBigUint64(32, r.chance(0.7) ? 0x8000_1000n : r.edgy64(), true);
  sdv.setUint32(48, 8, true);
  sdv.setBigUint64(56, 0x8000_1008n, true);
  const symOff = elf.length;
  const strOff = symOff + sym.length;
  const shoff = strOff + strtab.length;
  const out = new Uint8Array(shoff + 64 * 3);
  out.set(elf, 0);
  out.set(sym, symOff);
  out.set(strtab, strOff);
  const dv = new DataView(out.buffer);
  const sh = (i: number, type: number, off: number, size: number, link: number, entsize: number) => {
    const o = shoff + 64 * i;
    dv.setUint32(o + 4, type, true);
    dv.setBigUint64(o + 24, BigInt(off), true);
    dv.setBigUint64(o + 32, BigInt(size), true);
    dv.setUint32(o + 40, link, true);
    dv.setBigUint64(o + 56, BigInt(entsize), true);
  };
  sh(1, 2, symOff, sym.length, r.chance(0.8) ? 2 : r.pick([0, 3, 0xffff_ffff, 1000]), r.chance(0.8) ? 24 : r.pick([1, 7, 23, 0]));
  sh(2, 3, strOff, r.chance(0.8) ? strtab.length : r.pick([0, 1e6]), 0, 0);
  dv.setBigUint64(40, BigInt(shoff), true);
  dv.setUint16(58, r.chance(0.9) ? 64 : r.pick([0, 1, 40, 63, 0xffff]), true);
  dv.setUint16(60, r.chance(0.9) ? 3 : r.pick([1, 2, 4, 1000, 0xffff]), true);
  return out;
}

/** Damages one field of the ELF's header or program headers. */
function damage(r: Rng, elf: Uint8Array): Uint8Array {
  const e = elf.slice();
  // Too short for an ELF header (an earlier cut): flip a byte instead.
  if (e.length < 64) {
    if (e.length > 0) e[r.int(e.length)] ^= 1 << r.int(8);
    return e;
  }
  const dv = new DataView(e.buffer);
  const phoff = Number(dv.getBigUint64(32, true));
  const seg = phoff + 56 * r.int(Math.max(1, dv.getUint16(56, true)));
  switch (r.int(12)) {
    case 0: e[r.pick([4, 5])] = r.pick([0, 1, 2, 3, 255]); break;
    case 1: dv.setUint16(r.pick([16, 18]), r.edgy32() & 0xffff, true); break;
    case 2: dv.setBigUint64(32, r.chance(0.5) ? BigInt(r.edgy32()) : r.edgy64(), true); break; // phoff
    case 3: dv.setUint16(54, r.pick([0, 1, 8, 40, 55, 57, 0xffff]), true); break; // phentsize
    case 4: dv.setUint16(56, r.pick([0, 2, 100, 0xffff]), true); break; // phnum
    case 5: if (seg + 56 <= e.length) dv.setBigUint64(seg + 8, r.chance(0.5) ? BigInt(r.edgy32()) : r.edgy64(), true); break; // offset
    case 6: if (seg + 56 <= e.length) dv.setBigUint64(seg + 32, r.chance(0.5) ? BigInt(r.edgy32()) : r.edgy64(), true); break; // filesz
    case 7: if (seg + 56 <= e.length) dv.setBigUint64(seg + 40, r.chance(0.5) ? BigInt(r.edgy32()) : r.edgy64(), true); break; // memsz
    case 8: if (seg + 56 <= e.length) dv.setBigUint64(seg + 24, r.pick([0n, 0x7fff_ffffn, 0x8000_0000n + 16n * BigInt(MiB) - 4n, 0xffff_ffff_ffff_f000n, r.edgy64()]), true); break; // paddr
    case 9: dv.setBigUint64(24, r.edgy64(), true); break; // entry
    case 10: return e.subarray(0, r.int(e.length));
    default: for (let k = r.range(1, 8); k > 0; k--) e[r.int(e.length)]! ^= 1 << r.int(8);
  }
  return e;
}

/** A fake RISC-V Linux Image: the 64-byte header ("RSC\x05" at 0x38) with a hostile image size. */
function linuxImage(r: Rng): Uint8Array {
  const img = new Uint8Array(r.pick([64, 4096, 1 << 20]));
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x0000006f, true); // j .
  dv.setBigUint64(16, r.chance(0.5) ? BigInt(r.pick([0, 4096, 8 * MiB, 64 * MiB, 2048 * MiB])) : r.edgy64(), true);
  img.set([0x52, 0x53, 0x43, 0x05], 0x38);
  return img;
}

function kernel(r: Rng): Uint8Array {
  switch (r.weighted({ valid: 3, damaged: 8, image: 2, random: 1 })) {
    case 'valid': return validElf(r);
    case 'damaged': {
      let e = validElf(r);
      for (let k = r.range(1, 3); k > 0; k--) e = damage(r, e);
      return e;
    }
    case 'image': return linuxImage(r);
    default: {
      const b = r.bytes(r.range(0, 256));
      if (r.chance(0.5) && b.length >= 4) b.set([0x7f, 0x45, 0x4c, 0x46], 0);
      return b;
    }
  }
}

const size = (r: Rng, sizes: number[]): number => (r.chance(0.8) ? r.pick(sizes) : r.int(r.pick(sizes) + 2));

async function machineRun(r: Rng, k: Uint8Array): Promise<Outcome> {
  module ??= await loadRv64Module();
  const memoryMiB = r.chance(0.97) ? r.pick([16, 17, 32, 64]) : r.pick([0, 15, 2048, 2049, 16.5]);
  const firmware = r.chance(0.4) ? new Uint8Array(size(r, [0, 4096, 2 * MiB, 2 * MiB + 1])).fill(0x13) : undefined;
  const initrd = r.chance(0.4) ? new Uint8Array(size(r, [0, 1, 4096, 8 * MiB, 15 * MiB, 60 * MiB])) : undefined;
  const disk = r.chance(0.3) ? new Uint8Array(size(r, [0, 1, 511, 512, 4096, 65536])) : undefined;
  const config = { engine: 'rv64' as const, memoryMiB, kernel: k, ...(firmware ? { firmware } : {}), ...(initrd ? { initrd } : {}), ...(disk ? { disk } : {}), cmdline: r.chance(0.1) ? 'x'.repeat(r.pick([0, 5000, 100_000])) : 'console=ttyS0' };
  try {
    checkRv64Config(config);
  } catch (e) {
    if (e instanceof EngineConfigError) return refused('bad-config');
    throw e;
  }
  let m: Rv64Machine;
  try {
    m = new Rv64Machine({
      module, memoryBytes: memoryMiB * MiB, kernel: k, ...(firmware ? { firmware } : {}), ...(initrd ? { initrd } : {}), ...(disk ? { disk } : {}),
      cmdline: config.cmdline, output: () => {}, deterministic: true, random: (b) => b.fill(1),
    });
  } catch (e) {
    if (e instanceof MachineConfigError) return refused('bad-config');
    throw e;
  }
  for (let s = 0; s < 4 && !m.exit; s++) m.runSlice(5000);
  return accepted('machine-ran');
}

export const target: FuzzTarget = {
  name: 'elf',
  about: 'ELF kernels, Linux Image headers and boot configurations into the loaders, the bare runner and Rv64Machine',
  hangMs: 60_000, // wall time per input; generous because the machine running this may be shared and loaded
  rssAllowanceBytes: (2048 + 512) * MiB,
  async prepare() {
    module ??= await loadRv64Module();
  },
  async one(seed, index): Promise<Outcome> {
    const r = new Rng(seed, index);
    const k = kernel(r);
    const path = r.weighted({ parse: 6, bare: 2, machine: 2 });
    if (path === 'parse') {
      try {
        const elf = placeElf(parseElf(k));
        loadElfInto(elf, k, new Uint8Array(r.pick([16, 32]) * MiB), 0x8000_0000n);
        return accepted('parsed-and-loaded');
      } catch (e) {
        // Known defect (being fixed): damaged headers make the parser throw RangeError (DataView), not ElfError.
        if (e instanceof ElfError) return refused('bad-elf');
        throw e;
      }
    }
    if (path === 'bare') {
      try {
        const res = await runBareProgram({ elf: k, memoryMiB: r.pick([16, 32]), maxInstructions: 20_000, stdout: () => {}, jit: false });
        return accepted(`bare-${res.reason}`);
      } catch (e) {
        if (e instanceof ElfError) return refused('bad-elf');
        throw e;
      }
    }
    return machineRun(r, k);
  },
};
