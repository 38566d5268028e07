// Entry point of the VM-host Web Worker in the page: one VmHost, exposed through comlink.
// The page starts it with startBrowserVmHost() (browser-client.ts).
import { expose } from 'comlink';
import { FetchAssetLoader } from '../engines/assets-browser.js';
import { createEngine } from '../engines/create.js';
import { createSlicedEngine } from './sliced-engine.js';
import { VmHost } from './vm-host.js';
import { warmEngines } from './warm-engines.js';
import { opfsDiskOpener } from './worker-disks.js';

// The app's root URL: images/ and node_modules/v86/build/ are served under it (vite.config.ts).
const appRoot = new URL(import.meta.env.BASE_URL, self.location.origin);

const assets = new FetchAssetLoader(appRoot);
// comlink's default endpoint is the worker's global scope.
expose(new VmHost({ assets, createEngine, createSlicedEngine, openDisk: opfsDiskOpener(assets) }));
warmEngines(assets);
