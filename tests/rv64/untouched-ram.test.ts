// A restored machine's RAM pages the state did not fill are never written by the host: free page
// reporting's discards skip them (zeroing them only made the host fault in ~100 MiB per VM after
// a template restore). What must hold: a discard never leaves non-zero bytes behind, whoever
// wrote them (the loaded state, a device, the host, the guest before a snapshot cleared the dirty map).
import { describe, expect, it } from 'vitest';
import { Rv64Core, RAM_BASE } from '../../src/engines/rv64/core.js';
import { loadRv64Module } from '../../src/engines/rv64/wasm-node.js';
import { coreBuilt } from './helpers.js';

const PAGE = 4096;
const MiB16 = 16 * 1024 * 1024;

function bitmapOf(pages: number[], bytes: number): Uint8Array {
  const map = new Uint8Array(bytes);
  for (const p of pages) map[p >> 3]! |= 1 << (p & 7);
  return map;
}

describe.runIf(coreBuilt())('rv64 core: zeroing RAM skips pages still fresh from init', () => {
  it('zeroes every page something wrote, and only leaves pages nobody wrote', async () => {
    const core = Rv64Core.fromModule(await loadRv64Module(), { ramBytes: MiB16 });
    const ram = () => core.ram;
    // A state loaded into fresh RAM: page 0 holds data.
    ram().fill(0xaa, 0, PAGE);
    core.noteRamLoaded(bitmapOf([0], core.dirtyBitmap().length), true);
    // A device's DMA (dirty bit set) into page 3; the host into page 5.
    ram().fill(0xbb, 3 * PAGE, 4 * PAGE);
    core.dirtyBitmap()[0]! |= 1 << 3;
    core.writePhys(RAM_BASE + BigInt(5 * PAGE), new Uint8Array(PAGE).fill(0xcc));

    expect(core.zeroRam(0, 8 * PAGE)).toEqual([[0, PAGE], [3 * PAGE, 4 * PAGE], [5 * PAGE, 6 * PAGE]]);
    expect(ram().subarray(0, 8 * PAGE).every((b) => b === 0)).toBe(true);

    // Page 3 written again, then a snapshot clears the dirty map: still zeroed by the next discard.
    ram().fill(0xdd, 3 * PAGE, 4 * PAGE);
    core.dirtyBitmap()[0]! |= 1 << 3;
    core.clearDirty();
    expect(core.zeroRam(2 * PAGE, 2 * PAGE)).toEqual([[3 * PAGE, 4 * PAGE]]);
    expect(ram().subarray(3 * PAGE, 4 * PAGE).every((b) => b === 0)).toBe(true);
  });

  it('a new core (a booted machine): pages the host or guest wrote are zeroed, zero ones only read, fresh ones not read', async () => {
    const core = Rv64Core.fromModule(await loadRv64Module(), { ramBytes: MiB16 });
    core.writePhys(RAM_BASE + BigInt(PAGE), new Uint8Array(2 * PAGE).fill(0x11));
    core.writePhys(RAM_BASE + BigInt(5 * PAGE + 7), Uint8Array.of(1));
    // Pages 0, 3 and 4 are zero already: not written, not among the pages written (pre-copy, deltas).
    expect(core.zeroRam(0, 6 * PAGE)).toEqual([[PAGE, 3 * PAGE], [5 * PAGE, 6 * PAGE]]);
    expect(core.ram.subarray(0, 6 * PAGE).every((b) => b === 0)).toBe(true);
  });

  it('finds a single byte anywhere in a page (first and last byte, the RAM\'s last page)', async () => {
    const core = Rv64Core.fromModule(await loadRv64Module(), { ramBytes: MiB16 });
    const last = MiB16 / PAGE - 1;
    core.writePhys(RAM_BASE + BigInt(2 * PAGE), Uint8Array.of(3));
    core.writePhys(RAM_BASE + BigInt(7 * PAGE - 1), Uint8Array.of(4));
    // Written straight into RAM (a kernel loaded, a migration's pages): said so.
    core.ram[MiB16 - 1] = 5;
    core.noteRamWritten(MiB16 - 1, 1);
    expect(core.zeroRam(0, MiB16)).toEqual([[2 * PAGE, 3 * PAGE], [6 * PAGE, 7 * PAGE], [last * PAGE, MiB16]]);
    expect(core.ram.every((b) => b === 0)).toBe(true);
    expect(core.zeroRam(0, MiB16)).toEqual([]);
  });

  it('a page the guest stored to (dirty bit), never written by the host, is zeroed', async () => {
    const core = Rv64Core.fromModule(await loadRv64Module(), { ramBytes: MiB16 });
    core.ram.fill(0x22, 9 * PAGE, 10 * PAGE);
    core.dirtyBitmap()[1]! |= 1 << 1;
    expect(core.zeroRam(8 * PAGE, 4 * PAGE)).toEqual([[9 * PAGE, 10 * PAGE]]);
    // After a snapshot cleared the dirty map, the page is still known as written.
    core.ram.fill(0x23, 9 * PAGE, 10 * PAGE);
    core.clearDirty();
    expect(core.zeroRam(8 * PAGE, 4 * PAGE)).toEqual([[9 * PAGE, 10 * PAGE]]);
  });
});
