// Platform-Level Interrupt Controller as on QEMU virt: one hart, context 0 = M mode, context 1 = S mode.
// Register layout of the SiFive PLIC (riscv-plic-spec 1.0.0, section 3): priorities at 4*n, pending bits
// at 0x1000, per-context enables at 0x2000 + 0x80*ctx, threshold and claim/complete at
// 0x20_0000 + 0x1000*ctx. Inputs are level-triggered through the gateway: a source is pending while its
// line is high and it is not claimed; completing it re-arms the gateway.

import { arrayField, boolItem, DeviceStateError, intItem } from './state-fields.js';
import type { IrqLine, MmioDevice } from './bus.js';
import { low32 } from './mmio-bus.js';

export const PLIC_NUM_SOURCES = 96; // ids 0..95; id 0 means "no interrupt" (QEMU virt: VIRT_IRQCHIP_NUM_SOURCES)
export const PLIC_NUM_CONTEXTS = 2;
export const PLIC_MAX_PRIORITY = 7;
export const PLIC_SIZE = 0x60_0000;

const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x20_0000;
const CONTEXT_STRIDE = 0x1000;

export interface PlicState {
  version: 1;
  priority: number[];
  levels: boolean[];
  pending: boolean[];
  claimed: boolean[];
  enable: number[][]; // [context][word]
  threshold: number[];
}

export class Plic implements MmioDevice {
  readonly size = PLIC_SIZE;
  readonly numSources: number;
  readonly numContexts: number;
  private readonly words: number;
  private priority: Uint32Array;
  private levels: Uint8Array;
  private pending: Uint8Array;
  /** Claimed and not yet completed: the gateway holds further requests from this source. */
  private claimed: Uint8Array;
  private enable: Uint32Array[];
  private threshold: Uint32Array;
  private outputs: ((level: boolean) => void)[];
  private outputLevels: boolean[];

  constructor(numSources = PLIC_NUM_SOURCES, numContexts = PLIC_NUM_CONTEXTS) {
    if (numSources < 2 || numSources > 1024 || numContexts < 1 || numContexts > 15872) {
      throw new RangeError('Plic: bad source or context count');
    }
    this.numSources = numSources;
    this.numContexts = numContexts;
    this.words = Math.ceil(numSources / 32);
    this.priority = new Uint32Array(numSources);
    this.levels = new Uint8Array(numSources);
    this.pending = new Uint8Array(numSources);
    this.claimed = new Uint8Array(numSources);
    this.enable = Array.from({ length: numContexts }, () => new Uint32Array(this.words));
    this.threshold = new Uint32Array(numContexts);
    this.outputs = Array.from({ length: numContexts }, () => () => {});
    this.outputLevels = new Array<boolean>(numContexts).fill(false);
  }

  /** Connects context `ctx`'s interrupt output (ctx 0 -> MEIP, ctx 1 -> SEIP on QEMU virt). */
  connectOutput(ctx: number, output: (level: boolean) => void): void {
    if (!(ctx >= 0 && ctx < this.numContexts)) throw new RangeError(`Plic: no context ${ctx}`);
    this.outputs[ctx] = output;
    output(this.outputLevels[ctx]);
  }

  /** The input line of source `n` (1..numSources-1), for a device to drive. */
  line(n: number): IrqLine {
    if (!Number.isInteger(n) || n < 1 || n >= this.numSources) throw new RangeError(`Plic: no source ${n}`);
    return { set: (level: boolean) => this.setLevel(n, level) };
  }

  /** The current level of a context's output (for tests and snapshots of the core's mip). */
  outputLevel(ctx: number): boolean {
    return this.outputLevels[ctx] ?? false;
  }

  /**
   * Machine reset: priorities, enables, thresholds and claims are cleared. Input levels are kept (they
   * belong to the devices) and re-pend their sources.
   */
  reset(): void {
    this.priority.fill(0);
    this.claimed.fill(0);
    for (let n = 0; n < this.numSources; n++) this.pending[n] = this.levels[n];
    for (const e of this.enable) e.fill(0);
    this.threshold.fill(0);
    this.updateOutputs();
  }

  private setLevel(n: number, level: boolean): void {
    this.levels[n] = level ? 1 : 0;
    if (level && !this.claimed[n]) this.pending[n] = 1;
    // A level-triggered source that drops before being claimed withdraws its request (QEMU does the same).
    if (!level) this.pending[n] = 0;
    this.updateOutputs();
  }

  private isEnabled(ctx: number, n: number): boolean {
    return (this.enable[ctx][n >>> 5] & (1 << (n & 31))) !== 0;
  }

  /** Highest-priority pending, enabled source above the context's threshold (ties: lowest id), or 0. */
  private best(ctx: number): number {
    let best = 0;
    let bestPriority = this.threshold[ctx];
    for (let n = 1; n < this.numSources; n++) {
      if (this.pending[n] && this.priority[n] > bestPriority && this.isEnabled(ctx, n)) {
        best = n;
        bestPriority = this.priority[n];
      }
    }
    return best;
  }

  private updateOutputs(): void {
    for (let ctx = 0; ctx < this.numContexts; ctx++) {
      const level = this.best(ctx) !== 0;
      if (level !== this.outputLevels[ctx]) {
        this.outputLevels[ctx] = level;
        this.outputs[ctx](level);
      }
    }
  }

