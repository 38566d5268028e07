// Iterative pre-copy of a running machine's RAM (live snapshots and live migration): the guest
// keeps running while its pages are copied, then the pages it wrote meanwhile, round after
// round, until few are left; then a short pause copies the last ones with the rest of the
// machine. Round 1 sends only non-zero pages (the receiver starts from zeroed RAM); later rounds
// send every page written since the previous round (a page written back to zero must be sent).
// A guest that dirties memory faster than the rounds shrink is THROTTLED (auto-throttle): each
// round that leaves more than `shrinkTarget` of the previous round's pages halves the guest's
// share of its time slices (down to `throttleFloorPercent`), so it writes less while the next
// round is copied; the throttle is lifted once the guest is paused (or the copy fails). Without
// a throttle in the control, or when even the floor is too fast, the rounds stop after
// `maxRounds` (the report says so): the final pause is then bigger, never endless.

import {
  bitmapPages, copyPages, PAGE_BYTES, pageIsZero, wordsOf, type LiveStateSource, type PageSet,
} from '../engines/live-state.js';

export interface PrecopyControl {
  /** Stops the guest (the VM host's pause: out of the slice loop, engine paused). */
  pause(): Promise<void>;
  /** Gives the thread back so the guest's slices (and messages) run between chunks. */
  yieldNow(): Promise<void>;
  /**
   * Gives the guest `percent` % of its normal share of time (100 = its normal share again).
   * Optional: without it pre-copy cannot slow a fast writer and relies on the round limit.
   */
  throttle?(percent: number): void | Promise<void>;
}

export interface PrecopyOptions {
  /** Pages copied between two yields (default 2048 = 8 MiB). */
  chunkPages?: number;
  /** Stop iterating once a round leaves at most this many dirty pages (default 256 = 1 MiB). */
  stopPages?: number;
  /** Most rounds while the guest runs (default 6); then the final pause copies what is left. */
  maxRounds?: number;
  /**
   * A round that leaves more than this fraction of the previous round's pages (and more than
   * `stopPages`) does not shrink enough: the guest is throttled for the next rounds (default 0.5).
   */
  shrinkTarget?: number;
  /** The smallest share the throttle leaves the guest, in % of its normal share (default 5). */
  throttleFloorPercent?: number;
  /** False: never throttle (a fast writer then runs into `maxRounds`). Default true. */
  autoThrottle?: boolean;
}

/** Why `o` is refused (one line), or undefined: the options may come from a caller of hv.migrate. */
export function precopyOptionsProblem(o: PrecopyOptions): string | undefined {
  const whole = (v: unknown, min: number, max: number): boolean => v === undefined || (Number.isInteger(v) && (v as number) >= min && (v as number) <= max);
  const real = (v: unknown, min: number, max: number): boolean => v === undefined || (typeof v === 'number' && v >= min && v <= max);
  if (typeof o !== 'object' || o === null) return 'pre-copy options must be an object';
  if (!whole(o.chunkPages, 1, 65536)) return `chunkPages must be a whole number from 1 to 65536, got ${String(o.chunkPages)}`;
  if (!whole(o.stopPages, 0, 1 << 24)) return `stopPages must be a whole number from 0, got ${String(o.stopPages)}`;
  if (!whole(o.maxRounds, 1, 64)) return `maxRounds must be a whole number from 1 to 64, got ${String(o.maxRounds)}`;
  if (!real(o.shrinkTarget, 0.01, 1)) return `shrinkTarget must be a number from 0.01 to 1, got ${String(o.shrinkTarget)}`;
  if (!real(o.throttleFloorPercent, 1, 100)) return `throttleFloorPercent must be a number from 1 to 100, got ${String(o.throttleFloorPercent)}`;
  if (o.autoThrottle !== undefined && typeof o.autoThrottle !== 'boolean') return `autoThrottle must be true or false, got ${String(o.autoThrottle)}`;
  return undefined;
}

export interface PrecopyRound {
  pages: number;
  bytes: number;
  ms: number;
  /** The guest's share of its time during this round, in % (100 = not throttled). */
  throttlePercent: number;
}

/** What the auto-throttle did: how many times it halved the guest's share, and the share it ended at. */
export interface PrecopyThrottle {
  steps: number;
  /** The smallest share the guest had, in % of its normal share. */
  percent: number;
}

export interface PrecopyReport {
  /** Rounds while the guest ran (round 1 = every non-zero page). */
  rounds: PrecopyRound[];
  /** Pages copied while the guest was paused. */
  finalPages: number;
  /** Why the rounds ended: few dirty pages left, or the round limit (a guest that writes fast). */
  converged: 'few-dirty-pages' | 'round-limit';
  /** Set when the guest was throttled (it wrote faster than the rounds shrink). */
  throttle?: PrecopyThrottle;
  /** From the start of round 1 to the end of the final copy (the guest paused at the end). */
  totalMs: number;
}

/** A receiver of pages (a shadow copy, a remote target). May be async (backpressure). */
export type PageSink = (pages: PageSet) => void | Promise<void>;

