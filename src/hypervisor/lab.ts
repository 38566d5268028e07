// Labs: a manifest lists the VMs of a class exercise (labs/*.json). Loading a lab creates and
// starts each VM, restoring a pre-booted template snapshot when one exists for its image. A VM
// that cannot start (its engine is not built yet, no memory left) is reported plainly, per VM;
// the others start anyway.

import type { ImageEntry } from '../engines/engine.js';
import { capProblem, weightProblem } from '../worker/schedule-limits.js';
import { HypervisorError } from './errors.js';
import type { Hypervisor } from './hypervisor.js';
import { parseNetworks, parseVmNetwork, type LabNetwork, type LabVmNetwork } from './lab-networks.js';
import { parseTasks, type LabTask } from './lab-tasks.js';
import { templateKey, type TemplateStore } from './template-store.js';
import { DISK_KEPT_MESSAGE } from '../engines/disk-kept.js';

export const LAB_FORMAT = 'tabvisor-lab/1';

export interface LabVm {
  /** The VM's name, unique in the lab. */
  name: string;
  /** An image name from images/manifest.json. */
  image: string;
  memoryMiB?: number;
  weight?: number;
  capPercent?: number;
  /** The lab network this VM sits on, and its fixed address there (src/hypervisor/lab-networks.ts). */
  net?: LabVmNetwork;
}

export interface Lab {
  format: typeof LAB_FORMAT;
  name: string;
  title?: string;
  description?: string;
  vms: LabVm[];
  /** Tasks with checks (src/hypervisor/lab-tasks.ts); empty when the lab has none. */
  tasks: LabTask[];
  /** Ethernet networks between the lab's VMs; empty when the lab has none. */
  networks: LabNetwork[];
  /** The page pauses a VM after this long without console traffic (resumes on input); absent: never. */
  idlePauseSeconds?: number;
  /** false: the lab's VMs get no persistent disk in the page, so they start from templates (instant start). */
  disks?: boolean;
}

/** The range of `idlePauseSeconds` (the page's own setting uses the same). */
export const IDLE_PAUSE_MIN_SECONDS = 10;
export const IDLE_PAUSE_MAX_SECONDS = 86_400;

