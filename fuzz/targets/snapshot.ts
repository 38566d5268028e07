// Snapshot files: truncations and bit flips of a real snapshot, and VALID containers (checksums
// recomputed) around hostile payloads: header fields, metadata, section tables, decompression
// bombs, and rv64 engine states mutated field by field (RAM size and pages, core block fields such
// as priv=7, device and virtio-slot records, disk) or byte by byte; foreign and random v86 states.
// Each file goes through readSnapshot (src/snapshot/format.ts), then either into a new Rv64Engine
// (created from the state, then run) or into the loadState of a paused engine that must survive a
// refusal unchanged (rv64 and v86).
// Outcomes: refused bad-snapshot (SnapshotFormatError), refused bad-state (EngineConfigError),
// accepted created / loaded; defects: priv, ram-size-vs-metadata, dup-virtio-slot,
// load-destroys-machine, decompression-bomb.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readSnapshot, SnapshotFormatError, SnapshotWriter, ENGINE_STATE_SECTION } from '../../src/snapshot/format.js';
import { decodeState, encodeState, type StateValue } from '../../src/engines/rv64/state-codec.js';
import { Rv64Engine } from '../../src/engines/rv64/engine.js';
import { V86Engine } from '../../src/engines/v86/engine.js';
import { EngineConfigError } from '../../src/engines/create.js';
import { NodeAssetLoader, PROJECT_ROOT } from '../../src/engines/assets-node.js';
import type { Engine } from '../../src/engines/engine.js';
import { Rng } from '../lib/rng.js';
import { A, li, words, writeElf } from '../lib/rv-asm.js';
import { container, deflateBomb, payload, BOMB_UNIT_BYTES } from '../lib/container.js';
import { clone, hostileNumber, hostileValue, isObj, mutateRandomLeaf } from '../lib/state-mutate.js';
import { accepted, defect, refused, type FuzzTarget, type Outcome } from '../lib/target.js';

const MiB = 2 ** 20;
const REF_MIB = 16;
const STATE_MAGIC = new TextEncoder().encode('TVRV64\x00\x01');
const assets = new NodeAssetLoader();

/** Options of the run (tests turn the costly kinds down). */
export const snapshotOptions = {
  /** Include states that claim 2048 MiB (each such accepted state touches 2 GiB of RAM). */
  bigRam: true,
  /** Largest bomb in 16 MiB units. */
  bombUnits: 64,
  /** Inputs for the v86 engine (each costs a v86 saveState). */
  v86: true,
};

/** A bare program that counts in a0 and stores it to RAM forever (its state has a few live pages). */
function referenceElf(): Uint8Array {
  const code = [...li(5, 0x8000_1000n), A.addi(10, 10, 1), A.store(8, 10, 5, 0), A.jal(0, -8)];
  return writeElf({ entry: 0x8000_0000n, segments: [{ paddr: 0x8000_0000n, data: words(code) }] });
}

interface Shared {
  refState: Uint8Array;
  refTree: StateValue;
  refFile: Uint8Array;
  /** A paused rv64 engine that hostile states are loaded into, and its state. */
  victim: Rv64Engine;
  victimState: Uint8Array;
  v86?: { engine: V86Engine; state: Uint8Array; digest: string };
}
let shared: Shared | undefined;

async function rv64Engine(): Promise<Rv64Engine> {
  const engine = new Rv64Engine({
    // Deterministic time: a paused machine's state does not change with the host clock.
    engine: 'rv64', memoryMiB: REF_MIB, kernel: referenceElf(), disk: new Uint8Array(64 * 1024).fill(0x5a), deterministic: true,
  }, assets, { drive: 'external', random: (b) => b.fill(7) });
  await engine.start();
  engine.runSlice(5000);
  await engine.pause();
  return engine;
}

async function prepare(): Promise<void> {
  if (shared) return;
  const ref = await rv64Engine();
  const refState = await ref.saveState();
  await ref.destroy();
  const victim = await rv64Engine();
  const victimState = await victim.saveState();
  const refFile = await new SnapshotWriter({ engine: 'rv64', memoryMiB: REF_MIB, createdAt: '2026-01-01T00:00:00Z' })
    .addSection(ENGINE_STATE_SECTION, refState).encode();
  shared = { refState, refTree: decodeState(refState.subarray(STATE_MAGIC.length)), refFile, victim, victimState };
}

