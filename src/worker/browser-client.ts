// Starts a VM-host Web Worker from the page and returns its comlink handle.
import { releaseProxy, wrap, type Remote } from 'comlink';
import type { VmHost } from './vm-host.js';

export interface BrowserVmHost {
  host: Remote<VmHost>;
  /** The worker's VmHost time-slices its VMs (weights and caps through setSchedule). */
  timeSlices: true;
  /** Called when the worker itself fails (its script did not load, or it threw outside a call). */
  onError(listener: (message: string) => void): void;
  /** Releases the proxy and terminates the worker (and every VM in it). */
  close(): void;
}

export function startBrowserVmHost(): BrowserVmHost {
  // This exact `new Worker(new URL(...), { type: 'module' })` shape is what vite bundles as a worker.
  const worker = new Worker(new URL('./browser-entry.js', import.meta.url), { type: 'module', name: 'tabvisor-vm-host' });
  const host = wrap<VmHost>(worker);
  const errorListeners: Array<(message: string) => void> = [];
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    const message = event.message || 'the VM-host worker failed to start';
    for (const l of errorListeners) l(message);
  });
  return {
    host,
    timeSlices: true,
    onError: (listener) => errorListeners.push(listener),
    close: () => {
      host[releaseProxy]();
      worker.terminate();
    },
  };
}
