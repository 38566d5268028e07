// Giving freed guest memory back to the host (docs/HYPERVISOR.md, "Giving memory back").
//
// Pages the guest gives back (balloon inflation, free page reporting) are zeroed in the core's
// wasm memory, but a wasm memory never shrinks: a zeroed page stays resident. A compaction moves
// the running machine into a new core whose memory holds only the old one's non-zero pages (a
// new wasm memory's pages cost nothing until written), then drops the old core. It works like a
// pre-copy migration inside one engine: the non-zero pages are copied while the guest keeps
// running between chunks, and in a short pause the pages written meanwhile and the core and
// device state follow.

import { bitmapPages, copyPages, PAGE_BYTES, type LiveStateSource } from '../live-state.js';
import type { Rv64Machine } from './machine.js';

/** Bytes of RAM looked at per step before the guest gets the thread back. */
const STEP_BYTES = 8 * 1024 * 1024;

export interface CompactReport {
  /** Non-zero pages copied while the guest ran. */
  pagesCopied: number;
  /** Pages written during the copy, carried in the pause. */
  pagesInPause: number;
  /** Pages of RAM in all; the rest were zero and cost the new memory nothing. */
  pagesTotal: number;
}

/**
 * Copies `from`'s non-zero RAM pages into `to` (a machine built for a restore, its RAM untouched),
 * `yieldToGuest` between steps. Tracking of written pages starts first (`live.takeDirty`), so the
 * pages the guest writes meanwhile are known; `finish` carries them in the pause.
 */
export async function copyNonZeroPages(
  from: Rv64Machine,
  to: Rv64Machine,
  live: LiveStateSource,
  yieldToGuest: () => Promise<void>,
): Promise<{ pagesCopied: number; finish(stateWithDirty: (pages: ReturnType<typeof copyPages>) => void): CompactReport }> {
  live.takeDirty();
  const pages = Math.floor(from.memoryBytes / PAGE_BYTES);
  let copied = 0;
  for (let first = 0; first < pages; first += STEP_BYTES / PAGE_BYTES) {
    // The views are taken again after each yield: the guest may have run (the memory does not grow,
    // but a view must not outlive a swap of machines either).
    const src = from.core.ram;
    const dst = to.core.ram;
    const last = Math.min(pages, first + STEP_BYTES / PAGE_BYTES);
    // Pages never written since the core began are not even read (reading faults them in).
    from.core.forEachNonZeroPage(first * PAGE_BYTES, (last - first) * PAGE_BYTES, (at) => {
      dst.set(src.subarray(at, at + PAGE_BYTES), at);
      to.core.noteRamWritten(at, PAGE_BYTES);
      copied++;
    });
    await yieldToGuest();
  }
  return {
    pagesCopied: copied,
    finish(stateWithDirty) {
      const dirty = bitmapPages(live.takeDirty(), pages);
      // A written page goes over whatever was copied, zero or not.
      stateWithDirty(copyPages(from.core.ram, dirty));
      return { pagesCopied: copied, pagesInPause: dirty.length, pagesTotal: pages };
    },
  };
}
