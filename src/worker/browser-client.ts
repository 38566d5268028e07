// Starts a VM-host Web Worker from the page and returns its comlink handle. The one launcher of
// the page: browserWorkerHosts() and the page's PageWorkerHosts (src/ui/page-hosts.ts) both start
// their workers here, as Node starts its own with startNodeVmHost() (node-client.ts).
import { releaseProxy, wrap, type Remote } from 'comlink';
import type { VmHost } from './vm-host.js';

export interface BrowserVmHost {
  host: Remote<VmHost>;
  /** The worker itself (the page ends one for real to show that its VMs crash alone). */
  worker: Worker;
  /** Called when the worker itself fails (its script did not load, or it threw outside a call). */
  onError(listener: (message: string) => void): void;
  /** Releases the proxy and terminates the worker (and every VM in it). */
  close(): void;
}

/** `index`: the pool slot, for the worker's name in the browser's task manager and devtools. */
export function startBrowserVmHost(index = 0): BrowserVmHost {
  // This exact `new Worker(new URL(...), { type: 'module' })` shape is what vite bundles as a worker.
  const worker = new Worker(new URL('./browser-entry.js', import.meta.url), { type: 'module', name: `tabvisor-vm-host-${index + 1}` });
  const host = wrap<VmHost>(worker);
  const errorListeners: Array<(message: string) => void> = [];
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    const message = event.message || 'the VM-host worker failed to start';
    for (const l of errorListeners) l(message);
  });
  return {
    host,
    worker,
    onError: (listener) => errorListeners.push(listener),
    close: () => {
      host[releaseProxy]();
      worker.terminate();
    },
  };
}
