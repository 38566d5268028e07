// Live figures of a VM (CPU share, MIPS, memory) as short histories, and the geometry of the small
// charts that draw them. Plain data and arithmetic: no DOM, tested in Node.

/** How many samples a chart keeps (one a second: the last minute). */
export const HISTORY_LENGTH = 60;

export interface FigureSample {
  /** Fraction of one core, 0..1. */
  cpuShare: number;
  /** Guest instructions per microsecond. */
  mips: number;
  /** Memory the engine holds for the guest, in bytes. */
  memoryBytes: number;
}

/** The last HISTORY_LENGTH samples of one VM, oldest first. */
export class FigureHistory {
  readonly cpu: number[] = [];
  readonly mips: number[] = [];
  readonly memory: number[] = [];
  /** What the guest's balloon holds now (rv64), from the last sample; undefined without a balloon. */
  balloonBytes: number | undefined;

  constructor(readonly length = HISTORY_LENGTH) {}

  push(sample: FigureSample): void {
    push(this.cpu, sample.cpuShare, this.length);
    push(this.mips, sample.mips, this.length);
    push(this.memory, sample.memoryBytes, this.length);
  }

  get latest(): FigureSample | undefined {
    const n = this.cpu.length;
    if (n === 0) return undefined;
    return { cpuShare: this.cpu[n - 1]!, mips: this.mips[n - 1]!, memoryBytes: this.memory[n - 1]! };
  }
}

function push(values: number[], value: number, length: number): void {
  values.push(Number.isFinite(value) ? value : 0);
  if (values.length > length) values.splice(0, values.length - length);
}

/**
 * The points of an SVG polyline for `values` in a width × height box: the newest value at the right
 * edge, one step per sample slot (a short history starts part-way across), y = 0 at the top, so
 * `max` maps to 0 and 0 to `height`. `max` defaults to the largest value (at least `floor`).
 */
export function sparklinePoints(
  values: readonly number[],
  box: { width: number; height: number; slots?: number; max?: number; floor?: number },
): string {
  if (values.length === 0) return '';
  const slots = Math.max(box.slots ?? HISTORY_LENGTH, values.length, 2);
  const max = box.max ?? Math.max(box.floor ?? 1e-9, ...values);
  const step = box.width / (slots - 1);
  const x0 = box.width - (values.length - 1) * step;
  return values
    .map((v, i) => {
      const clamped = Math.min(Math.max(v, 0), max);
      const y = box.height - (clamped / max) * box.height;
      return `${round(x0 + i * step)},${round(y)}`;
    })
    .join(' ');
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function formatPercent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

export function formatMips(mips: number): string {
  return mips >= 100 ? `${Math.round(mips)} MIPS` : `${mips.toFixed(1)} MIPS`;
}

export function formatMiB(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}
