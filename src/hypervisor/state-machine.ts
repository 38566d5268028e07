// The VM lifecycle: one table says which action is allowed in which state and where it leads
// (Firecracker's idea: every call states when it is allowed). VmStateMachine.apply is the only
// code that changes a VM's state, and every change is emitted as a transition event.

import type { VmState as HostVmState } from '../worker/protocol.js';
import { HypervisorError } from './errors.js';

export const VM_STATES = ['created', 'booting', 'running', 'paused', 'stopped', 'crashed'] as const;
export type VmState = (typeof VM_STATES)[number];

/** What a user (UI, CLI, lab) asks of a VM. */
export const VM_ACTIONS = [
  'create',
  'start',
  'pause',
  'resume',
  'stop',
  'reset',
  'delete',
  'snapshot',
  'restore',
  'clone',
  'migrate',
  'reclaim',
] as const;
export type VmAction = (typeof VM_ACTIONS)[number];

/** What the VM's host reports on its own (nobody asked): boot done, guest power-off, crash. */
export const VM_SIGNALS = ['booted', 'poweroff', 'reboot', 'crash'] as const;
export type VmSignal = (typeof VM_SIGNALS)[number];

export type VmInput = VmAction | VmSignal;

/** Where an input leads: a state, 'same' (state unchanged) or 'deleted' (the VM is gone). */
export type VmTarget = VmState | 'same' | 'deleted';

export interface VmRule {
  /** States in which the input is accepted. `create` has none: it makes a VM that did not exist. */
  readonly allowedIn: readonly VmState[];
  readonly leadsTo: VmTarget;
  /** One line for docs and error messages. */
  readonly meaning: string;
}

export const VM_RULES: { readonly [K in VmInput]: VmRule } = {
  create: { allowedIn: [], leadsTo: 'created', meaning: 'register the VM, reserve its memory, load its image' },
  start: { allowedIn: ['created', 'stopped'], leadsTo: 'booting', meaning: 'boot the guest' },
  pause: { allowedIn: ['running'], leadsTo: 'paused', meaning: 'stop running guest code, keep all state' },
  resume: { allowedIn: ['paused'], leadsTo: 'running', meaning: 'continue a paused guest' },
  stop: {
    allowedIn: ['booting', 'running', 'paused', 'crashed'],
    leadsTo: 'stopped',
    meaning: 'power off and free the engine (memory stays reserved)',
  },
  reset: {
    allowedIn: ['booting', 'running', 'paused', 'stopped', 'crashed'],
    leadsTo: 'booting',
    meaning: 'discard the machine and boot it again',
  },
  delete: { allowedIn: ['created', 'stopped', 'crashed'], leadsTo: 'deleted', meaning: 'forget the VM, release its memory' },
  snapshot: { allowedIn: ['running', 'paused'], leadsTo: 'same', meaning: 'save the whole machine (running VMs pause briefly)' },
  reclaim: { allowedIn: ['running', 'paused'], leadsTo: 'same', meaning: 'give the memory the guest freed back to the host (running VMs pause briefly)' },
  restore: {
    allowedIn: ['created', 'running', 'paused', 'stopped', 'crashed'],
    leadsTo: 'running',
    meaning: 'replace the machine with a snapshot and run it',
  },
  clone: { allowedIn: ['running', 'paused'], leadsTo: 'same', meaning: 'make a new VM from this one, with a new identity' },
  migrate: { allowedIn: ['running', 'paused'], leadsTo: 'same', meaning: 'move the machine to another host (paused while it moves)' },
  booted: { allowedIn: ['booting'], leadsTo: 'running', meaning: 'the engine has booted and runs the guest' },
  poweroff: { allowedIn: ['booting', 'running', 'paused'], leadsTo: 'stopped', meaning: 'the guest powered off' },
  reboot: { allowedIn: ['booting', 'running'], leadsTo: 'booting', meaning: 'the guest asked for a reboot' },
  crash: {
    allowedIn: ['created', 'booting', 'running', 'paused'],
    leadsTo: 'crashed',
    meaning: "the engine failed or its worker died; other VMs keep running",
  },
};

