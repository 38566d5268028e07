// The page's VM hosts: one Web Worker per pool slot, started by the same launcher as
// browserWorkerHosts() (startBrowserVmHost, src/worker/browser-client.ts), so they take weights
// and caps like every host. The page also keeps each Worker so that it can end one for real: a
// terminated worker takes its VMs with it, and the hypervisor marks exactly those VMs crashed.
import type { HostFactory } from '../hypervisor/host-port.js';
import { remoteHostConnection } from '../hypervisor/remote-host.js';
import { startBrowserVmHost, type BrowserVmHost } from '../worker/browser-client.js';

export class PageWorkerHosts {
  private readonly workers = new Map<number, { worker: Worker; fail: (message: string) => void }>();

  constructor(private readonly launch: (index: number) => BrowserVmHost = startBrowserVmHost) {}

  readonly factory: HostFactory = async (index) => {
    const started = this.launch(index);
    const listeners: Array<(message: string) => void> = [];
    const fail = (message: string): void => {
      for (const listener of listeners.splice(0)) listener(message);
    };
    started.onError(fail);
    this.workers.set(index, { worker: started.worker, fail });
    return remoteHostConnection(
      {
        host: started.host,
        onError: (listener) => listeners.push(listener),
        close: () => {
          this.workers.delete(index);
          started.close();
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