async function v86(): Promise<NonNullable<Shared['v86']>> {
  if (shared!.v86) return shared!.v86;
  const img = (p: string) => new Uint8Array(readFileSync(join(PROJECT_ROOT, 'images', 'x86-busybox', p)));
  const engine = new V86Engine({
    engine: 'v86', memoryMiB: 128, firmware: img('bios.bin'), vgaBios: img('vgabios-stdvga.bin'),
    kernel: img('bzImage'), initrd: img('initrd.cpio'), cmdline: 'console=ttyS0',
  }, assets);
  await engine.start();
  await new Promise((r) => setTimeout(r, 300));
  await engine.pause();
  const state = await engine.saveState();
  shared!.v86 = { engine, state, digest: await v86Fingerprint(engine) };
  return shared!.v86;
}

/** Guest RAM and registers of a paused v86 machine (its saved state also holds host time). */
async function v86Fingerprint(engine: V86Engine): Promise<string> {
  const cpu = (engine as unknown as { emulator?: { v86?: { cpu?: { mem8?: Uint8Array; reg32?: Int32Array } } } }).emulator?.v86?.cpu;
  if (!cpu?.mem8 || !cpu.reg32) return 'gone';
  return `${await digest(cpu.mem8)} ${Array.from(cpu.reg32).join(',')}`;
}

async function digest(b: Uint8Array): Promise<string> {
  return createHash('sha256').update(Buffer.from(b.buffer, b.byteOffset, b.byteLength)).digest('hex');
}

const withMagic = (body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(STATE_MAGIC.length + body.length);
  out.set(STATE_MAGIC, 0);
  out.set(body, STATE_MAGIC.length);
  return out;
};

/** What the generated input claims, so that acceptance can be judged. */
interface Facts {
  dupSlot?: boolean;
  engine: 'rv64' | 'v86';
  /** The pause engine to load into instead of creating a new one. */
  into: boolean;
}

// --- mutations of the rv64 state tree --------------------------------------------------------

const CORE_FIELD = (slot: number): number => 0x300 + 8 * slot;

function mutateCoreBlock(r: Rng, core: { [k: string]: StateValue }): void {
  const block = core.block;
  if (!(block instanceof Uint8Array)) return;
  const b = block.slice();
  const dv = new DataView(b.buffer);
  // A block an earlier mutation already cut short only gets cut or grown again (the fields below
  // would lie past its end).
  const whole = b.length >= 0x600 + 8 * 72;
  switch (whole ? r.int(6) : 5) {
    case 0: dv.setBigUint64(CORE_FIELD(1), BigInt(r.pick([2, 4, 5, 6, 7, 8, 255, 0xffff_ffff])), true); break; // priv
    case 1: dv.setBigUint64(CORE_FIELD(r.int(41)), r.edgy64(), true); break;
    case 2: dv.setBigUint64(CORE_FIELD(18), (BigInt(r.pick([0, 1, 7, 8, 9, 10, 15])) << 60n) | BigInt(r.int(1 << 20)), true); break; // satp mode
    case 3: dv.setBigUint64(0x600 + 8 * r.int(72), r.edgy64(), true); break; // pmp
    case 4: dv.setUint32(r.pick([0, 4]), r.u32(), true); break; // magic, version
    default: core.block = r.chance(0.5) ? b.subarray(0, r.int(b.length)) : new Uint8Array(b.length + r.range(1, 64)); return;
  }
  core.block = b;
}

function mutatePages(r: Rng, pages: { [k: string]: StateValue }): void {
  const index = pages.index instanceof Uint8Array ? pages.index.slice() : new Uint8Array(0);
  switch (r.int(4)) {
    case 0: pages.pageSize = r.chance(0.5) ? hostileNumber(r) : r.pick([512, 1024, 8192, 1 << 20, (1 << 20) + 1]); break;
    case 1:
      if (index.length >= 4) new DataView(index.buffer).setUint32(4 * r.int(index.length / 4), r.pick([0xffff_ffff, 0x8000_0000, 4095, 4096, r.edgy32()]), true);
      pages.index = index;
      break;
    case 2: pages.data = pages.data instanceof Uint8Array ? pages.data.subarray(0, Math.max(0, pages.data.length - r.range(1, 4096))) : null; break;
    default: {
      // More entries than data, or the same page many times.
      const n = r.range(1, 64);
      const idx = new Uint8Array(n * 4);
      for (let k = 0; k < n; k++) new DataView(idx.buffer).setUint32(4 * k, r.chance(0.5) ? 0 : r.edgy32(), true);
      pages.index = idx;
      const size = pages.pageSize;
      pages.data = new Uint8Array(n * (typeof size === 'number' && Number.isInteger(size) && size > 0 && size <= 65536 ? size : 4096));
    }
  }
}