  private claim(ctx: number): number {
    const n = this.best(ctx);
    if (n !== 0) {
      this.pending[n] = 0;
      this.claimed[n] = 1;
      this.updateOutputs();
    }
    return n;
  }

  private complete(ctx: number, n: number): void {
    // Completion of an id that is out of range or not enabled for this context is ignored (spec 3.10).
    if (n < 1 || n >= this.numSources || !this.isEnabled(ctx, n) || !this.claimed[n]) return;
    this.claimed[n] = 0;
    if (this.levels[n]) this.pending[n] = 1;
    this.updateOutputs();
  }

  read(offset: number, size: number): number {
    if (size !== 4 || offset & 3) return 0;
    if (offset < PENDING_BASE) {
      const n = offset >>> 2;
      return n < this.numSources ? this.priority[n] : 0;
    }
    if (offset < ENABLE_BASE) {
      const w = (offset - PENDING_BASE) >>> 2;
      if (w >= this.words) return 0;
      let v = 0;
      for (let b = 0; b < 32; b++) if (this.pending[w * 32 + b]) v |= 1 << b;
      return v >>> 0;
    }
    if (offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.numContexts || w >= this.words) return 0;
      return this.enable[ctx][w];
    }
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (ctx >= this.numContexts) return 0;
    if (reg === 0) return this.threshold[ctx];
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  write(offset: number, size: number, value: number | bigint): void {
    if (size !== 4 || offset & 3) return;
    const v = low32(value);
    if (offset < PENDING_BASE) {
      const n = offset >>> 2;
      if (n >= 1 && n < this.numSources) {
        this.priority[n] = v & PLIC_MAX_PRIORITY; // WARL: 3 priority bits
        this.updateOutputs();
      }
      return;
    }
    if (offset < ENABLE_BASE) return; // pending bits are read-only
    if (offset < CONTEXT_BASE) {
      const ctx = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.numContexts || w >= this.words) return;
      let mask = 0xffff_ffff;
      if (w === 0) mask &= ~1; // source 0 does not exist
      const top = this.numSources - w * 32; // sources beyond the last are hardwired to zero
      if (top < 32) mask &= (1 << top) - 1;
      this.enable[ctx][w] = (v & mask) >>> 0;
      this.updateOutputs();
      return;
    }
    const ctx = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (ctx >= this.numContexts) return;
    if (reg === 0) {
      this.threshold[ctx] = v & PLIC_MAX_PRIORITY;
      this.updateOutputs();
    } else if (reg === 4) {
      this.complete(ctx, v);
    }
  }

  saveState(): PlicState {
    return {
      version: 1,
      priority: [...this.priority],
      levels: [...this.levels].map(Boolean),
      pending: [...this.pending].map(Boolean),
      claimed: [...this.claimed].map(Boolean),
      enable: this.enable.map((e) => [...e]),
      threshold: [...this.threshold],
    };
  }

  /** Loads a saved state; every field must be one this PLIC can hold (else DeviceStateError, nothing changed). */
  loadState(s: object): void {
    const st = s as Partial<PlicState> & Record<string, unknown>;
    if (st.version !== 1) throw new Error(`Plic: unsupported state version ${String(st.version)}`);
    const who = 'Plic';
    const n = this.numSources;
    const priority = arrayField(st, 'priority', n, intItem(PLIC_MAX_PRIORITY, 'PLIC priority'), who);
    const levels = arrayField(st, 'levels', n, boolItem('PLIC level'), who);
    const pending = arrayField(st, 'pending', n, boolItem('PLIC pending bit'), who);
    const claimed = arrayField(st, 'claimed', n, boolItem('PLIC claimed bit'), who);
    const enable = arrayField(st, 'enable', this.numContexts, (row) => {
      if (!Array.isArray(row) || row.length !== this.words) throw new DeviceStateError('Plic state: bad enable row');
      return row.map(intItem(0xffff_ffff, 'PLIC enable word'));
    }, who);
    const threshold = arrayField(st, 'threshold', this.numContexts, intItem(PLIC_MAX_PRIORITY, 'PLIC threshold'), who);
    // Source 0 does not exist: the guest can neither prioritise nor enable it.
    if (priority[0] !== 0 || levels[0] || pending[0] || claimed[0]) throw new DeviceStateError('Plic state: source 0 is used');
    // Enable bits as write() leaves them: never source 0, never sources beyond the last.
    for (const row of enable) {
      for (let w = 0; w < this.words; w++) {
        let mask = 0xffff_ffff;
        if (w === 0) mask &= ~1;
        const top = this.numSources - w * 32;
        if (top < 32) mask &= (1 << top) - 1;
        if ((row[w]! & ~mask) !== 0) throw new DeviceStateError('Plic state: enable bit of a source that does not exist');
      }
    }
    for (let i = 0; i < n; i++) {
      this.priority[i] = priority[i]!;
      this.levels[i] = levels[i] ? 1 : 0;
      this.pending[i] = pending[i] ? 1 : 0;
      this.claimed[i] = claimed[i] ? 1 : 0;
    }
    for (let ctx = 0; ctx < this.numContexts; ctx++) {
      for (let w = 0; w < this.words; w++) this.enable[ctx]![w] = enable[ctx]![w]!;
      this.threshold[ctx] = threshold[ctx]!;
    }
    this.outputLevels.fill(false);
    for (let ctx = 0; ctx < this.numContexts; ctx++) this.outputs[ctx](false);
    this.updateOutputs();
  }
}