/**
 * Runs the rounds, pauses the guest with `control.pause()` and sends the pages written since the
 * last round. Returns with the guest PAUSED: the caller saves the rest of the machine
 * (`stateWithPages`) and resumes it (or, for a migration, lets the target take over).
 */
export async function precopy(
  source: () => LiveStateSource,
  sink: PageSink,
  control: PrecopyControl,
  options: PrecopyOptions = {},
  now: () => number = () => performance.now(),
): Promise<PrecopyReport> {
  const chunk = options.chunkPages ?? 2048;
  const stopPages = options.stopPages ?? 256;
  const maxRounds = options.maxRounds ?? 6;
  const shrinkTarget = options.shrinkTarget ?? 0.5;
  const floor = options.throttleFloorPercent ?? 5;
  const throttle = options.autoThrottle === false ? undefined : control.throttle?.bind(control);
  const rounds: PrecopyRound[] = [];
  const start = now();
  let share = 100;
  let steps = 0;
  try {
    const pageCount = Math.floor(source().ramBytes / PAGE_BYTES);
    source().takeDirty(); // from here on every written page is marked

    // Round 1: every non-zero page, a chunk at a time.
    let t0 = now();
    let sent = 0;
    for (let first = 0; first < pageCount; first += chunk) {
      const ram = source().ram();
      const words = wordsOf(ram);
      const last = Math.min(pageCount, first + chunk);
      const pick: number[] = [];
      for (let p = first; p < last; p++) if (!pageIsZero(ram, words, p * PAGE_BYTES)) pick.push(p);
      if (pick.length > 0) {
        await sink(copyPages(ram, Uint32Array.from(pick)));
        sent += pick.length;
      }
      await control.yieldNow();
    }
    rounds.push({ pages: sent, bytes: sent * PAGE_BYTES, ms: now() - t0, throttlePercent: share });

    // Later rounds: the pages written during the previous one.
    let converged: PrecopyReport['converged'] = 'round-limit';
    while (rounds.length < maxRounds) {
      const dirty = bitmapPages(source().takeDirty(), pageCount);
      const n = dirty.length; // counted first: a sink may transfer the array away
      const previous = rounds[rounds.length - 1]!.pages;
      if (n > stopPages && n > previous * shrinkTarget && throttle && share > floor) {
        // Not shrinking enough: the guest gets half its share while this round is copied.
        share = Math.max(floor, share / 2);
        steps++;
        await throttle(share);
      }
      t0 = now();
      await sendChunked(source, dirty, chunk, sink, control);
      rounds.push({ pages: n, bytes: n * PAGE_BYTES, ms: now() - t0, throttlePercent: share });
      if (n <= stopPages) {
        // Few enough: what the guest writes from now on is copied in the pause.
        converged = 'few-dirty-pages';
        break;
      }
    }

    await control.pause();
    const last = bitmapPages(source().takeDirty(), pageCount);
    const finalPages = last.length; // counted first: a sink may transfer the array away
    if (finalPages > 0) await sink(copyPages(source().ram(), last));
    return { rounds, finalPages, converged, ...(steps > 0 ? { throttle: { steps, percent: share } } : {}), totalMs: now() - start };
  } finally {
    // Paused (the guest's share no longer matters) or failed (the source runs on at full speed).
    if (steps > 0) await throttle!(100);
  }
}

async function sendChunked(
  source: () => LiveStateSource,
  pages: Uint32Array,
  chunk: number,
  sink: PageSink,
  control: PrecopyControl,
): Promise<void> {
  for (let i = 0; i < pages.length; i += chunk) {
    await sink(copyPages(source().ram(), pages.slice(i, i + chunk)));
    await control.yieldNow();
  }
}

/**
 * A sink that keeps a copy of RAM (for a live snapshot): pages land in `ram`, and `present`
 * remembers which were ever written, so the final page set skips the zero rest without a scan.
 */
export class ShadowRam {
  readonly ram: Uint8Array;
  private readonly present: Uint8Array;
  constructor(readonly ramBytes: number) {
    this.ram = new Uint8Array(ramBytes);
    this.present = new Uint8Array(Math.ceil(ramBytes / PAGE_BYTES / 8));
  }

  readonly sink: PageSink = (pages) => {
    const { indices, data } = pages;
    for (let i = 0; i < indices.length; i++) {
      const p = indices[i]!;
      this.ram.set(data.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES), p * PAGE_BYTES);
      this.present[p >>> 3]! |= 1 << (p & 7);
    }
  };

  /** The non-zero pages of the copy, as a page set. */
  pages(): PageSet {
    const count = Math.floor(this.ramBytes / PAGE_BYTES);
    const words = wordsOf(this.ram);
    const keep: number[] = [];
    for (let p = 0; p < count; p++) {
      if ((this.present[p >>> 3]! & (1 << (p & 7))) === 0) continue;
      if (!pageIsZero(this.ram, words, p * PAGE_BYTES)) keep.push(p);
    }
    return copyPages(this.ram, Uint32Array.from(keep));
  }
}
