// Pauses VMs nobody uses: a running VM whose console saw no traffic (neither output nor input) and
// that the page did not act on for `limitSeconds` is paused, so an idle lab stops costing CPU and
// battery. Typing into its console resumes it (LabController.sendConsole calls wake first). A VM
// the user paused with Pause is not touched: only the VMs this paused are resumed by input.
// Idle means "quiet console": a long computation that prints nothing counts as idle too.
import type { Hypervisor } from '../hypervisor/hypervisor.js';

export interface IdlePauserOptions {
  hv: Hypervisor;
  /** Called when a VM was paused or resumed here. */
  onChange(): void;
  /** A line for the VM's console ("paused while idle ..."). */
  note(vmId: string, text: string): void;
  clock: () => number;
  /** How often the consoles are looked at; 1 s by default. */
  tickMs?: number;
}

export class IdlePauser {
  /** Seconds without console traffic before a pause; undefined: never. */
  private limitSeconds: number | undefined;
  private readonly seen = new Map<string, { offset: number; at: number }>();
  /** VMs paused here, with the line their panel shows. */
  readonly paused = new Map<string, string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking = false;

  constructor(private readonly options: IdlePauserOptions) {}

  get limit(): number | undefined {
    return this.limitSeconds;
  }

  /** Sets the idle time (seconds) or turns idle pausing off (undefined). */
  setLimit(seconds: number | undefined): void {
    this.limitSeconds = seconds;
    this.seen.clear();
    if (seconds === undefined) this.stop();
    else if (this.timer === undefined) this.timer = setInterval(() => void this.tick(), this.options.tickMs ?? 1000);
  }

  /** Something happened to the VM (an action, a check): it is not idle. */
  activity(vmId: string): void {
    this.seen.delete(vmId);
  }

  /** Resumes the VM if it was paused here (input arrived); resolves once it runs again. */
  async wake(vmId: string): Promise<void> {
    this.seen.delete(vmId);
    if (!this.paused.has(vmId)) return;
    this.paused.delete(vmId);
    const { hv } = this.options;
    if (hv.has(vmId) && hv.get(vmId).state === 'paused') {
      // The note first: written after the resume, it would land inside the echo of what was typed.
      this.options.note(vmId, `resumed ${this.time()}: you typed`);
      this.options.onChange();
      await hv.resume(vmId);
    }
    this.options.onChange();
  }

  /** Looks at every running VM once: pauses those quiet for the limit. */
  async tick(): Promise<void> {
    const limit = this.limitSeconds;
    if (limit === undefined || this.ticking) return;
    this.ticking = true;
    try {
      const { hv } = this.options;
      const now = this.options.clock();
      for (const vm of hv.list()) {
        // A VM paused by the user (or resumed by them) is theirs again.
        if (vm.state !== 'paused') this.paused.delete(vm.id);
        if (vm.state !== 'running') {
          this.seen.delete(vm.id);
          continue;
        }
        const offset = hv.consoleOffset(vm.id);
        const last = this.seen.get(vm.id);
        if (!last || last.offset !== offset) {
          this.seen.set(vm.id, { offset, at: now });
          continue;
        }
        if (now - last.at < limit * 1000) continue;
        this.seen.delete(vm.id);
        try {
          await hv.pause(vm.id);
          this.paused.set(vm.id, `paused after ${formatSeconds(limit)} without activity; type in its console to resume`);
          this.options.note(vm.id, `paused ${this.time()}: idle for ${formatSeconds(limit)}; typing resumes it`);
          this.options.onChange();
        } catch {
          // It changed state meanwhile (stopped, crashed, paused by the user): nothing to do.
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private time(): string {
    return new Date(this.options.clock()).toTimeString().slice(0, 8);
  }
}

/** 90 -> '90 s', 600 -> '10 min'. */
export function formatSeconds(seconds: number): string {
  return seconds >= 120 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}
