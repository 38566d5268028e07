// A failed v86 restore leaves the running guest as it was (issue 12, defects 4 and 5): malformed
// states (bad frame, another memory size, state fields v86 chokes on) are refused with
// BadStateError, and after each the booted guest still answers on its console.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Engine, ImageEntry } from '../../src/engines/engine.js';
import { NodeAssetLoader, PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { BadStateError, createEngine } from '../../src/engines/create.js';
import { stateMemoryBytes } from '../../src/engines/state-memory.js';

const assets = new NodeAssetLoader();
const manifest = JSON.parse(readFileSync(`${PROJECT_ROOT}/images/manifest.json`, 'utf8')) as { images: ImageEntry[] };
const image = manifest.images.find((i) => i.name === 'x86-busybox')!;

/** Rebuilds a v86 state file with its info block (JSON) changed by `edit`; buffers are kept. */
function editInfo(good: Uint8Array, edit: (info: { buffer_infos: unknown[]; state: unknown[] }) => void): Uint8Array {
  const dv = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const infoLength = dv.getInt32(12, true);
  const info = JSON.parse(new TextDecoder().decode(good.subarray(16, 16 + infoLength)));
  edit(info);
  const json = new TextEncoder().encode(JSON.stringify(info));
  const buffers = good.subarray((16 + infoLength + 3) & ~3);
  const start = (16 + json.length + 3) & ~3;
  const out = new Uint8Array(start + buffers.length);
  out.set(good.subarray(0, 16));
  out.set(json, 16);
  out.set(buffers, start);
  const ov = new DataView(out.buffer);
  ov.setInt32(8, out.length, true);
  ov.setInt32(12, json.length, true);
  return out;
}

function editHeader(good: Uint8Array, offset: number, v: number): Uint8Array {
  const b = good.slice();
  new DataView(b.buffer).setInt32(offset, v, true);
  return b;
}

const MiB = 1024 * 1024;
const BAD: [string, (good: Uint8Array) => Uint8Array][] = [
  ['a truncated header', (g) => g.slice(0, 10)],
  ['a wrong magic', (g) => editHeader(g, 0, 0x1234)],
  ['another version', (g) => editHeader(g, 4, 5)],
  ['a wrong total length', (g) => editHeader(g, 8, g.length + 4)],
  ['a huge info block length', (g) => editHeader(g, 12, 0x7fff_0000)],
  ['an info block that is not JSON', (g) => { const b = g.slice(); b[16] = 0x21; return b; }],
  ['a zstd frame', (g) => { const b = g.slice(); new DataView(b.buffer).setUint32(0, 0xfd2fb528, true); return b; }],
  ['a buffer outside the file', (g) => editInfo(g, (i) => { (i.buffer_infos[0] as { offset: number }).offset = 1 << 30; })],
  ['2047 MiB of RAM in a VM of less', (g) => editInfo(g, (i) => { i.state[0] = 2047 * MiB; })],
  ['a CPU state cut short', (g) => editInfo(g, (i) => { i.state.length = 30; })],
  ['a device state replaced by a number', (g) => editInfo(g, (i) => { i.state[40] = 5; })],
  // Same shape, but the segment offset table (CPU state field 2) is longer than the CPU's: v86
  // throws inside its set_state after it changed the CPU, so the engine must put the machine back.
  ['a segment table v86 throws on half-way', (g) => editInfo(g, (i) => {
    const id = (i.state[2] as { buffer_id: number }).buffer_id;
    (i.buffer_infos[id] as { length: number }).length *= 2;
  })],
];

describe('refused restores leave the running v86 guest alive', () => {
  let engine: Engine;
  let out = '';
  let good: Uint8Array;
  const waitFor = (re: RegExp, from: number): Promise<void> => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = (): void => {
      if (re.test(out.slice(from))) resolve();
      else if (Date.now() - t0 > 90_000) reject(new Error(`no ${String(re)} in:\n${out.slice(-1500)}`));
      else setTimeout(poll, 20);
    };
    poll();
  });

  beforeAll(async () => {
    engine = await createEngine({
      engine: 'v86', memoryMiB: image.memoryMiB, firmware: await assets.load(image.firmware!),
      vgaBios: image.vgaBios ? await assets.load(image.vgaBios) : undefined, kernel: await assets.load(image.kernel),
      initrd: image.initrd ? await assets.load(image.initrd) : undefined, cmdline: image.cmdline,
    }, assets);
    engine.onConsole((b) => { out += Buffer.from(b).toString('latin1'); });
    await engine.start();
    await waitFor(/\/ # /, 0);
    await engine.pause();
    good = await engine.saveState();
    await engine.resume();
  }, 180_000);

  afterAll(async () => {
    await engine?.destroy();
  });

  it('stateMemoryBytes reads the memory size of a v86 state', () => {
    expect(stateMemoryBytes('v86', good)).toBe(image.memoryMiB * MiB);
  });

  let n = 0;
  it.each(BAD)('refuses %s; the guest still answers', async (_what, make) => {
    const bad = make(good);
    await engine.pause();
    await expect(engine.loadState(bad)).rejects.toBeInstanceOf(BadStateError);
    await engine.resume();
    const k = ++n;
    const from = out.length;
    engine.sendConsole(`echo alive-$((${k}*1000+1))\n`);
    await waitFor(new RegExp(`alive-${k * 1000 + 1}`), from);
  }, 120_000);

  it('the good state (saved earlier, before all the typing) still loads and runs', async () => {
    await engine.pause();
    await engine.loadState(good);
    await engine.resume();
    const from = out.length;
    engine.sendConsole('echo back-$((2+3))\n');
    await waitFor(/back-5/, from);
  }, 120_000);

  it('a state made for another memory size is refused before v86 starts', async () => {
    const other = await createEngine({ engine: 'v86', memoryMiB: image.memoryMiB * 2, state: good }, assets);
    await expect(other.start()).rejects.toBeInstanceOf(BadStateError);
    await other.destroy();
  });
});
