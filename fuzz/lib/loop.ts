// Runs a fuzz target over inputs [from, from + count) of one seed and tallies outcomes by class.
// Shared by the long runs (fuzz/worker.mjs) and the short runs in tests/fuzz/.

import { firstLine, type FuzzTarget } from './target.js';

export interface Failure {
  index: number;
  what: 'crash' | 'defect' | 'hang' | 'memory';
  message: string;
}

export interface Summary {
  target: string;
  seed: number;
  from: number;
  inputs: number;
  accepted: number;
  refused: number;
  /** "refused" and "accepted" split by kind, e.g. { "refused bad-snapshot": 4001 }. */
  kinds: Record<string, number>;
  crashes: number;
  defects: number;
  hangs: number;
  memory: number;
  /** The first failures of each kind (up to 20 in all), with their input index. */
  failures: Failure[];
  startRssBytes: number;
  maxRssBytes: number;
  ms: number;
}

export interface LoopOptions {
  seed: number;
  from?: number;
  count: number;
  /** Called after every input (progress, heartbeats). */
  onInput?: (index: number, s: Summary) => void;
  /** Overrides the target's RSS allowance. */
  rssAllowanceBytes?: number;
}

const MAX_FAILURES = 20;

export async function fuzzLoop(target: FuzzTarget, opts: LoopOptions): Promise<Summary> {
  await target.prepare?.();
  const from = opts.from ?? 0;
  const startRss = process.memoryUsage.rss();
  const s: Summary = {
    target: target.name, seed: opts.seed, from, inputs: 0, accepted: 0, refused: 0, kinds: {},
    crashes: 0, defects: 0, hangs: 0, memory: 0, failures: [], startRssBytes: startRss, maxRssBytes: startRss, ms: 0,
  };
  const bound = startRss + (opts.rssAllowanceBytes ?? target.rssAllowanceBytes);
  let peak = startRss;
  // Async inputs (decompression, engine loads) give the event loop turns: sample their peak too.
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 5);
  const fail = (f: Failure): void => {
    if (s.failures.length < MAX_FAILURES) s.failures.push(f);
  };
  const t0 = performance.now();
  try {
    for (let i = from; i < from + opts.count; i++) {
      const t = performance.now();
      peak = 0;
      try {
        const o = await target.one(opts.seed, i);
        if (o.cls === 'defect') {
          s.defects++;
          fail({ index: i, what: 'defect', message: `${o.kind}: ${o.detail ?? ''}` });
        } else s[o.cls]++;
        const key = `${o.cls} ${o.kind}`;
        s.kinds[key] = (s.kinds[key] ?? 0) + 1;
      } catch (e) {
        s.crashes++;
        fail({ index: i, what: 'crash', message: firstLine(e) });
        // Crashes by kind too (numbers blanked), so that a long run shows every distinct one.
        const key = `crash ${firstLine(e).replace(/0x[0-9a-f]+|-?\d+/gi, 'N').slice(0, 100)}`;
        s.kinds[key] = (s.kinds[key] ?? 0) + 1;
      }
      s.inputs++;
      const took = performance.now() - t;
      if (took > target.hangMs) {
        s.hangs++;
        fail({ index: i, what: 'hang', message: `took ${Math.round(took)} ms (limit ${target.hangMs} ms)` });
      }
      peak = Math.max(peak, process.memoryUsage.rss());
      s.maxRssBytes = Math.max(s.maxRssBytes, peak);
      if (peak > bound) {
        s.memory++;
        fail({ index: i, what: 'memory', message: `RSS ${mib(peak)} MiB past the bound ${mib(bound)} MiB` });
      }
      s.ms = performance.now() - t0;
      opts.onInput?.(i, s);
    }
  } finally {
    clearInterval(sampler);
  }
  s.ms = performance.now() - t0;
  return s;
}

const mib = (b: number): number => Math.round(b / 2 ** 20);

/** `accepted 812, refused 4188 (bad-snapshot 4001, ...), crashes 0, hangs 0, max RSS 212 MiB` */
export function formatSummary(s: Summary): string {
  const kinds = (cls: string): string => {
    const parts = Object.entries(s.kinds)
      .filter(([k]) => k.startsWith(cls + ' '))
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k.slice(cls.length + 1)} ${n}`);
    return parts.length ? ` (${parts.join(', ')})` : '';
  };
  return `${s.target} seed ${s.seed} inputs ${s.from}..${s.from + s.inputs - 1}: ${s.inputs} tried in ${(s.ms / 1000).toFixed(1)} s; ` +
    `accepted ${s.accepted}${kinds('accepted')}, refused ${s.refused}${kinds('refused')}, ` +
    `defects ${s.defects}${kinds('defect')}, crashes ${s.crashes}${kinds('crash')}, hangs ${s.hangs}, memory ${s.memory}, ` +
    `max RSS ${mib(s.maxRssBytes)} MiB (start ${mib(s.startRssBytes)} MiB)`;
}

export function failed(s: Summary): boolean {
  return s.crashes + s.defects + s.hangs + s.memory > 0;
}
