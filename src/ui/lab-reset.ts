// Resetting in a lab: one VM back to its template (the pre-booted snapshot the lab started from),
// or the whole lab back to how it loaded (every VM removed; the caller loads the lab again).
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import type { Lab } from '../hypervisor/lab.js';
import { templateKey, type TemplateStore } from '../hypervisor/template-store.js';

/**
 * Puts the lab VM `vmId` back to its template, keeping its identity and panel: 'template' when a
 * template was restored, 'image' when there is none (a networked VM, a template not made yet) and
 * it booted its image again instead.
 */
export async function resetVmToTemplate(hv: Hypervisor, lab: Lab, vmId: string, templates: TemplateStore): Promise<'template' | 'image'> {
  const vm = hv.get(vmId);
  const spec = lab.vms.find((v) => v.name === vm.name);
  const image = hv.image(vm.image);
  // A VM with a persistent disk resets by booting its image with the disk emptied: its template
  // (made with an empty disk) would not be restored over a disk that holds the student's files.
  const key = spec && image && !spec.net && !hv.givesDisk(vm.name, image) ? await templateKey(image, spec.memoryMiB ?? image.memoryMiB) : undefined;
  const template = key ? await templates.get(key) : undefined;
  if (template) {
    await hv.restore(vmId, template);
    return 'template';
  }
  await hv.reset(vmId);
  return 'image';
}

/** Stops and deletes every VM (the lab's, clones, imports, new ones): the lab loads again after. */
export async function removeAllVms(hv: Hypervisor): Promise<void> {
  for (const vm of hv.list()) {
    if (vm.state === 'booting' || vm.state === 'running' || vm.state === 'paused') await hv.stop(vm.id).catch(() => undefined);
    await hv.delete(vm.id);
  }
}
