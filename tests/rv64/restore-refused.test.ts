// A failed restore leaves the running machine as it was (issue 12, defects 2, 4, 5, 9): a booted
// Linux guest is handed one malformed but well-encoded state after another; each is refused with
// BadStateError (an EngineConfigError, one line), and after each the guest still answers on its
// console. The attack of issue 12 (a core block with privilege 7) and a state claiming more RAM
// than the VM has are among them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadStateError } from '../../src/engines/create.js';
import { NodeAssetLoader } from '../../src/engines/assets-node.js';
import { Rv64Engine } from '../../src/engines/rv64/engine.js';
import { decodeState, encodeState, type StateValue } from '../../src/engines/rv64/state-codec.js';
import { stateMemoryBytes } from '../../src/engines/state-memory.js';
import { coreBuilt, findRv64Image, GuestSession } from './helpers.js';

const image = findRv64Image();
const MAGIC_BYTES = 8;
type Rec = { [k: string]: StateValue };

/** The state with its decoded fields changed by `edit` (still a well-formed encoding). */
function mutate(good: Uint8Array, edit: (s: Rec) => void): Uint8Array {
  const s = decodeState(good.subarray(MAGIC_BYTES)) as Rec;
  edit(s);
  const body = encodeState(s);
  const out = new Uint8Array(MAGIC_BYTES + body.length);
  out.set(good.subarray(0, MAGIC_BYTES));
  out.set(body, MAGIC_BYTES);
  return out;
}

const rec = (v: StateValue | undefined): Rec => v as Rec;
/** Sets a 64-bit slot of the core block (assembly/state.ts F_*; fields start at 0x300). */
function coreField(slot: number, v: bigint): (s: Rec) => void {
  return (s) => {
    const block = (rec(s.core).block as Uint8Array).slice();
    new DataView(block.buffer).setBigUint64(0x300 + slot * 8, v, true);
    rec(s.core).block = block;
  };
}

const BAD: [string, (s: Rec) => void][] = [
  ['core block with privilege 7 (issue 12)', coreField(1, 7n)],
  ['core block with mstatus.MPP = 2 and MPRV', coreField(3, (2n << 32n) | (2n << 34n) | (2n << 11n) | (1n << 17n))],
  ['core block with satp mode 5', coreField(18, 5n << 60n)],
  ['core block with an odd pc', coreField(0, 0x8020_0001n)],
  ['core block with tohost outside RAM', coreField(39, 0x1000n)],
  ['core block of the wrong length', (s) => { rec(s.core).block = new Uint8Array(100); }],
  ['core ABI 99', (s) => { rec(s.core).abi = 99; }],
  ['2047 MiB of RAM in a VM of less', (s) => { rec(s.config).memoryBytes = 2047 * 1024 * 1024; }],
  ['a RAM page past the end', (s) => {
    const ram = rec(s.ram);
    const index = (ram.index as Uint8Array).slice();
    new DataView(index.buffer).setUint32(index.length - 4, 0x7fff_ffff, true);
    ram.index = index;
  }],
  ['RAM pages repeated', (s) => {
    const ram = rec(s.ram);
    const index = (ram.index as Uint8Array).slice();
    index.copyWithin(4, 0, 4);
    ram.index = index;
  }],
  ['RAM data shorter than its index', (s) => { rec(s.ram).data = (rec(s.ram).data as Uint8Array).subarray(0, 4096); }],
  ['a virtio slot twice', (s) => {
    const v = rec(s.devices).virtio as Rec[];
    v[1] = { ...v[0]! };
  }],
  ['devices of version 2', (s) => { rec(s.devices).version = 2; }],
  ['devices missing', (s) => { delete s.devices; }],
  ['a virtqueue ring outside RAM', (s) => {
    const v = rec(s.devices).virtio as Rec[];
    const queues = rec(v[0]!.state).queues as Rec[];
    queues[0] = { ...queues[0]!, ready: true, size: 16, descAddr: '4096' };
  }],
  ['a UART interrupt enable with bits the guest cannot set', (s) => { rec(rec(s.devices).uart).ier = 0xff; }],
  ['a UART receive FIFO of 300 bytes', (s) => { rec(rec(s.devices).uart).rxFifo = new Array(300).fill(65); }],
  ['a UART register that is a string', (s) => { rec(rec(s.devices).uart).lcr = 'x'; }],
  ['a PLIC priority of 99', (s) => { (rec(rec(s.devices).plic).priority as number[])[1] = 99; }],
  ['a PLIC enable bit for source 0', (s) => {
    const enable = rec(rec(s.devices).plic).enable as number[][];
    enable[0]![0] = enable[0]![0]! | 1;
  }],
  ['a PLIC with its arrays cut short', (s) => { (rec(rec(s.devices).plic).pending as boolean[]).length = 3; }],
  ['a virtio status DRIVER_OK without FEATURES_OK', (s) => {
    const v = rec(s.devices).virtio as Rec[];
    rec(v[0]!.state).status = 4;
  }],
  ['virtio driver features that are not a number', (s) => {
    const v = rec(s.devices).virtio as Rec[];
    rec(v[0]!.state).driverFeatures = 'abc';
  }],
  ['a virtqueue size that is a string', (s) => {
    const v = rec(s.devices).virtio as Rec[];
    const queues = rec(v[0]!.state).queues as Rec[];
    queues[0] = { ...queues[0]!, ready: false, size: 'big' };
  }],
  ['an unknown MMU type', (s) => { rec(s.config).mmuType = 'sv57'; }],
  ['deterministic time in the board but not in the core', (s) => { rec(s.config).deterministic = true; }],
  ['another format', (s) => { s.format = 'something-else'; }],
];

describe.runIf(coreBuilt() && image)('refused restores leave the running rv64 guest alive', () => {
  let engine: Rv64Engine;
  let guest: GuestSession;
  let good: Uint8Array;

  beforeAll(async () => {
    engine = new Rv64Engine({
      engine: 'rv64', memoryMiB: image!.memoryMiB, firmware: image!.firmware, kernel: image!.kernel,
      initrd: image!.initrd, cmdline: 'console=ttyS0',
    }, new NodeAssetLoader());
    guest = new GuestSession(engine);
    await engine.start();
    await guest.waitFor(image!.readyMarker);
    await guest.waitFor('/ # ');
    await engine.pause();
    good = await engine.saveState();
    await engine.resume();
  }, 600_000);

  afterAll(async () => {
    await engine?.destroy();
  });

  it('stateMemoryBytes reads the RAM size without loading', () => {
    expect(stateMemoryBytes('rv64', good)).toBe(image!.memoryMiB * 1024 * 1024);
    expect(() => stateMemoryBytes('rv64', good.subarray(0, 20))).toThrow(BadStateError);
  });

  it.each(BAD)('refuses %s; the guest still answers', async (_what, edit) => {
    const bad = mutate(good, edit);
    await engine.pause();
    let error: unknown;
    try {
      await engine.loadState(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BadStateError);
    expect((error as Error).message).toMatch(/^bad snapshot: /);
    expect((error as Error).message).not.toContain('\n');
    await engine.resume();
    expect(await guest.sh('echo alive-$((40+2))')).toContain('alive-42');
  }, 120_000);

  it('the good state still loads after all that', async () => {
    await engine.pause();
    await engine.loadState(good);
    await engine.resume();
    expect(await guest.sh('echo back-$((1+1))')).toContain('back-2');
  }, 120_000);
});
