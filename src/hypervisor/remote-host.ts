// A VM host in another thread (browser Worker or node:worker_threads), reached through comlink.
// comlink leaves a call pending forever when the worker dies, so every call here also loses a
// race against the worker's death: a dead worker fails its calls, and the hypervisor marks its
// VMs crashed instead of waiting on them.

import { proxy, transfer, type Remote } from 'comlink';
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
  // The calls in flight, each failed when the worker dies. Not Promise.race against one
  // long-lived "death" promise: every race leaves a reaction on it that keeps the call's result
  // (a whole machine state for saveState) alive as long as the worker lives.
  const inFlight = new Set<(error: Error) => void>();
  const rejectAll = (error: Error): void => {
    for (const fail of [...inFlight]) fail(error);
    inFlight.clear();
  };
  let closing = false;

  handle.onError((message) => {
    if (closing || deathReason !== undefined) return;
    deathReason = message;
    rejectAll(new Error(`${label} died: ${message}`));
    for (const listener of deathListeners.splice(0)) listener(message);
  });

  const guard = <T>(call: () => Promise<T>): Promise<T> => {
    if (deathReason !== undefined) return Promise.reject(new Error(`${label} died: ${deathReason}`));
    // Called now (calls keep their order); a host in this thread may answer with a plain value.
    let answer: Promise<T>;
    try {
      answer = Promise.resolve(call());
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      inFlight.add(reject);
      answer.then(
        (value) => {
          inFlight.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          inFlight.delete(reject);
          reject(error);
        },
      );
    });
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
    // The files' bytes move to the worker (transferred), not copied.
    putExchangeFiles: (id, dir, files) =>
      guard(() => remote.putExchangeFiles(id, dir, transfer(files, [...new Set(files.map((f) => f.bytes.buffer as ArrayBuffer))]))),
    takeFromExchange: (id, path) => guard(() => remote.takeFromExchange(id, path)),
    removeFromExchange: (id, path) => guard(() => remote.removeFromExchange(id, path)),
    saveStateLive: (id, options) => guard(() => remote.saveStateLive(id, options)),
    snapshotFile: (id, metadata, options) => guard(() => remote.snapshotFile(id, metadata, options)),
    restoreLive: (id, state, file) => guard(() => remote.restoreLive(id, transfer(state, [state.buffer]), file)),
    reclaimMemory: (id) => guard(() => remote.reclaimMemory(id)),
    migrateOut: (id, port, hello, options) => guard(() => remote.migrateOut(id, transfer(port, [port]), hello, options)),
    acceptMigration: (request, port) => guard(() => remote.acceptMigration(request, transfer(port, [port]))),
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
