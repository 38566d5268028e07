// The page's logic for one VM: fetch the manifest, start a VM-host worker, create and boot the
// image, relay keystrokes and console output, and say at each step what is happening.
// Components only render what this reports (tv-app.ts wires them together).
import { proxy, type Remote } from 'comlink';
import type { ImageEntry } from '../engines/engine.js';
import type { VmEvent, VmId, VmState } from '../worker/protocol.js';
import type { VmHost } from '../worker/vm-host.js';
import { fetchManifest, pickImage } from './manifest.js';

/** Where the page is, from a user's point of view. */
export type SessionPhase = 'loading' | 'booting' | 'ready' | 'paused' | 'stopped' | 'failed';

export interface SessionStatus {
  phase: SessionPhase;
  /** One line for people: what is happening or what went wrong. */
  message: string;
  image?: ImageEntry;
}

export interface HostConnection {
  host: Remote<VmHost>;
  onError(listener: (message: string) => void): void;
  close(): void;
}

export interface VmSessionOptions {
  appRoot: URL;
  imageName: string | null;
  connect: () => HostConnection;
  onStatus: (status: SessionStatus) => void;
  onConsole: (data: Uint8Array) => void;
}

export class VmSession {
  private connection: HostConnection | null = null;
  private vmId: VmId | null = null;
  private image: ImageEntry | undefined;
  private status: SessionStatus = { phase: 'loading', message: 'Starting' };
  /** The guest printed its ready marker (its shell is up). */
  private ready = false;
  private readonly encoder = new TextEncoder();

  constructor(private readonly options: VmSessionOptions) {}

  get current(): SessionStatus {
    return this.status;
  }

  async run(): Promise<void> {
    try {
      this.report('loading', 'Loading the image list');
      const manifest = await fetchManifest(this.options.appRoot);
      this.image = pickImage(manifest, this.options.imageName);
      this.report('loading', `Starting a worker for ${this.image.name}`);
      const connection = this.options.connect();
      this.connection = connection;
      connection.onError((message) => this.fail(`The VM worker failed: ${message}`));
      await connection.host.subscribe(proxy((events: VmEvent[]) => this.onEvents(events)));
      const info = await connection.host.create({ image: this.image });
      this.vmId = info.id;
      this.report('booting', `Booting ${this.image.name}`);
      await connection.host.start(info.id);
    } catch (err) {
      this.fail(`Could not start the VM: ${errorMessage(err)}`);
    }
  }

  /** Keystrokes (xterm's onData) go to the guest console as UTF-8. */
  sendInput(data: string | Uint8Array): void {
    if (!this.connection || this.vmId === null) return;
    if (this.status.phase !== 'booting' && this.status.phase !== 'ready') return;
    const bytes = typeof data === 'string' ? this.encoder.encode(data) : data;
    this.connection.host.sendConsole(this.vmId, bytes).catch((err: unknown) => this.fail(errorMessage(err)));
  }

  async pause(): Promise<void> {
    if (!this.connection || this.vmId === null) return;
    await this.connection.host.pause(this.vmId).catch((err: unknown) => this.fail(errorMessage(err)));
  }

  async resume(): Promise<void> {
    if (!this.connection || this.vmId === null) return;
    await this.connection.host.resume(this.vmId).catch((err: unknown) => this.fail(errorMessage(err)));
  }

  close(): void {
    this.connection?.close();
    this.connection = null;
  }

  private onEvents(events: VmEvent[]): void {
    for (const event of events) {
      if (event.vmId !== this.vmId && this.vmId !== null) continue;
      switch (event.kind) {
        case 'console':
          this.options.onConsole(event.data);
          break;
        case 'progress':
          if (this.status.phase === 'loading') this.report('loading', event.message);
          break;
        case 'ready':
          this.ready = true;
          this.report('ready', `${this.image?.name ?? 'The VM'} is running`);
          void this.reportBootTime();
          break;
        case 'state':
          this.onState(event.state);
          break;
        case 'exit':
          if (event.reason.kind === 'crash') this.fail(`The VM crashed: ${event.reason.message}`);
          else if (event.reason.kind === 'poweroff') this.report('stopped', `The VM powered off (exit code ${event.reason.code})`);
          else this.report('stopped', 'The VM rebooted and stopped');
          break;
      }
    }
  }

  /** Adds the measured time from start() to the ready marker to the status line. */
  private async reportBootTime(): Promise<void> {
    if (!this.connection || this.vmId === null) return;
    const stats = await this.connection.host.stats(this.vmId).catch(() => null);
    if (stats?.readyMs === undefined || this.status.phase !== 'ready') return;
    this.report('ready', `${this.image?.name ?? 'The VM'} is running (shell ready ${(stats.readyMs / 1000).toFixed(1)} s after boot)`);
  }

  private onState(state: VmState): void {
    const name = this.image?.name ?? 'The VM';
    if (state === 'paused') this.report('paused', `${name} is paused`);
    else if (state === 'running' && this.status.phase === 'paused') {
      this.report(this.ready ? 'ready' : 'booting', this.ready ? `${name} is running` : `Booting ${name}`);
    }
  }

  private fail(message: string): void {
    if (this.status.phase === 'failed') return;
    this.report('failed', message);
  }

  private report(phase: SessionPhase, message: string): void {
    this.status = { phase, message, ...(this.image ? { image: this.image } : {}) };
    this.options.onStatus(this.status);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
