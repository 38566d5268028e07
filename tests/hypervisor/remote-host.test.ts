// The connection to a VM host in a worker: calls fail when the worker dies, and a finished call
// keeps nothing alive (the soak found every snapshot's machine state retained, ~10 MiB each,
// because each call raced against one long-lived "worker died" promise).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { remoteHostConnection, type RemoteHostHandle } from '../../src/hypervisor/remote-host.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function fakeHandle(saveState: () => Promise<Uint8Array>): { handle: RemoteHostHandle; die: (why: string) => void } {
  let onError: (message: string) => void = () => {};
  const host = { saveState } as unknown as RemoteHostHandle['host'];
  return {
    handle: { host, onError: (l) => { onError = l; }, close: () => {} },
    die: (why) => onError(why),
  };
}

describe('remoteHostConnection', () => {
  it('keeps no reference to a finished call\'s result', async () => {
    const { handle } = fakeHandle(async () => new Uint8Array(1 << 20));
    const { port } = remoteHostConnection(handle, 'worker 1');
    let ref: WeakRef<Uint8Array> | undefined;
    await (async () => {
      ref = new WeakRef(await port.saveState('vm-1'));
    })();
    for (let i = 0; i < 5 && ref!.deref() !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      gc();
    }
    expect(ref!.deref()).toBeUndefined();
  });

  it('fails a call in flight when the worker dies, and later calls at once', async () => {
    const { handle, die } = fakeHandle(() => new Promise<Uint8Array>(() => {}));
    const { port } = remoteHostConnection(handle, 'worker 2');
    const pending = port.saveState('vm-1');
    die('it exited (code 1)');
    await expect(pending).rejects.toThrow('worker 2 died: it exited (code 1)');
    await expect(port.saveState('vm-1')).rejects.toThrow('worker 2 died: it exited (code 1)');
  });
});
