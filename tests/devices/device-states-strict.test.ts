// Device states from a snapshot are loaded strictly (issue 12): a field that is not what the
// device itself saves is refused, never repaired, and a refused load leaves the device as it was.
import { describe, expect, it } from 'vitest';
import { VirtioConsole } from '../../src/devices/virtio/console.js';
import { VirtioNet } from '../../src/devices/virtio/net.js';
import { MemoryOverlayDisk } from '../../src/devices/backends/disk.js';
import { BufferConsole } from '../../src/devices/backends/console.js';
import { createNetPair } from '../../src/devices/backends/net.js';

type State = Record<string, unknown>;
const clone = (s: object): State => ({ ...(s as State) });

function refuses(load: (s: object) => void, good: object, change: (s: State) => void): void {
  const s = clone(good);
  change(s);
  expect(() => load(s)).toThrow(/state/);
}

describe('virtio-console state', () => {
  const make = (): VirtioConsole => new VirtioConsole(new BufferConsole(), { cols: 100, rows: 30 });
  it('loads its own state and refuses each damaged field, unchanged', () => {
    const dev = make();
    const good = dev.saveState();
    make().loadState(good);
    const cases: ((s: State) => void)[] = [
      (s) => { s.version = 2; },
      (s) => { s.pendingInput = 'abc'; },
      (s) => { s.pendingInput = new Uint8Array((1 << 20) + 1); },
      (s) => { s.cols = -1; },
      (s) => { s.cols = 70000; },
      (s) => { s.rows = 1.5; },
      (s) => { s.rows = '24'; },
      (s) => { s.driverReady = 1; },
    ];
    for (const c of cases) refuses((s) => dev.loadState(s), good, c);
    expect(dev.saveState()).toEqual(good);
  });
});

describe('virtio-net state', () => {
  const mac = new Uint8Array([2, 0, 0, 0, 0, 1]);
  it('refuses bad pending frames instead of dropping them, unchanged', () => {
    const [end] = createNetPair();
    const dev = new VirtioNet(mac, end);
    const good = dev.saveState();
    const frame = new Uint8Array(60);
    new VirtioNet(mac, createNetPair()[0]).loadState({ ...good, pendingFrames: [frame] });
    const cases: ((s: State) => void)[] = [
      (s) => { s.version = 0; },
      (s) => { s.linkUp = 'yes'; },
      (s) => { s.pendingFrames = undefined; },
      (s) => { s.pendingFrames = [new Uint8Array(3)]; },
      (s) => { s.pendingFrames = [frame, 'frame']; },
      (s) => { s.pendingFrames = [new Uint8Array(70000)]; },
      (s) => { s.pendingFrames = Array.from({ length: 257 }, () => frame); },
    ];
    for (const c of cases) refuses((s) => dev.loadState(s), good, c);
    expect(dev.saveState()).toEqual(good);
  });
});

describe('disk overlay state', () => {
  it('refuses duplicate, null and too many chunks', () => {
    const disk = new MemoryOverlayDisk(new Uint8Array(4 * 65536));
    const good = disk.saveState() as State;
    const size = good.chunkSize as number;
    const chunk = (index: number): object => ({ index, data: new Uint8Array(size) });
    const cases: ((s: State) => void)[] = [
      (s) => { s.chunks = [chunk(1), chunk(1)]; },
      (s) => { s.chunks = [null]; },
      (s) => { s.chunks = { length: 1 }; },
      (s) => { s.chunks = Array.from({ length: 5 }, (_, i) => chunk(i % 4)); },
    ];
    for (const c of cases) refuses((s) => disk.loadState(s), good, c);
    disk.loadState({ ...good, chunks: [chunk(3)] });
  });
});
