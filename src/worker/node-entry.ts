// Entry point of the VM-host worker in Node (node:worker_threads): the same VmHost as in the
// page, exposed through comlink's Node adapter. Start it with startNodeVmHost() (node-client.ts).
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { parentPort, workerData } from 'node:worker_threads';
import { NodeAssetLoader } from '../engines/assets-node.js';
import { createEngine } from '../engines/create.js';
import { createSlicedEngine } from './sliced-engine.js';
import { nodeDiskOpener } from './node-disks.js';
import { VmHost } from './vm-host.js';
import { nodeCollector } from './node-gc.js';

/** What the parent passes as workerData. */
export interface NodeVmHostData {
  /** Directory that repo-relative asset paths are resolved against; the project root by default. */
  root?: string;
  /** A folder for persistent disks' overlays (VMs created with a disk); none: disks are refused. */
  diskDir?: string;
}

if (!parentPort) throw new Error('node-entry.js runs as a worker_threads worker; use startNodeVmHost()');
const data = (workerData ?? {}) as NodeVmHostData;
const assets = new NodeAssetLoader(data.root);
expose(new VmHost({
  assets, createEngine, createSlicedEngine, collectGarbage: nodeCollector(),
  ...(data.diskDir ? { openDisk: nodeDiskOpener(assets.resolve('.'), data.diskDir) } : {}),
}), nodeEndpoint(parentPort));
