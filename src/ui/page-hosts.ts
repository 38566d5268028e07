// The page's VM hosts: one Web Worker per pool slot (src/worker/browser-entry.ts), like
// browserWorkerHosts(), but the page keeps each Worker so that it can end one for real: a
// terminated worker takes its VMs with it, and the hypervisor marks exactly those VMs crashed.
import { releaseProxy, wrap } from 'comlink';
import type { HostFactory } from '../hypervisor/host-port.js';
import { remoteHostConnection } from '../hypervisor/remote-host.js';
import type { VmHost } from '../worker/vm-host.js';

export class PageWorkerHosts {
  private readonly workers = new Map<number, { worker: Worker; fail: (message: string) => void }>();

  readonly factory: HostFactory = async (index) => {
    // This `new Worker(new URL(...), { type: 'module' })` shape is what vite bundles as a worker.
    const worker = new Worker(new URL('../worker/browser-entry.js', import.meta.url), { type: 'module', name: `tabvisor-vm-host-${index + 1}` });
    const host = wrap<VmHost>(worker);
    const listeners: Array<(message: string) => void> = [];
    const fail = (message: string): void => {
      for (const listener of listeners.splice(0)) listener(message);
    };
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      fail(event.message || 'the VM-host worker failed');
    });
    this.workers.set(index, { worker, fail });
    return remoteHostConnection(
      {
        host,
        onError: (listener) => listeners.push(listener),
        close: () => {
          this.workers.delete(index);
          host[releaseProxy]();
          worker.terminate();
        },
      },
      `worker ${index + 1}`,
    );
  };

  /**
   * Ends the worker of slot `index` at once, as a crash of the worker would: the browser stops it
   * mid-instruction, and a worker ended this way sends no event, so the death is reported here.
   */
  terminate(index: number, reason: string): void {
    const entry = this.workers.get(index);
    if (!entry) throw new Error(`no worker runs in slot ${index}`);
    this.workers.delete(index);
    entry.worker.terminate();
    entry.fail(reason);
  }
}