function mutateDevices(r: Rng, devices: { [k: string]: StateValue }, facts: Facts): void {
  const virtio = devices.virtio;
  if (!Array.isArray(virtio) || virtio.length === 0) {
    mutateRandomLeaf(r, devices);
    return;
  }
  switch (r.int(5)) {
    case 0: {
      // Two records for one slot (one device restored twice, another left as it was).
      const a = r.int(virtio.length);
      const dup = clone(virtio[a]!);
      virtio[(a + 1 + r.int(virtio.length - 1)) % virtio.length] = dup;
      if (virtio.length > 1) facts.dupSlot = true;
      break;
    }
    case 1: {
      const rec = virtio[r.int(virtio.length)];
      if (isObj(rec)) rec.slot = r.pick([-1, 8, 9, 1e9, 0.5, NaN]);
      break;
    }
    case 2: {
      const rec = virtio[r.int(virtio.length)];
      if (isObj(rec)) rec.deviceId = r.pick([0, 1, 2, 3, 4, 9, 999]);
      break;
    }
    case 3: virtio.push(clone(virtio[r.int(virtio.length)]!)); break;
    default: mutateRandomLeaf(r, devices);
  }
}

function mutateTree(r: Rng, tree: StateValue, facts: Facts): { memoryMiB: number } {
  const s = tree as { [k: string]: StateValue };
  let memoryMiB = REF_MIB;
  const config = isObj(s.config) ? s.config : undefined;
  const rounds = r.range(1, 3);
  for (let k = 0; k < rounds; k++) {
    const what = r.weighted({ memory: 4, config: 3, core: 6, ram: 5, devices: 6, disk: 3, leaf: 6, meta: 2 });
    if (what === 'memory' && config) {
      const m = r.weighted({ small: 6, big: snapshotOptions.bigRam ? 1 : 0, hostile: 3 });
      const bytes = m === 'small' ? r.pick([16, 17, 32, 64]) * MiB : m === 'big' ? r.pick([2048 * MiB, 2049 * MiB, 4096 * MiB]) : hostileNumber(r);
      config.memoryBytes = bytes;
      // The file's metadata: mostly what the hypervisor would expect (the VM's size), sometimes the state's own.
      memoryMiB = r.chance(0.7) ? REF_MIB : Number.isFinite(bytes / MiB) ? Math.round(bytes / MiB) : REF_MIB;
    } else if (what === 'config' && config) {
      const key = r.pick(['insnsPerTick', 'deterministic', 'mmuType', 'disk', 'net', 'mac']);
      config[key] = key === 'insnsPerTick' ? r.pick([0, -1, 1e-9, NaN, 1e300, 2 ** 31]) : hostileValue(r, config[key]);
    } else if (what === 'core' && isObj(s.core)) {
      if (r.chance(0.8)) mutateCoreBlock(r, s.core);
      else mutateRandomLeaf(r, tree, ['core']);
    } else if (what === 'ram' && isObj(s.ram)) mutatePages(r, s.ram);
    else if (what === 'devices' && isObj(s.devices)) mutateDevices(r, s.devices, facts);
    else if (what === 'disk' && isObj(s.disk)) {
      if (r.chance(0.4)) s.disk.byteLength = r.pick([-1, 0, 1, 511, 2 ** 31, 2 ** 31 + 1, 2 ** 40, NaN]);
      else if (r.chance(0.5) && isObj(s.disk.base)) mutatePages(r, s.disk.base);
      else mutateRandomLeaf(r, tree, ['disk']);
    } else if (what === 'meta') {
      if (r.chance(0.5)) s.format = hostileValue(r, s.format);
      else s.version = hostileValue(r, s.version);
    } else mutateRandomLeaf(r, tree);
  }
  return { memoryMiB };
}

