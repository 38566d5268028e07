// Starts a VM-host worker in Node (node:worker_threads) and returns its comlink handle: the
// headless counterpart of browser-client.ts, for the CLI, the hypervisor and tests.
import { releaseProxy, wrap, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { Worker } from 'node:worker_threads';
import type { NodeVmHostData } from './node-entry.js';
import type { VmHost } from './vm-host.js';

export interface NodeVmHost {
  host: Remote<VmHost>;
  worker: Worker;
  /** Called when the worker fails outside a call (e.g. its module did not load) or exits early. */
  onError(listener: (message: string) => void): void;
  /** Destroys every VM, releases the proxy and terminates the worker. */
  close(): Promise<void>;
}

export function startNodeVmHost(data: NodeVmHostData = {}): NodeVmHost {
  const worker = new Worker(new URL('./node-entry.js', import.meta.url), { workerData: data });
  const host = wrap<VmHost>(nodeEndpoint(worker));
  const errorListeners: Array<(message: string) => void> = [];
  let closing = false;
  worker.on('error', (err) => {
    for (const l of errorListeners) l(err.message);
  });
  worker.on('exit', (code) => {
    if (!closing) for (const l of errorListeners) l(`the VM-host worker exited (code ${code})`);
  });
  return {
    host,
    worker,
    onError: (listener) => errorListeners.push(listener),
    close: async () => {
      closing = true;
      try {
        await Promise.race([host.destroyAll(), new Promise((r) => setTimeout(r, 2000))]);
      } catch {
        // The worker may already be gone; terminating it is all that is left to do.
      }
      host[releaseProxy]();
      await worker.terminate();
    },
  };
}
