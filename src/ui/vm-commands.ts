// What the user asks of one VM, and of the page's VM list: lifecycle actions, snapshot and
// restore, clone, export and import, new VMs, weight and cap, the memory budget, and the figures.
// Each goes through the Hypervisor's public API; a refusal becomes the page's notice.
import { HypervisorError } from '../hypervisor/errors.js';
import type { VmSummary } from '../hypervisor/hypervisor.js';
import { FigureHistory } from './figures.js';
import { pageMessage } from './page-wording.js';
import { BUDGET_KEY, formatSize, MiB, type PageState } from './page-state.js';
import { budgetProblem, capProblem, weightProblem } from './schedule-limits.js';
import type { VmUiAction } from './vm-view.js';

const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A lifecycle action, snapshot, restore (the last snapshot) or clone of one VM. */
export async function vmAction(p: PageState, vmId: string, action: Exclude<VmUiAction, 'export'>): Promise<void> {
  await p.attempt(vmId, action, async (hv) => {
    switch (action) {
      case 'start': await hv.start(vmId); p.note(vmId, `started ${p.time()}`); break;
      case 'pause': await hv.pause(vmId); p.note(vmId, `paused ${p.time()}: what you type waits for Resume`); break;
      case 'resume': await hv.resume(vmId); p.note(vmId, `resumed ${p.time()}`); break;
      case 'stop': await hv.stop(vmId); p.note(vmId, `stopped ${p.time()}`); break;
      case 'reset': await hv.reset(vmId); p.note(vmId, `reset ${p.time()}: booting again`); break;
      case 'delete': await hv.delete(vmId); break;
      case 'snapshot': {
        const bytes = await hv.snapshot(vmId);
        p.snapshots.set(vmId, { bytes, at: new Date(p.clock()).toISOString() });
        p.info(`Snapshot of ${hv.get(vmId).name} taken (${formatSize(bytes.length)})`);
        break;
      }
      case 'restore': {
        const snap = p.snapshots.get(vmId);
        if (!snap) throw new HypervisorError('bad-argument', `VM '${hv.get(vmId).name}' has no snapshot yet: take one first`);
        await hv.restore(vmId, snap.bytes);
        const at = new Date(snap.at).toTimeString().slice(0, 8);
        p.note(vmId, `restored snapshot ${at}`);
        p.greeter.arrive(vmId, 'restore');
        p.info(`${hv.get(vmId).name} restored to its snapshot of ${at}`);
        break;
      }
      case 'clone': {
        const copy = await hv.clone(vmId);
        p.messages.set(copy.name, `a clone of ${hv.get(vmId).name}`);
        p.greeter.arrive(copy.id, 'clone');
        break;
      }
    }
  });
}

/** A snapshot file of the VM, for download. */
export async function exportVm(p: PageState, vmId: string): Promise<{ fileName: string; bytes: Uint8Array } | undefined> {
  let file: { fileName: string; bytes: Uint8Array } | undefined;
  await p.attempt(vmId, 'export', async (hv) => {
    file = await hv.exportSnapshot(vmId);
  });
  return file;
}

/** A new running VM from a snapshot file the user uploaded. */
export async function importVm(p: PageState, bytes: Uint8Array, fileName: string): Promise<VmSummary | undefined> {
  const hv = p.hv;
  if (!hv) return undefined;
  try {
    const name = importName(p, fileName);
    const vm = await hv.importSnapshot(bytes, { identity: 'new', ...(name ? { name } : {}) });
    p.messages.set(vm.name, `imported from ${fileName}`);
    p.greeter.arrive(vm.id, 'import');
    p.info(`Imported ${fileName} as ${vm.name}`);
    p.keeper?.touched();
    return vm;
  } catch (error) {
    p.error(error);
    return undefined;
  } finally {
    p.refresh();
  }
}

/** Creates and boots a VM; returns the refusal's text when the hypervisor says no. */
export async function createVm(p: PageState, request: { image: string; name?: string; memoryMiB?: number; weight?: number; capPercent?: number }): Promise<string | undefined> {
  const hv = p.hv;
  if (!hv) return 'the lab is not loaded';
  const problem = weightProblem(request.weight) ?? capProblem(request.capPercent);
  if (problem) return problem;
  try {
    const vm = await hv.create({
      image: request.image,
      ...(request.name ? { name: request.name } : {}),
      ...(request.memoryMiB !== undefined ? { memoryMiB: request.memoryMiB } : {}),
      ...(request.weight !== undefined ? { weight: request.weight } : {}),
      ...(request.capPercent !== undefined ? { capPercent: request.capPercent } : {}),
    });
    p.messages.set(vm.name, 'booted from its image');
    p.refresh();
    await hv.start(vm.id);
    p.keeper?.touched();
    p.clearError();
    return undefined;
  } catch (error) {
    // The dialog shows the refusal; the bar behind it stays as it was.
    return pageMessage(error);
  } finally {
    p.refresh();
  }
}

