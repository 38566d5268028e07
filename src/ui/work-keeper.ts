// "Keep my work" for one lab: while it is on, every lab VM is snapshotted into a store after the
// user stops typing or acting, at a regular interval and when the page asks (hidden, closing);
// the next load restores from there. Switching it off forgets the saved work. It also knows
// whether anything done since the last save (or, while off, since the load) would be lost.
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import { discardLabWork, saveLabWork, type Lab } from '../hypervisor/lab.js';
import type { TemplateStore } from '../hypervisor/template-store.js';

/** A key/value place that survives reloads (localStorage in the page). */
export interface SettingsStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface WorkKeeperOptions {
  lab: Lab;
  hv: Hypervisor;
  store: TemplateStore;
  settings: SettingsStore;
  clock: () => number;
  /** Quiet time after activity before a save; 1500 ms by default. */
  saveDelayMs?: number | undefined;
  /** Saves at least this often while on; 30 s by default. */
  saveIntervalMs?: number | undefined;
  /** Called when `on` or `status` changed. */
  onChange(): void;
}

export class WorkKeeper {
  /** Keep my work is on (remembered per lab). */
  on: boolean;
  /** What happened to the saved work last ("Work saved at 10:02:03: riscv, x86"). */
  status = '';
  private changed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private interval: ReturnType<typeof setInterval> | undefined;
  private saving: Promise<void> | undefined;
  private again = false;

  constructor(private readonly options: WorkKeeperOptions) {
    this.on = options.settings.getItem(this.key) === '1';
  }

  /** The saved work to load from, or undefined (then it is forgotten: the load starts clean). */
  async beforeLoad(): Promise<TemplateStore | undefined> {
    if (this.on) return this.options.store;
    await discardLabWork(this.options.lab, this.options.store).catch(() => undefined);
    return undefined;
  }

  /** The lab is loaded: nothing is unsaved yet; saving starts when on. */
  loaded(): void {
    this.changed = false;
    if (this.on) this.startInterval();
  }

  /** The user typed or did something that changes the lab. */
  touched(): void {
    this.changed = true;
    if (this.on) this.scheduleSave();
  }

  /** True when a reload or close now would lose something. */
  wouldLoseWork(): boolean {
    return this.changed;
  }

  /** Turns it on (saves now, then after activity) or off (forgets the saved work). */
  async setOn(on: boolean): Promise<void> {
    this.on = on;
    this.options.settings.setItem(this.key, on ? '1' : '0');
    if (on) {
      this.startInterval();
      await this.save();
    } else {
      this.stop();
      await this.saving;
      await discardLabWork(this.options.lab, this.options.store).catch(() => undefined);
      this.status = 'A reload starts the lab clean';
      this.options.onChange();
    }
  }

  /** Saves every lab VM's state now (when on); a save asked for during one runs after it. */
  save(): Promise<void> {
    if (!this.on) return Promise.resolve();
    if (this.saving) {
      this.again = true;
      return this.saving;
    }
    const { lab, hv, store } = this.options;
    this.status = 'Saving your work';
    this.options.onChange();
    this.saving = (async () => {
      do {
        this.again = false;
        this.changed = false;
        const results = await saveLabWork(hv, lab, store);
        if (!this.on) break;
        const saved = results.filter((r) => r.saved).map((r) => r.name);
        const failed = results.filter((r) => !r.saved).map((r) => `${r.name} (${r.message})`);
        const at = new Date(this.options.clock()).toTimeString().slice(0, 8);
        this.status =
          (saved.length ? `Work saved at ${at}: ${saved.join(', ')}` : `Nothing saved at ${at}`) + (failed.length ? `; not saved: ${failed.join(', ')}` : '');
      } while (this.again && this.on);
    })().finally(() => {
      this.saving = undefined;
      this.options.onChange();
    });
    return this.saving;
  }

  /** Stops the timers (the page is closing). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.interval !== undefined) clearInterval(this.interval);
    this.timer = undefined;
    this.interval = undefined;
  }

  private get key(): string {
    return `tabvisor.keepWork.${this.options.lab.name}`;
  }

  private scheduleSave(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, this.options.saveDelayMs ?? 1500);
  }

  private startInterval(): void {
    if (this.interval !== undefined) return;
    this.interval = setInterval(() => void this.save(), this.options.saveIntervalMs ?? 30_000);
  }
}