const LAB_FIELDS = ['$schema', 'format', 'name', 'title', 'description', 'vms', 'tasks', 'networks', 'idlePauseSeconds', 'disks'];
const VM_FIELDS = ['name', 'image', 'memoryMiB', 'weight', 'capPercent', 'network', 'ip'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function labError(message: string): HypervisorError {
  return new HypervisorError('bad-lab', `lab: ${message}`);
}

/**
 * Checks a parsed lab manifest (JSON.parse output) against the schema and the image manifest.
 * Throws HypervisorError('bad-lab') naming the first bad field: `lab: "vms[1].image" names no
 * image in the manifest`.
 */
export interface ParseLabOptions {
  /**
   * Accept image names the manifest does not have (yet); loadLab then reports those VMs as
   * unavailable. Off by default, so that a typo is an error.
   */
  allowMissingImages?: boolean;
}

export function parseLab(json: unknown, images: readonly ImageEntry[], options: ParseLabOptions = {}): Lab {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw labError('the manifest must be a JSON object');
  const raw = json as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!LAB_FIELDS.includes(key)) throw labError(`unknown field "${key}" (fields: ${LAB_FIELDS.slice(1).join(', ')})`);
  }
  if (raw.format !== LAB_FORMAT) throw labError(`"format" must be "${LAB_FORMAT}", got ${show(raw.format)}`);
  const name = str(raw, 'name', 'name', true)!;
  if (!NAME.test(name)) throw labError(`"name" must be 1-63 letters, digits, '.', '_' or '-', got ${show(name)}`);
  const title = str(raw, 'title', 'title', false);
  const description = str(raw, 'description', 'description', false);
  if (!Array.isArray(raw.vms) || raw.vms.length === 0) throw labError('"vms" must be a non-empty list');
  const idlePauseSeconds = num(raw, 'idlePauseSeconds', 'idlePauseSeconds');
  if (idlePauseSeconds !== undefined && !(Number.isInteger(idlePauseSeconds) && idlePauseSeconds >= IDLE_PAUSE_MIN_SECONDS && idlePauseSeconds <= IDLE_PAUSE_MAX_SECONDS)) {
    throw labError(`"idlePauseSeconds" must be a whole number of seconds from ${IDLE_PAUSE_MIN_SECONDS} to ${IDLE_PAUSE_MAX_SECONDS}, got ${idlePauseSeconds}`);
  }
  if (raw.disks !== undefined && typeof raw.disks !== 'boolean') throw labError('"disks" must be true or false');
  const disks = raw.disks as boolean | undefined;
  const imageNames = new Set(images.map((i) => i.name));
  const seen = new Map<string, number>();
  const networks = parseNetworks(raw.networks);
  const addresses = new Set<string>();
  const vms = raw.vms.map((item: unknown, i): LabVm => {
    const at = `vms[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw labError(`"${at}" must be an object`);
    const v = item as Record<string, unknown>;
    for (const key of Object.keys(v)) {
      if (!VM_FIELDS.includes(key)) throw labError(`unknown field "${at}.${key}" (fields: ${VM_FIELDS.join(', ')})`);
    }
    const vmName = str(v, 'name', `${at}.name`, true)!;
    if (!NAME.test(vmName)) throw labError(`"${at}.name" must be 1-63 letters, digits, '.', '_' or '-', got ${show(vmName)}`);
    const first = seen.get(vmName);
    if (first !== undefined) throw labError(`"${at}.name" repeats "vms[${first}].name" (${show(vmName)})`);
    seen.set(vmName, i);
    const image = str(v, 'image', `${at}.image`, true)!;
    if (!imageNames.has(image) && !options.allowMissingImages) throw labError(`"${at}.image" names no image in the manifest (${show(image)}; have: ${[...imageNames].join(', ') || 'none'})`);
    const vm: LabVm = { name: vmName, image };
    const memoryMiB = num(v, 'memoryMiB', `${at}.memoryMiB`);
    if (memoryMiB !== undefined) {
      if (!Number.isInteger(memoryMiB) || memoryMiB < 1) throw labError(`"${at}.memoryMiB" must be a whole number of MiB >= 1, got ${memoryMiB}`);
      vm.memoryMiB = memoryMiB;
    }
    const weight = num(v, 'weight', `${at}.weight`);
    if (weight !== undefined) {
      const problem = weightProblem(weight);
      if (problem) throw labError(`"${at}.weight": ${problem}`);
      vm.weight = weight;
    }
    const cap = num(v, 'capPercent', `${at}.capPercent`);
    if (cap !== undefined) {
      const problem = capProblem(cap);
      if (problem) throw labError(`"${at}.capPercent": ${problem}`);
      vm.capPercent = cap;
    }
    const net = parseVmNetwork(v, at, networks, addresses);
    if (net !== undefined) vm.net = net;
    return vm;
  });
  return {
    format: LAB_FORMAT,
    name,
    ...(title !== undefined ? { title } : {}),
    ...(description !== undefined ? { description } : {}),
    vms,
    tasks: parseTasks(raw.tasks, new Set(vms.map((v) => v.name))),
    networks,
    ...(idlePauseSeconds !== undefined ? { idlePauseSeconds } : {}),
    ...(disks !== undefined ? { disks } : {}),
  };
}

/**
 * A bad value for an error message: short strings quoted, long ones cut, lists and objects named,
 * never rendered whole (a manifest may hold a huge or deeply nested value there).
 */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function str(obj: Record<string, unknown>, key: string, path: string, required: boolean): string | undefined {
  const value = obj[key];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw labError(`"${path}" must be a non-empty string`);
  return value;
}

function num(obj: Record<string, unknown>, key: string, path: string): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw labError(`"${path}" must be a number, got ${show(value)}`);
  return value;
}

export type LabVmStatus =
  /** Restored from the student's saved work (saveLabWork): running, as they left it. */
  | 'resumed'
  /** Restored from a template snapshot: running, shell ready. */
  | 'restored'
  /** Booted from its image: running (its shell comes up shortly). */
  | 'booted'
  /** Not started: its engine or image is not available in this build. */
  | 'unavailable'
  /** Not started: refused (memory, name taken) or failed while starting. */
  | 'failed';

export interface LabVmReport {
  name: string;
  image: string;
  status: LabVmStatus;
  /** One line for people: what happened, or why not. */
  message: string;
  /** The VM's id when it runs. */
  vmId?: string;
}

export interface LabReport {
  lab: string;
  vms: LabVmReport[];
  /** True when every VM of the lab runs. */
  complete: boolean;
}

export interface LoadLabOptions {
  /** Where template snapshots live; without it every VM boots. */
  templates?: TemplateStore;
  /**
   * After booting a VM that had no template, wait for its ready marker and save a template so the
   * next load restores it. Off by default (it costs a wait for the shell).
   */
  makeTemplates?: boolean;
  /** How long makeTemplates waits for a shell; 120 s by default. */
  readyTimeoutMs?: number;
  /** Stop and delete existing VMs that carry a lab VM's name first: one reload gives a clean lab. */
  replace?: boolean;
  /**
   * Where saveLabWork kept the student's VMs. A VM with saved work there is restored from it
   * (identity kept) instead of from the template: the student chose to keep their work.
   */
  work?: TemplateStore;
  /**
   * True when the persistent disk of lab VM `name` already holds files (the page looks at its
   * overlay's size): such a VM boots with its disk at once, without first trying its template
   * (made for an empty disk, it would be refused after a download and a decode). A wrong answer
   * costs only time: a refused template still leads to a boot.
   */
  diskHoldsFiles?: (name: string) => Promise<boolean>;
}

/** Creates and starts every VM of the lab, in parallel; never throws for one VM's failure. */
export async function loadLab(hv: Hypervisor, lab: Lab, options: LoadLabOptions = {}): Promise<LabReport> {
  // Networks are named after the lab, so two labs (or a reload) do not share a switch.
  for (const net of lab.networks) {
    const name = labNetworkName(lab, net.name);
    if (hv.listNetworks().some((n) => n.name === name)) continue;
    hv.createNetwork(name, { subnet: net.subnet, dhcp: net.dhcp, ...(net.internet !== undefined ? { internet: net.internet } : {}) });
  }
  if (lab.disks === false) hv.withoutDisks(lab.vms.map((vm) => vm.name));
  const vms = await Promise.all(lab.vms.map((vm) => loadLabVm(hv, lab, vm, options)));
  return { lab: lab.name, vms, complete: vms.every((v) => RUNNING.includes(v.status)) };
}

const RUNNING: readonly LabVmStatus[] = ['resumed', 'restored', 'booted'];

/** The hypervisor's name for a lab network. */
export function labNetworkName(lab: Lab, network: string): string {
  return `${lab.name}.${network}`.slice(0, 63);
}

/** The key of a lab VM's saved work in a store. */
export function workKey(lab: Lab, vmName: string): string {
  return `work-${lab.name}-${vmName}`;
}

export interface SavedWork {
  name: string;
  saved: boolean;
  message: string;
}

/**
 * Snapshots every running or paused VM of the lab into `store`, so that the next loadLab with
 * `work: store` resumes them as they are (a page reload that keeps the student's work).
 */
export async function saveLabWork(hv: Hypervisor, lab: Lab, store: TemplateStore): Promise<SavedWork[]> {
  return Promise.all(
    lab.vms.map(async (spec): Promise<SavedWork> => {
      if (!hv.has(spec.name)) return { name: spec.name, saved: false, message: 'not running' };
      const state = hv.get(spec.name).state;
      if (state !== 'running' && state !== 'paused') return { name: spec.name, saved: false, message: `it is ${state}` };
      try {
        await store.put(workKey(lab, spec.name), await hv.snapshot(spec.name));
        return { name: spec.name, saved: true, message: 'saved' };
      } catch (error) {
        return { name: spec.name, saved: false, message: messageOf(error) };
      }
    }),
  );
}

/** Forgets the saved work of every VM of the lab: the next load starts clean. */
export async function discardLabWork(lab: Lab, store: TemplateStore): Promise<void> {
  await Promise.all(lab.vms.map((spec) => store.delete(workKey(lab, spec.name))));
}

async function loadLabVm(hv: Hypervisor, lab: Lab, spec: LabVm, options: LoadLabOptions): Promise<LabVmReport> {
  const report = (status: LabVmStatus, message: string, vmId?: string): LabVmReport => ({
    name: spec.name,
    image: spec.image,
    status,
    message,
    ...(vmId ? { vmId } : {}),
  });
  try {
    const image = hv.image(spec.image);
    if (!image) return report('unavailable', `not started: image '${spec.image}' is not in the image manifest (not built yet?)`);
    if (hv.has(spec.name)) {
      if (!options.replace) return report('failed', `a VM named '${spec.name}' already exists`);
      await removeVm(hv, spec.name);
    }
    const schedule = {
      ...(spec.weight !== undefined ? { weight: spec.weight } : {}),
      ...(spec.capPercent !== undefined ? { capPercent: spec.capPercent } : {}),
    };
    const net = spec.net ? { network: labNetworkName(lab, spec.net.network), ...(spec.net.ip ? { ip: spec.net.ip } : {}) } : {};
    const saved = options.work ? await options.work.get(workKey(lab, spec.name)) : undefined;
    if (saved) {
      try {
        const vm = await hv.importSnapshot(saved, { name: spec.name, identity: 'keep', ...schedule, ...net, decodeInHost: true });
        return report('resumed', 'restored the saved work', vm.id);
      } catch (error) {
        if (!(error instanceof HypervisorError && error.code === 'bad-snapshot')) throw error;
        await options.work!.delete(workKey(lab, spec.name)); // unreadable: start clean instead
      }
    }
    // A template has no network card (and its guest no address): a networked VM boots. A VM with
    // a persistent disk uses a template made with an empty disk of that base (its key says so),
    // which fits only while the VM's disk holds nothing of its own: otherwise it boots and mounts
    // its disk as it is.
    const diskBase = hv.diskBaseOf(spec.name, image);
    let diskHasFiles = diskBase !== undefined && !hv.diskWillBeEmptied(spec.name) && (await options.diskHoldsFiles?.(spec.name).catch(() => false)) === true;
    const key = options.templates && !spec.net ? await templateKey(image, spec.memoryMiB ?? image.memoryMiB, diskBase) : undefined;
    const template = key && !diskHasFiles ? await options.templates!.get(key) : undefined;
    if (template) {
      try {
        // The VM's worker inflates and checks the file: the page's thread stays free, VMs decode in parallel.
        const vm = await hv.importSnapshot(template, { name: spec.name, identity: 'new', ...schedule, decodeInHost: true });
        return report('restored', `restored from template ${key}`, vm.id);
      } catch (error) {
        if (!(error instanceof HypervisorError && error.code === 'bad-snapshot')) throw error;
        diskHasFiles = diskBase !== undefined && error.message.includes(DISK_KEPT_MESSAGE);
        // A template this build cannot read is stale: drop it and boot instead.
        if (!diskHasFiles) await options.templates!.delete(key!);
      }
    }
    const vm = await hv.create({ image: spec.image, name: spec.name, ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}), ...schedule, ...net });
    await hv.start(vm.id);
    if (diskHasFiles) return report('booted', 'booted from its image with its disk (its disk holds files of its own)', vm.id);
    // Templates are saved only from a disk-less boot: one booted with a disk would carry that disk's files.
    if (!options.makeTemplates || !key || diskBase) return report('booted', 'booted from its image', vm.id);
    try {
      await hv.waitUntilReady(vm.id, options.readyTimeoutMs ?? 120_000);
      await options.templates!.put(key, await hv.snapshot(vm.id));
      return report('booted', `booted from its image; saved template ${key}`, vm.id);
    } catch (error) {
      return report('booted', `booted from its image; no template saved: ${messageOf(error)}`, vm.id);
    }
  } catch (error) {
    const unavailable = error instanceof HypervisorError && error.code === 'engine-unavailable';
    return report(unavailable ? 'unavailable' : 'failed', `not started: ${messageOf(error)}`);
  }
}

async function removeVm(hv: Hypervisor, name: string): Promise<void> {
  const state = hv.get(name).state;
  if (state === 'booting' || state === 'running' || state === 'paused') await hv.stop(name);
  await hv.delete(name);
}

/** The report as lines for a terminal or a status bar. */
export function formatLabReport(report: LabReport): string {
  const lines = report.vms.map((v) => `${v.name} (${v.image}): ${v.status}: ${v.message}`);
  const running = report.vms.filter((v) => RUNNING.includes(v.status)).length;
  return [`lab ${report.lab}: ${running} of ${report.vms.length} VMs running`, ...lines].join('\n');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
