// VM hosts for the page: each one a Web Worker running src/worker/browser-entry.ts.

import { startBrowserVmHost } from '../worker/browser-client.js';
import type { HostFactory } from './host-port.js';
import { remoteHostConnection } from './remote-host.js';

/** A HostFactory that starts Web Workers. */
export function browserWorkerHosts(): HostFactory {
  return async (index) => remoteHostConnection(startBrowserVmHost(index), `worker ${index + 1}`);
}
