// A full garbage collection on request, in a Node worker: V8's `gc` function, made available
// without starting Node with --expose-gc (the flag is set at run time; a new context sees it).
// VmHost.reclaimMemory calls it so that the old core's wasm memory is returned at once.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function nodeCollector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
  } catch {
    return undefined;
  }
}
