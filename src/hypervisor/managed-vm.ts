// What the hypervisor keeps about one VM (its registry entry), and the summary callers see.

import type { EngineKind, ImageEntry } from '../engines/engine.js';
import { ConsoleLog } from './console-log.js';
import type { HostSlot } from './host-port.js';
import type { VmIdentity } from './identity.js';
import type { VmState, VmStateMachine } from './state-machine.js';

export interface VmSummary {
  id: string;
  name: string;
  image: string;
  engine: EngineKind;
  state: VmState;
  memoryMiB: number;
  weight: number;
  capPercent: number | undefined;
  identity: VmIdentity;
  /** The guest printed its image's ready marker (its shell is up). */
  ready: boolean;
  /** Pool slot of the host running it, while it has an engine. */
  host: number | undefined;
  /** Its host's cap is holding it paused right now (its lifecycle state stays running). */
  throttled: boolean;
  /** Why it crashed, while crashed. */
  crashReason?: string;
}

export class ManagedVm {
  /** Creation order (ids are `vm-<seq>`). */
  readonly seq: number;
  readonly console = new ConsoleLog();
  readonly consoleListeners = new Set<(data: Uint8Array) => void>();
  machine!: VmStateMachine;
  slot: HostSlot | undefined;
  /** The id of the current engine instance in its host: `<vm id>~<generation>`. */
  instance: string | undefined;
  generation = 0;
  ready = false;
  /** Console input typed while paused: delivered on resume, so no engine has to queue it. */
  pendingInput: Array<Uint8Array | string> = [];
  /** Console offset where the current engine instance began (its boot output starts here). */
  bootOffset = 0;
  crashReason: string | undefined;
  queue: Promise<unknown> = Promise.resolve();
  /** As its host last reported: a cap holds the engine paused while the lifecycle state is running. */
  throttled = false;
  /** How long the guest stood still in its last live snapshot, clone or restore (ms). */
  lastPauseMs: number | undefined;
  sample: { at: number; instructions: number; runMs: number } | undefined;
  /** The virtual network the VM's network card is on (src/hypervisor/networks.ts), if any. */
  network: string | undefined;
  /** Its fixed address there (a static DHCP lease), if any. */
  ip: string | undefined;
  /** The next engine instance drops the persistent disk's overlay first (a reset). */
  diskReset = false;
  /** How an instance made from a state treats the persistent disk (BootConfig.diskOnRestore). */
  diskOnRestore: 'copy' | 'refuse' = 'copy';

  constructor(
    readonly id: string,
    public name: string,
    readonly image: ImageEntry,
    readonly memoryMiB: number,
    public weight: number,
    public capPercent: number | undefined,
    public identity: VmIdentity,
  ) {
    this.seq = Number(id.slice(id.lastIndexOf('-') + 1));
  }

  get state(): VmState {
    return this.machine.state as VmState;
  }

  summary(): VmSummary {
    return {
      id: this.id,
      name: this.name,
      image: this.image.name,
      engine: this.image.engine,
      state: this.state,
      memoryMiB: this.memoryMiB,
      weight: this.weight,
      capPercent: this.capPercent,
      identity: { ...this.identity },
      ready: this.ready,
      host: this.instance ? this.slot?.index : undefined,
      throttled: this.throttled,
      ...(this.state === 'crashed' && this.crashReason ? { crashReason: this.crashReason } : {}),
    };
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