/** Changes a VM's CPU weight and cap (undefined cap: none), within the page's ranges. */
export async function setVmSchedule(p: PageState, vmId: string, weight: number, capPercent: number | undefined): Promise<string | undefined> {
  const problem = weightProblem(weight) ?? capProblem(capPercent);
  if (problem) {
    p.view.notice = { kind: 'error', text: problem };
    p.refresh();
    return problem;
  }
  let refusal: string | undefined;
  await p.attempt(vmId, 'schedule', async (hv) => {
    const result = await hv.setSchedule(vmId, { weight, capPercent });
    const cap = capPercent === undefined ? 'no CPU cap' : `a CPU cap of ${capPercent}%`;
    p.info(`${result.name} now has weight ${weight} and ${cap}${result.enforced ? '' : ' (the weight counts only when VMs share a worker)'}`);
  });
  if (p.view.notice?.kind === 'error') refusal = p.view.notice.text;
  return refusal;
}

/** Asks a VM's guest to hold `mib` MiB in its balloon (0 gives it all back to the guest). */
export async function setVmBalloon(p: PageState, vmId: string, mib: number): Promise<void> {
  await p.attempt(vmId, 'balloon', async (hv) => {
    await hv.setBalloon(vmId, mib);
    p.info(`${hv.get(vmId).name} was asked to hold ${mib} MiB in its balloon (the guest gives what it can; the figure follows)`);
  });
}

/** Gives the memory a VM's guest freed back to the host (hv.reclaimMemory). */
export async function reclaimVmMemory(p: PageState, vmId: string): Promise<void> {
  await p.attempt(vmId, 'reclaim', async (hv) => {
    const r = await hv.reclaimMemory(vmId);
    const kept = (r.pagesKept * 4096) / MiB;
    const total = (r.pagesTotal * 4096) / MiB;
    p.info(`${hv.get(vmId).name} gave its freed memory back: it holds ${kept.toFixed(0)} of its ${total.toFixed(0)} MiB (paused ${r.pauseMs.toFixed(1)} ms)`);
  });
}

/** Changes the memory budget of the page's VMs (MiB); remembered for the next load. */
export function setMemoryBudget(p: PageState, mib: number): string | undefined {
  const hv = p.hv;
  const problem = budgetProblem(mib) ?? (hv ? undefined : 'the lab is not loaded');
  try {
    if (problem) throw new Error(problem);
    hv!.memory.setTotal(mib * MiB);
  } catch (error) {
    p.error(error);
    return pageMessage(error);
  }
  p.view.budgetMiB = mib;
  p.options.settings.setItem(BUDGET_KEY, String(mib));
  p.info(`The memory budget is now ${mib} MiB`);
  p.refresh();
  return undefined;
}

/** Samples CPU share, MIPS and memory of every live VM (once a second in the page). */
export async function sampleFigures(p: PageState): Promise<void> {
  const hv = p.hv;
  if (!hv) return;
  await Promise.all(
    hv.list().map(async (vm) => {
      let history = p.figures.get(vm.id);
      if (!history) p.figures.set(vm.id, (history = new FigureHistory()));
      try {
        const s = await hv.stats(vm.id);
        history.push({ cpuShare: s.cpuShare, mips: s.mips, memoryBytes: s.memoryBytes });
        history.balloonBytes = s.balloonBytes;
      } catch {
        history.push({ cpuShare: 0, mips: 0, memoryBytes: 0 }); // it just stopped or crashed
      }
    }),
  );
  p.refresh();
}

/** An imported VM is named after the VM in the file (`riscv-2026-...tvsnap` → riscv, riscv-copy-1). */
function importName(p: PageState, fileName: string): string | undefined {
  const base = /^([A-Za-z0-9][A-Za-z0-9._-]*?)(-\d{4}-\d\d-\d\dT[\d-]+Z)?\.tvsnap$/i.exec(fileName)?.[1];
  if (!base || !VM_NAME.test(base) || !p.hv) return undefined;
  if (!p.hv.has(base)) return base;
  for (let n = 1; ; n++) if (!p.hv.has(`${base}-copy-${n}`)) return `${base}-copy-${n}`;
}

