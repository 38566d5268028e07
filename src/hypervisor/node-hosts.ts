// VM hosts for Node: each one a node:worker_threads worker running src/worker/node-entry.ts.
// Kept apart from the rest of the hypervisor because it imports node:worker_threads.

import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startNodeVmHost } from '../worker/node-client.js';
import type { NodeVmHostData } from '../worker/node-entry.js';
import type { HostConnection, HostFactory } from './host-port.js';
import { remoteHostConnection } from './remote-host.js';

export interface NodeHostConnection extends HostConnection {
  /** The worker itself (tests terminate it to show that its VMs crash alone). */
  readonly worker: Worker;
}

/** A HostFactory that starts worker_threads workers. */
export function nodeWorkerHosts(data: NodeVmHostData = {}, started?: (connection: NodeHostConnection) => void): HostFactory {
  return async (index) => {
    const handle = startNodeVmHost(data);
    const connection: NodeHostConnection = {
      ...remoteHostConnection(handle, `worker ${index + 1}`),
      worker: handle.worker,
    };
    started?.(connection);
    return connection;
  };
}

/** One host per core of this machine (Node 20 has no navigator.hardwareConcurrency). */
export function nodePoolSize(): number {
  return Math.max(1, availableParallelism());
}