// --- containers ------------------------------------------------------------------------------

function hostileMetadata(r: Rng, engine: string): unknown {
  const m: Record<string, unknown> = { engine, memoryMiB: REF_MIB, createdAt: '2026-01-01T00:00:00Z', tabvisorVersion: '0.1.0' };
  switch (r.int(8)) {
    case 0: m.memoryMiB = hostileNumber(r); break;
    case 1: m.engine = r.pick(['v86', 'rv64', 'x', '', null]); break;
    case 2: m.extra = { deep: JSON.parse('['.repeat(2000) + ']'.repeat(2000)) as unknown }; break;
    case 3: return r.pick([null, 1, 'x', [], true]);
    case 4: m.__proto__ = { memoryMiB: 4096 }; break;
    case 5: m.memoryMiB = String(REF_MIB); break;
    default: break;
  }
  return m;
}

async function build(r: Rng, facts: Facts): Promise<{ file: Uint8Array; bombBytes?: number }> {
  const sh = shared!;
  const kind = r.weighted({
    truncate: 8, flip: 8, header: 8, payload: 10, bomb: 1, tree: 42, bytes: 10, foreign: 4, v86: snapshotOptions.v86 ? 2 : 0,
  });
  const wrap = (state: Uint8Array, memoryMiB = REF_MIB, engine = 'rv64'): Uint8Array =>
    container({ raw: payload({ metadata: { engine, memoryMiB, createdAt: '2026-01-01T00:00:00Z', tabvisorVersion: '0.1.0' }, sections: [{ name: ENGINE_STATE_SECTION, data: state }] }), engine });
  switch (kind) {
    case 'truncate': return { file: sh.refFile.subarray(0, r.int(sh.refFile.length)) };
    case 'flip': {
      const f = sh.refFile.slice();
      for (let k = r.range(1, 8); k > 0; k--) {
        const i = r.chance(0.5) ? r.int(Math.min(64, f.length)) : r.int(f.length);
        f[i]! ^= 1 << r.int(8);
      }
      return { file: f };
    }
    case 'header': {
      const raw = payload({ metadata: { engine: 'rv64', memoryMiB: REF_MIB }, sections: [{ name: ENGINE_STATE_SECTION, data: sh.refState }] });
      const spec: Parameters<typeof container>[0] = { raw };
      switch (r.int(7)) {
        case 0: spec.version = r.pick([0, 2, 0xffff]); break;
        case 1: spec.compression = r.pick([0, 2, 255]); break;
        case 2: spec.reserved = 1; break;
        case 3: spec.engine = r.pick(['v86', 'x86', 'rv64\u0000x', 'RV64', '']); break;
        case 4: spec.rawLength = r.chance(0.5) ? BigInt(r.edgy32()) : r.edgy64(); break;
        case 5: spec.storedLength = r.chance(0.5) ? BigInt(r.edgy32()) : r.edgy64(); break;
        default: spec.badHeaderCrc = true;
      }
      return { file: container(spec) };
    }
    case 'payload': {
      const sections: Parameters<typeof payload>[0]['sections'] = [{ name: ENGINE_STATE_SECTION, data: sh.refState }];
      const p: Parameters<typeof payload>[0] = { metadata: hostileMetadata(r, 'rv64'), sections };
      switch (r.int(7)) {
        case 0: p.count = r.pick([0, 2, 4096, 4097, 0xffff_ffff]); break;
        case 1: sections.push({ name: ENGINE_STATE_SECTION, data: new Uint8Array(3) }); break;
        case 2: sections[0]!.claimedLength = r.pick([0n, 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]); break;
        case 3: sections[0]!.name = r.pick(['', 'x'.repeat(0xffff), 'engine-state\u0000', 'Engine-State']); break;
        case 4: p.metadataBytes = r.chance(0.5) ? new Uint8Array([0xff, 0xfe, 0x7b]) : r.bytes(r.int(64)); break;
        case 5: p.trailing = r.bytes(r.range(1, 16)); break;
        default: sections[0]!.name = new Uint8Array([0xe2, 0x82]); // cut UTF-8
      }
      const raw = payload(p);
      return { file: container({ raw, rawLength: r.chance(0.9) ? BigInt(raw.length) : BigInt(r.edgy32()) }) };
    }
    case 'bomb': {
      const units = r.range(Math.min(8, snapshotOptions.bombUnits), snapshotOptions.bombUnits);
      const compressed = deflateBomb(units);
      return { file: container({ compressed, rawLength: BigInt(r.pick([100, 4096, units * BOMB_UNIT_BYTES])) }), bombBytes: units * BOMB_UNIT_BYTES };
    }
    case 'tree': {
      const tree = clone(sh.refTree);
      const { memoryMiB } = mutateTree(r, tree, facts);
      let body: Uint8Array;
      try {
        body = encodeState(tree);
      } catch {
        body = encodeState(sh.refTree);
      }
      return { file: wrap(withMagic(body), memoryMiB) };
    }
    case 'bytes': {
      const s = sh.refState.slice();
      if (r.chance(0.3)) return { file: wrap(s.subarray(0, r.int(s.length))) };
      for (let k = r.range(1, 6); k > 0; k--) s[r.chance(0.7) ? r.int(Math.min(s.length, 2048)) : r.int(s.length)]! ^= 1 << r.int(8);
      return { file: wrap(s) };
    }
    case 'foreign': {
      const which = r.int(4);
      if (which === 0) return { file: wrap(withMagic(r.bytes(r.int(4096)))) };
      if (which === 1) return { file: wrap(r.bytes(r.int(4096))) };
      if (which === 2 && snapshotOptions.v86) {
        facts.engine = 'v86';
        facts.into = true;
        return { file: wrap(sh.refState, 128, 'v86') }; // an rv64 state in a v86 snapshot
      }
      // Deeply nested values past the codec's depth limit.
      const deep = new Uint8Array(200);
      deep.fill(7); // T_ARRAY
      for (let i = 0; i < 200; i += 5) deep.set([7, 1, 0, 0, 0], i);
      return { file: wrap(withMagic(deep)) };
    }
    default: {
      facts.engine = 'v86';
      facts.into = true;
      const v = await v86();
      const s = v.state.slice();
      const w = r.int(4);
      let state: Uint8Array;
      if (w === 0) state = s.subarray(0, r.int(s.length));
      else if (w === 1) state = r.bytes(r.int(8192));
      else {
        for (let k = r.range(1, 8); k > 0; k--) s[r.chance(0.8) ? r.int(Math.min(s.length, 65536)) : r.int(s.length)]! ^= 1 << r.int(8);
        state = s;
      }
      return { file: wrap(state, 128, 'v86') };
    }
  }
}

