// A VM host in another thread (browser Worker or node:worker_threads), reached through comlink.
// comlink leaves a call pending forever when the worker dies, so every call here also loses a
// race against the worker's death: a dead worker fails its calls, and the hypervisor marks its
// VMs crashed instead of waiting on them.

import { proxy, type Remote } from 'comlink';
import type { VmHost } from '../worker/vm-host.js';
import type { HostConnection, VmHostPort } from './host-port.js';

export interface RemoteHostHandle {
  host: Remote<VmHost>;
  /** Registers a listener for the worker failing or exiting on its own. */
  onError(listener: (message: string) => void): void;
  /** Ends the worker. */
  close(): void | Promise<void>;
}

export function remoteHostConnection(handle: RemoteHostHandle, label: string): HostConnection {
  const deathListeners: Array<(reason: string) => void> = [];
  let deathReason: string | undefined;
  let rejectAll!: (error: Error) => void;
  const death = new Promise<never>((_, reject) => {
    rejectAll = reject;
  });
  death.catch(() => undefined);
  let closing = false;

  handle.onError((message) => {
    if (closing || deathReason !== undefined) return;
    deathReason = message;
    rejectAll(new Error(`${label} died: ${message}`));
    for (const listener of deathListeners.splice(0)) listener(message);
  });

  const guard = <T>(call: () => Promise<T>): Promise<T> => {
    if (deathReason !== undefined) return Promise.reject(new Error(`${label} died: ${deathReason}`));
    return Promise.race([call(), death]);
  };
  const remote = handle.host;
  const port: VmHostPort = {
    create: (request) => guard(() => remote.create(request)),
    start: (id) => guard(() => remote.start(id)),
    pause: (id) => guard(() => remote.pause(id)),
    resume: (id) => guard(() => remote.resume(id)),
    saveState: (id) => guard(() => remote.saveState(id)),
    loadState: (id, state) => guard(() => remote.loadState(id, state)),
    destroy: (id) => guard(() => remote.destroy(id)),
    sendConsole: (id, data) => guard(() => remote.sendConsole(id, data)),
    stats: (id) => guard(() => remote.stats(id)),
    subscribe: (listener) => guard(() => remote.subscribe(proxy(listener))),
    setSchedule: (id, params) => guard(() => remote.setSchedule(id, params)),
    sendNet: (id, frames) => guard(() => remote.sendNet(id, frames)),
    setBalloon: (id, bytes) => guard(() => remote.setBalloon(id, bytes)),
  };
  return {
    port,
    label,
    onDeath: (listener) => {
      if (deathReason !== undefined) listener(deathReason);
      else deathListeners.push(listener);
    },
    close: async () => {
      closing = true;
      await handle.close();
      // Calls still waiting on the ended worker fail instead of hanging.
      if (deathReason === undefined) {
        deathReason = 'it was closed';
        rejectAll(new Error(`${label} was closed`));
      }
    },
  };
}
