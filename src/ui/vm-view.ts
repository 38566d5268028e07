// What the page shows of each VM (VmView), built from the hypervisor's list and the lab's VMs,
// and which buttons the lifecycle table (VM_RULES) allows. Pure functions: no DOM, no hypervisor
// calls beyond reading its list.
import type { Hypervisor, VmSummary } from '../hypervisor/hypervisor.js';
import type { Lab } from '../hypervisor/lab.js';
import { VM_RULES, type VmState } from '../hypervisor/state-machine.js';
import type { FigureHistory } from './figures.js';

/** What the page shows for one VM: a live VM, or a lab VM that is loading or could not start. */
export interface VmView {
  /** Stable key for rendering: the VM id, or `lab:<name>` while it has none. */
  key: string;
  /** The hypervisor's id, once the VM exists. */
  id?: string;
  name: string;
  image: string;
  engine?: string;
  /** Lifecycle state, or where a lab VM without a VM is: loading, unavailable, failed. */
  state: VmState | 'loading' | 'unavailable' | 'failed';
  /** The guest's shell is up (its ready marker was seen). */
  ready: boolean;
  /** One line about this VM: progress, how it started, why it crashed or cannot start. */
  message: string;
  memoryMiB?: number;
  weight?: number;
  capPercent?: number | undefined;
  /** Pool slot (worker) running it. */
  host?: number | undefined;
  figures?: FigureHistory;
  /** When the snapshot that Restore would load was taken (ISO time), if there is one. */
  snapshotAt?: string;
  /** The action in progress, if any. */
  busy?: string;
  /** Actions the lifecycle table allows in this state. */
  allowed: ReadonlySet<VmUiAction>;
  /** Dim one-line notes for its console ("restored snapshot 12:03:04"), oldest first; only grows. */
  notes: readonly string[];
  /** The page paused it because it was idle; typing into its console resumes it. */
  idle?: boolean;
  /** It is one of the lab's VMs (it can be reset to its template). */
  inLab?: boolean;
}

export type VmUiAction = 'start' | 'pause' | 'resume' | 'stop' | 'reset' | 'delete' | 'snapshot' | 'restore' | 'clone' | 'export';

const ACTIONS: readonly VmUiAction[] = ['start', 'pause', 'resume', 'stop', 'reset', 'delete', 'snapshot', 'restore', 'clone', 'export'];

/** The actions the lifecycle table (VM_RULES) allows in `state`; export is a snapshot. */
export function allowedActions(state: VmView['state'], hasSnapshot: boolean): Set<VmUiAction> {
  const allowed = new Set<VmUiAction>();
  if (state === 'loading' || state === 'unavailable' || state === 'failed') return allowed;
  for (const action of ACTIONS) {
    const rule = VM_RULES[action === 'export' ? 'snapshot' : action];
    if (!rule.allowedIn.includes(state)) continue;
    if (action === 'restore' && !hasSnapshot) continue;
    allowed.add(action);
  }
  return allowed;
}

/** Why `action` is not possible now, for the title and the click of a disabled button. */
export function actionHint(action: VmUiAction, vmName: string, state: VmView['state'], hasSnapshot: boolean): string {
  if (state === 'loading' || state === 'unavailable' || state === 'failed') return `${vmName} is ${state}`;
  const rule = VM_RULES[action === 'export' ? 'snapshot' : action];
  const verb = action === 'export' ? 'Export' : action[0]!.toUpperCase() + action.slice(1);
  if (!rule.allowedIn.includes(state)) return `${verb} is possible when the VM is ${joinOr(rule.allowedIn)}; ${vmName} is ${state}`;
  if (action === 'restore' && !hasSnapshot) return `Restore needs a snapshot of ${vmName}: take one with Snapshot first`;
  return '';
}

function joinOr(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** A lab VM that has no VM (yet): loading, or why it could not start. */
export interface LabSlot {
  state: 'loading' | 'unavailable' | 'failed';
  message: string;
}

/** What the page keeps per VM besides the hypervisor's summary. */
export interface VmExtras {
  messages: ReadonlyMap<string, string>;
  figures: ReadonlyMap<string, FigureHistory>;
  snapshots: ReadonlyMap<string, { at: string }>;
  busy: ReadonlyMap<string, string>;
  notes: ReadonlyMap<string, string[]>;
  /** VM ids the page paused while idle, with the line to show. */
  idle: ReadonlyMap<string, string>;
}

/** The lab's VMs first (live, or their slot), in manifest order, then every other live VM. */
export function buildVmViews(hv: Hypervisor, lab: Lab | undefined, slots: ReadonlyMap<string, LabSlot>, extras: VmExtras): VmView[] {
  const live = hv.list();
  const byName = new Map(live.map((vm) => [vm.name, vm]));
  const labNames = new Set(lab?.vms.map((v) => v.name));
  const views: VmView[] = [];
  const seen = new Set<string>();
  const liveView = (vm: VmSummary): VmView => {
    seen.add(vm.id);
    const snap = extras.snapshots.get(vm.id);
    const busy = extras.busy.get(vm.id);
    const idle = vm.state === 'paused' ? extras.idle.get(vm.id) : undefined;
    return {
      key: vm.id,
      id: vm.id,
      name: vm.name,
      image: vm.image,
      engine: vm.engine,
      state: vm.state,
      ready: vm.ready,
      message: vm.state === 'crashed' ? (vm.crashReason ?? 'no reason given') : (idle ?? extras.messages.get(vm.name) ?? ''),
      memoryMiB: vm.memoryMiB,
      weight: vm.weight,
      capPercent: vm.capPercent,
      host: vm.host,
      ...(extras.figures.has(vm.id) ? { figures: extras.figures.get(vm.id)! } : {}),
      ...(snap ? { snapshotAt: snap.at } : {}),
      ...(busy ? { busy } : {}),
      allowed: allowedActions(vm.state, snap !== undefined),
      notes: extras.notes.get(vm.id) ?? [],
      ...(idle ? { idle: true } : {}),
      ...(labNames.has(vm.name) ? { inLab: true } : {}),
    };
  };
  for (const spec of lab?.vms ?? []) {
    const vm = byName.get(spec.name);
    const slot = slots.get(spec.name);
    if (vm) views.push(liveView(vm));
    else if (slot) views.push({ key: `lab:${spec.name}`, name: spec.name, image: spec.image, state: slot.state, ready: false, message: slot.message, allowed: new Set(), notes: [], inLab: true });
  }
  for (const vm of live) if (!seen.has(vm.id)) views.push(liveView(vm));
  return views;
}

/** "Lab default: 1 of 2 VMs running (x86 crashed)": the lab's VMs as they are now. */
export function labLine(lab: Lab, hv: Hypervisor, slots: ReadonlyMap<string, LabSlot>): string {
  const live = new Map(hv.list().map((vm) => [vm.name, vm]));
  const running = lab.vms.filter((spec) => live.get(spec.name)?.state === 'running').length;
  const others = lab.vms
    .filter((spec) => live.get(spec.name)?.state !== 'running')
    .map((spec) => `${spec.name} ${live.get(spec.name)?.state ?? slots.get(spec.name)?.state ?? 'deleted'}`);
  return `Lab ${lab.name}: ${running} of ${lab.vms.length} VMs running${others.length ? ` (${others.join(', ')})` : ''}`;
}