// --- feeding the engines ---------------------------------------------------------------------

const VALID_PRIV = new Set([0, 1, 3]);

async function peakRssDuring<T>(f: () => Promise<T>): Promise<{ value?: T; error?: unknown; peakGrowth: number }> {
  const start = process.memoryUsage.rss();
  let peak = start;
  const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 2);
  try {
    const value = await f();
    return { value, peakGrowth: Math.max(peak, process.memoryUsage.rss()) - start };
  } catch (error) {
    return { error, peakGrowth: Math.max(peak, process.memoryUsage.rss()) - start };
  } finally {
    clearInterval(t);
  }
}

/** Checks an rv64 engine that accepted a state; a defect when it holds what it should have refused. */
function judgeAccepted(engine: Rv64Engine, memoryMiB: number, facts: Facts): Outcome | undefined {
  const board = engine.board!;
  // Known defect (being fixed): a core block with priv 7 loads and indexes the core's own memory.
  if (!VALID_PRIV.has(board.core.priv)) return defect('priv', `state loaded with privilege level ${board.core.priv}`);
  // Known defect (being fixed): the state's RAM size is not compared with the VM's (metadata) size.
  if (board.memoryBytes !== memoryMiB * MiB) return defect('ram-size-vs-metadata', `a ${memoryMiB} MiB VM loaded a state with ${board.memoryBytes / MiB} MiB of RAM`);
  // Known defect (being fixed): two records for one virtio slot are accepted.
  if (facts.dupSlot) return defect('dup-virtio-slot', 'a state with two records for one virtio slot loaded');
  return undefined;
}

