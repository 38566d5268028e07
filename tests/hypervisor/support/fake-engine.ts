// A test double of Engine: a tiny "shell" that keeps a set of files, so lifecycle, snapshot and
// isolation logic can be tested in-process in milliseconds. The real engines are exercised by
// the *.integration.test.ts files.
import type { AssetLoader, BootConfig, Engine, EngineKind, EngineStats, ExitReason, ImageEntry } from '../../../src/engines/engine.js';
import { VmHost } from '../../../src/worker/vm-host.js';
import type { HostConnection } from '../../../src/hypervisor/host-port.js';
import { remoteHostConnection } from '../../../src/hypervisor/remote-host.js';
import type { Remote } from 'comlink';

export const READY = 'fake shell ready';

export class FakeEngine implements Engine {
  readonly kind: EngineKind;
  private files = new Set<string>();
  private line = '';
  private pending: string[] = [];
  private isRunning = false;
  private destroyed = false;
  private instructions = 0;
  /** Wall time spent running, as the real engines count it. */
  private runMs = 0;
  private runningSince = 0;
  private consoleListeners = new Set<(data: Uint8Array) => void>();
  private exitListeners = new Set<(reason: ExitReason) => void>();

  constructor(private readonly config: BootConfig) {
    this.kind = config.engine;
  }

  get running(): boolean {
    return this.isRunning;
  }

  private setRunning(running: boolean): void {
    if (running && !this.isRunning) this.runningSince = performance.now();
    if (!running && this.isRunning) this.runMs += performance.now() - this.runningSince;
    this.isRunning = running;
  }

  async start(): Promise<void> {
    if (this.config.state) this.restore(this.config.state);
    this.setRunning(true);
    if (!this.config.state) this.print(`fake kernel, ${this.config.memoryMiB} MiB\n${READY}\n# `);
    for (const line of this.pending.splice(0)) this.type(line);
  }

  async pause(): Promise<void> {
    this.setRunning(false);
  }

  async resume(): Promise<void> {
    this.setRunning(true);
    for (const data of this.pending.splice(0)) this.type(data);
  }

  async saveState(): Promise<Uint8Array> {
    if (this.isRunning) throw new Error('fake engine: pause before saving');
    return new TextEncoder().encode(JSON.stringify({ files: [...this.files], instructions: this.instructions, memoryMiB: this.config.memoryMiB }));
  }

  async loadState(state: Uint8Array): Promise<void> {
    if (this.isRunning) throw new Error('fake engine: pause before loading');
    this.restore(state);
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    this.setRunning(false);
  }

  sendConsole(data: Uint8Array | string): void {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
    if (!this.isRunning) this.pending.push(text);
    else this.type(text);
  }

  onConsole(listener: (data: Uint8Array) => void): () => void {
    this.consoleListeners.add(listener);
    return () => this.consoleListeners.delete(listener);
  }

  onExit(listener: (reason: ExitReason) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  stats(): EngineStats {
    const runMs = this.runMs + (this.isRunning ? performance.now() - this.runningSince : 0);
    return { instructions: this.instructions, runMs, memoryBytes: this.config.memoryMiB * 1024 * 1024 };
  }

  /**
   * All or nothing, as the real engines load a state: a malformed one, or one whose RAM size is
   * not this machine's, throws and leaves the machine as it was.
   */
  private restore(state: Uint8Array): void {
    const parsed = JSON.parse(new TextDecoder().decode(state)) as { files: string[]; instructions: number; memoryMiB?: number };
    if (!Array.isArray(parsed.files)) throw new Error('fake engine: the state has no file list');
    if (parsed.memoryMiB !== undefined && parsed.memoryMiB !== this.config.memoryMiB) {
      throw new Error(`fake engine: the state is of a ${parsed.memoryMiB} MiB machine, this one has ${this.config.memoryMiB} MiB`);
    }
    this.files = new Set(parsed.files);
  }

  private type(text: string): void {
    for (const ch of text) {
      if (ch !== '\n') {
        this.line += ch;
        continue;
      }
      const cmd = this.line.trim();
      this.line = '';
      this.run(cmd);
    }
  }

  private run(cmd: string): void {
    this.instructions += 1000;
    const [verb, ...args] = cmd.split(/\s+/);
    const exit = (reason: ExitReason) => setTimeout(() => {
      this.setRunning(false);
      for (const l of this.exitListeners) l(reason);
    }, 0);
    switch (verb) {
      case 'echo':
        return this.print(`${args.join(' ')}\n# `);
      case 'touch':
        for (const f of args) this.files.add(f);
        return this.print('# ');
      case 'ls':
        return this.print(`${[...this.files].sort().join(' ') || '(empty)'}\n# `);
      case 'crash':
        return exit({ kind: 'crash', message: 'guest hit a fake bug' });
      case 'poweroff':
        return exit({ kind: 'poweroff', code: 0 });
      case 'reboot':
        return exit({ kind: 'reboot' });
      default:
        return this.print(`${verb}: not found\n# `);
    }
  }

  private print(text: string): void {
    if (this.destroyed) return;
    const data = new TextEncoder().encode(text);
    setTimeout(() => {
      if (!this.destroyed) for (const l of this.consoleListeners) l(data);
    }, 0);
  }
}

/** sha256 of the bytes fakeAssets returns for every file. */
const FAKE_FILE_SHA256 = '039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81';

export const fakeAssets: AssetLoader = {
  load: async () => new Uint8Array([1, 2, 3]),
  resolve: (path) => path,
};

/** Builds a fake engine; 'rv64' is "not available yet", as the real factory says today. */
export async function fakeEngineFactory(config: BootConfig): Promise<Engine> {
  if (config.engine === 'rv64') throw new Error('the rv64 Linux engine is not available yet');
  return new FakeEngine(config);
}

export function image(name: string, engine: EngineKind = 'v86', memoryMiB = 64): ImageEntry {
  return {
    name,
    arch: engine === 'v86' ? 'i686' : 'riscv64',
    engine,
    kernel: `images/${name}/kernel`,
    cmdline: 'console=ttyS0',
    memoryMiB,
    readyMarker: READY,
    sha256: { [`images/${name}/kernel`]: FAKE_FILE_SHA256 },
  };
}

/** An in-process VmHost behind the same comlink-facing adapter workers use, that a test can kill. */
export interface KillableHost {
  connection: HostConnection;
  host: VmHost;
  kill(reason?: string): void;
}

export function killableHost(index: number, options: { capPeriodMs?: number } = {}): KillableHost {
  const host = new VmHost({ assets: fakeAssets, createEngine: fakeEngineFactory, ...options });
  const errorListeners: Array<(m: string) => void> = [];
  const connection = remoteHostConnection(
    {
      host: host as unknown as Remote<VmHost>,
      onError: (l) => errorListeners.push(l),
      close: () => host.destroyAll(),
    },
    `worker ${index + 1}`,
  );
  return {
    connection,
    host,
    kill: (reason = 'killed by the test') => {
      void host.destroyAll();
      for (const l of errorListeners) l(reason);
    },
  };
}