/**
 * The same table as a VM host (src/worker/vm-host.ts) reads it. A host knows one engine instance,
 * whose states map onto the lifecycle's (`failed` is `crashed`); it accepts an operation where the
 * lifecycle input it serves is allowed, and only while its engine is live (created, running or
 * paused: a stopped or failed instance is discarded, never restarted). Saving and loading a
 * machine also need it paused: the hypervisor pauses a running VM around them.
 */
export type HostOperation = 'start' | 'pause' | 'resume' | 'saveState' | 'loadState' | 'live' | 'sendConsole';

const HOST_LIVE: readonly HostVmState[] = ['created', 'running', 'paused'];
const LIFECYCLE_OF_HOST: { readonly [S in HostVmState]: VmState } = {
  created: 'created',
  running: 'running',
  paused: 'paused',
  stopped: 'stopped',
  failed: 'crashed',
};

/** Derives the host's table from a lifecycle table (exported so a test can show it follows one). */
export function hostRulesFrom(rules: typeof VM_RULES): { readonly [O in HostOperation]: readonly HostVmState[] } {
  const statesFor = (input: VmInput | 'any', needPaused = false): readonly HostVmState[] =>
    HOST_LIVE.filter(
      (s) => (input === 'any' || rules[input].allowedIn.includes(LIFECYCLE_OF_HOST[s])) && (!needPaused || s === 'paused'),
    );
  return {
    start: statesFor('start'),
    pause: statesFor('pause'),
    resume: statesFor('resume'),
    saveState: statesFor('snapshot', true),
    loadState: statesFor('restore', true),
    // Live saves, restores, clones and migrations: a running or paused machine (the host pauses it briefly itself).
    live: statesFor('snapshot'),
    // Typing is not a lifecycle input: any live engine takes it (before boot it waits in the engine).
    sendConsole: statesFor('any'),
  };
}

/** Host operation -> host states in which it is allowed (derived from VM_RULES, never edited by hand). */
export const HOST_RULES = hostRulesFrom(VM_RULES);

export function isVmAction(input: string): input is VmAction {
  return (VM_ACTIONS as readonly string[]).includes(input);
}

export interface VmTransition {
  vmId: string;
  vmName: string;
  input: VmInput;
  from: VmState | 'new';
  to: VmState | 'deleted';
  /** Why, for signals: the crash message, the power-off code. */
  detail?: string;
  /** When, in milliseconds since the epoch. */
  at: number;
}

/** The lifecycle of one VM. Reads the table; never decides anything else. */
export class VmStateMachine {
  private current: VmState | 'deleted';

  constructor(
    readonly vmId: string,
    private vmName: string,
    private readonly onTransition: (transition: VmTransition) => void,
  ) {
    this.current = 'created';
    onTransition({ vmId, vmName, input: 'create', from: 'new', to: 'created', at: Date.now() });
  }

  get state(): VmState | 'deleted' {
    return this.current;
  }

  get name(): string {
    return this.vmName;
  }

  rename(name: string): void {
    this.vmName = name;
  }

  /** True when `input` is accepted in the current state. */
  allows(input: VmInput): boolean {
    return this.current !== 'deleted' && VM_RULES[input].allowedIn.includes(this.current);
  }

  /** Throws HypervisorError('invalid-state') when a user action is not allowed now. */
  check(action: VmAction): void {
    if (this.allows(action)) return;
    const allowed = VM_RULES[action].allowedIn;
    const when = allowed.length > 0 ? ` (${action} is allowed when ${joinOr(allowed)})` : '';
    throw new HypervisorError(
      'invalid-state',
      `cannot ${action} VM '${this.vmName}': it is ${this.current}${when}`,
    );
  }

  /**
   * The one place a VM's state changes. A user action that is not allowed throws; a signal that
   * does not apply (a crash report for a VM already stopped) is ignored and returns false.
   */
  apply(input: VmInput, detail?: string): boolean {
    if (!this.allows(input)) {
      if (isVmAction(input)) this.check(input);
      return false;
    }
    const from = this.current as VmState;
    const target = VM_RULES[input].leadsTo;
    const to = target === 'same' ? from : target;
    this.current = to;
    this.onTransition({ vmId: this.vmId, vmName: this.vmName, input, from, to, ...(detail ? { detail } : {}), at: Date.now() });
    return true;
  }
}

function joinOr(states: readonly string[]): string {
  if (states.length === 1) return states[0]!;
  return `${states.slice(0, -1).join(', ')} or ${states[states.length - 1]}`;
}