async function intoRv64(state: Uint8Array, facts: Facts): Promise<Outcome> {
  const sh = shared!;
  const victim = sh.victim;
  try {
    await victim.loadState(state);
  } catch (e) {
    if (!(e instanceof EngineConfigError)) throw e;
    // Known defect (being fixed): a refused loadState must leave the running machine as it was.
    const now = victim.board ? await victim.saveState() : undefined;
    if (!now || Buffer.compare(now, sh.victimState) !== 0) {
      sh.victim = await rv64Engine(); // a fresh victim for the next inputs
      sh.victimState = await sh.victim.saveState();
      return defect('load-destroys-machine', `after a refused loadState (${e.message.slice(0, 120)}) the machine is ${now ? 'changed' : 'gone'}`);
    }
    return refused('bad-state');
  }
  const bad = judgeAccepted(victim, REF_MIB, facts);
  await victim.loadState(sh.victimState); // back to the reference for the next input
  return bad ?? accepted('loaded');
}

async function createRv64(state: Uint8Array, memoryMiB: number, facts: Facts): Promise<Outcome> {
  let engine: Rv64Engine;
  try {
    engine = new Rv64Engine({ engine: 'rv64', memoryMiB, state }, assets, { drive: 'external', random: (b) => b.fill(7) });
    await engine.start();
  } catch (e) {
    if (e instanceof EngineConfigError) return refused('bad-state');
    throw e;
  }
  try {
    const bad = judgeAccepted(engine, memoryMiB, facts);
    if (bad) return bad;
    for (let k = 0; k < 4; k++) engine.runSlice(5000);
    return accepted('created-and-ran');
  } finally {
    await engine.destroy();
  }
}

async function intoV86(state: Uint8Array): Promise<Outcome> {
  const v = await v86();
  try {
    await v.engine.loadState(state);
  } catch (e) {
    if (!(e instanceof EngineConfigError)) throw e;
    const now = await v86Fingerprint(v.engine);
    if (now !== v.digest) {
      await v.engine.destroy();
      shared!.v86 = undefined;
      return defect('load-destroys-machine', `v86: after a refused loadState (${e.message.slice(0, 120)}) the machine is ${now === 'gone' ? 'gone' : 'changed'}`);
    }
    return refused('bad-state');
  }
  await v.engine.loadState(v.state);
  return accepted('loaded');
}

export const target: FuzzTarget = {
  name: 'snapshot',
  about: 'snapshot files (container and engine states) into readSnapshot and the engines',
  hangMs: 120_000, // wall time per input (a 1 GiB bomb inflated on a loaded machine takes long); generous on purpose
  // The largest VM a state may claim (2048 MiB) plus a fixed allowance.
  rssAllowanceBytes: (2048 + 768) * MiB,
  prepare,
  async one(seed, index): Promise<Outcome> {
    await prepare();
    const r = new Rng(seed, index);
    const facts: Facts = { engine: 'rv64', into: r.chance(0.4) };
    const { file, bombBytes } = await build(r, facts);
    const read = await peakRssDuring(() => readSnapshot(file));
    // A file may cost what it declares (the caller's limits bound that), never more: a bomb that
    // declares less is cut at its declared length, one that declares all of it costs that once.
    const declared = file.length >= 36 ? Number(new DataView(file.buffer, file.byteOffset).getBigUint64(28, true)) : 0;
    if (bombBytes !== undefined && read.peakGrowth > Math.min(declared, bombBytes) + 256 * MiB) {
      return defect(
        'decompression-bomb',
        `reading a ${file.length}-byte file that declares ${Math.round(declared / MiB)} MiB and inflates to ${bombBytes / MiB} MiB grew RSS by ${Math.round(read.peakGrowth / MiB)} MiB`,
      );
    }
    if (read.error !== undefined) {
      if (read.error instanceof SnapshotFormatError) return refused('bad-snapshot');
      throw read.error;
    }
    const snap = read.value!;
    if (!snap.hasSection(ENGINE_STATE_SECTION)) return refused('no-engine-state');
    const state = snap.section(ENGINE_STATE_SECTION);
    const memoryMiB = snap.metadata.memoryMiB;
    if (facts.engine === 'v86' || snap.metadata.engine === 'v86') return snapshotOptions.v86 ? intoV86(state) : refused('v86-skipped');
    if (facts.into) return intoRv64(state, facts);
    return createRv64(state, memoryMiB, facts);
  },
};
