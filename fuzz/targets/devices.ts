// Guest -> devices: a hostile guest's programs against the virt board's devices, run by the real
// core on a real Rv64Machine (virtio console, rng, block and net on virtio-mmio, PLIC, UART, CLINT).
// Each input is a generated M-mode program: straight-line loads and stores (a trap handler skips
// any that fault), written as a driver would (status handshake, feature words, queue setup) but
// with random descriptor chains, bad indices, next-loops, wild addresses, huge lengths, indirect
// tables, queue and device resets mid-flight, rings rewritten after the notify, and random
// register pokes of every size on every device; host input (serial, hvc, network frames) arrives
// between slices. The program ends by powering off through syscon.
// Outcomes: accepted device-used (some device completed buffers), accepted no-effect, refused
// needs-reset (a device set DEVICE_NEEDS_RESET), accepted poweroff-early etc. A host exception
// (device code throwing through the core), a core fault or a hang is a failure.

import { Rv64Machine, SLOT_NET } from '../../src/engines/rv64/machine.js';
import { loadRv64Module } from '../../src/engines/rv64/wasm-node.js';
import { VIRT_MEMORY_MAP, virtioSlot } from '../../src/devices/device-tree.js';
import { REG } from '../../src/devices/virtio/mmio-transport.js';
import { STATUS_DEVICE_NEEDS_RESET } from '../../src/devices/virtio/device.js';
import { Rng } from '../lib/rng.js';
import { A, li, words, writeElf } from '../lib/rv-asm.js';
import { accepted, defect, refused, type FuzzTarget, type Outcome } from '../lib/target.js';

const MiB = 2 ** 20;
const RAM = 0x8000_0000;
const RAM_MIB = 16;
const RINGS = RAM + 0x40_0000; // desc/avail/used of (slot, queue) at RINGS + slot*0x10000 + q*0x4000
const BUFFERS = RAM + 0x80_0000; // data buffers, 4 MiB
const SLOTS = [0, 1, 2, 3]; // console, rng, block, net
const F_NEXT = 1;
const F_WRITE = 2;
const F_INDIRECT = 4;
let module: WebAssembly.Module | undefined;

interface Op {
  store: boolean;
  size: 1 | 2 | 4 | 8;
  addr: bigint;
  value: bigint;
  /** Store what this address reads instead of `value` (a driver echoing the device's features). */
  copyFrom?: bigint;
}

/** Builds the op list a hostile driver would execute. */
class Program {
  ops: Op[] = [];
  constructor(private readonly r: Rng) {}
  st(addr: number | bigint, value: number | bigint, size: 1 | 2 | 4 | 8 = 4): void {
    this.ops.push({ store: true, size, addr: BigInt(addr), value: BigInt.asUintN(64, BigInt(value)) });
  }
  ld(addr: number | bigint, size: 1 | 2 | 4 | 8 = 4): void {
    this.ops.push({ store: false, size, addr: BigInt(addr), value: 0n });
  }
  reg(slot: number, off: number, value: number | bigint): void {
    this.st(virtioSlot(slot).base + off, value);
  }
}

const ring = (slot: number, q: number) => {
  const base = RINGS + slot * 0x10000 + q * 0x4000;
  return { desc: base, avail: base + 0x1000, used: base + 0x2000 };
};

function address(r: Rng, sane: number, hostility = 1): bigint {
  switch (r.weighted({ sane: 60, unaligned: 2 * hostility, mmio: hostility, end: 2 * hostility, wild: 2 * hostility })) {
    case 'sane': return BigInt(sane);
    case 'unaligned': return BigInt(sane + r.range(1, 15));
    case 'mmio': return BigInt(r.pick([VIRT_MEMORY_MAP.plic, VIRT_MEMORY_MAP.uart0, virtioSlot(0).base, VIRT_MEMORY_MAP.clint, 0]));
    case 'end': return BigInt(RAM + RAM_MIB * MiB - r.int(64));
    default: return r.edgy64();
  }
}

function length(r: Rng): number {
  return r.weighted({ small: 10, zero: 1, huge: 2, edgy: 2 }) === 'small' ? r.range(1, 4096)
    : r.pick([0, 0xffff_ffff, 0x8000_0000, 16 * MiB, r.edgy32()]);
}

/** Handshake up to DRIVER_OK, sometimes out of order or with bad feature words. */
function init(p: Program, r: Rng, slot: number): void {
  p.reg(slot, REG.Status, 0);
  p.reg(slot, REG.Status, 1);
  p.reg(slot, REG.Status, 3);
  for (const sel of [0, 1]) {
    p.reg(slot, REG.DeviceFeaturesSel, sel);
    p.reg(slot, REG.DriverFeaturesSel, r.chance(0.9) ? sel : r.edgy32());
    if (r.chance(0.8)) p.ops.push({ store: true, size: 4, addr: BigInt(virtioSlot(slot).base + REG.DriverFeatures), value: 0n, copyFrom: BigInt(virtioSlot(slot).base + REG.DeviceFeatures) });
    else p.reg(slot, REG.DriverFeatures, r.chance(0.5) ? [0x3000_0000, 1][sel]! : r.u32());
  }
  if (r.chance(0.95)) p.reg(slot, REG.Status, 11);
  const queues = slot === 0 || slot === SLOT_NET ? 2 : 1;
  for (let q = 0; q < queues; q++) setupQueue(p, r, slot, q);
  p.reg(slot, REG.Status, r.chance(0.95) ? 15 : r.int(256));
}

function setupQueue(p: Program, r: Rng, slot: number, q: number): void {
  const g = ring(slot, q);
  p.reg(slot, REG.QueueSel, r.chance(0.95) ? q : r.pick([2, 3, 0xffff, r.u32()]));
  p.ld(virtioSlot(slot).base + REG.QueueNumMax);
  p.reg(slot, REG.QueueNum, r.chance(0.95) ? r.pick([8, 16]) : r.pick([0, 1, 3, 7, 256, 1024, 32768, 65535, r.u32()]));
  const a64 = (sane: number) => address(r, sane, 0.3);
  for (const [lo, v] of [[REG.QueueDescLow, a64(g.desc)], [REG.QueueDriverLow, a64(g.avail)], [REG.QueueDeviceLow, a64(g.used)]] as const) {
    p.reg(slot, lo, v & 0xffff_ffffn);
    p.reg(slot, lo + 4, v >> 32n);
  }
  p.reg(slot, REG.QueueReady, r.chance(0.95) ? 1 : r.u32());
}

/** Descriptors, an available-ring entry and a notify; chains may loop, overrun or point anywhere. */
function chain(p: Program, r: Rng, slot: number, q: number, availIdx: { n: number }): void {
  const g = ring(slot, q);
  const size = 16;
  const n = r.chance(0.9) ? r.range(1, 4) : r.range(5, 40);
  const head = r.int(size);
  const writeDesc = (table: number, i: number, last: boolean, next: number) => {
    const d = table + 16 * (i % 4096);
    const writable = slot === 1 || (slot === 2 && last) || (slot === 0 && q === 0) || (slot === SLOT_NET && q === 0) ? r.chance(0.85) : r.chance(0.15);
    p.st(d, address(r, BUFFERS + r.int(1024) * 4096, 4), 8);
    p.st(d + 8, length(r), 4);
    let flags = (last ? 0 : F_NEXT) | (writable ? F_WRITE : 0);
    if (r.chance(0.05)) flags = r.int(0x10000);
    p.st(d + 12, flags, 2);
    p.st(d + 14, next, 2);
  };
  if (r.chance(0.15)) {
    // One indirect descriptor pointing at a table in the buffer area.
    const table = BUFFERS + 0x30_0000 + r.int(64) * 0x1000;
    const m = r.range(1, r.chance(0.9) ? 4 : 300);
    for (let k = 0; k < Math.min(m, 64); k++) writeDesc(table, k, k === m - 1, r.chance(0.9) ? k + 1 : r.int(0x10000));
    p.st(g.desc + 16 * head, r.chance(0.9) ? table : r.edgy64(), 8);
    p.st(g.desc + 16 * head + 8, r.chance(0.8) ? 16 * m : r.pick([0, 15, 17, 0xffff_fff0]), 4);
    p.st(g.desc + 16 * head + 12, F_INDIRECT | (r.chance(0.1) ? F_NEXT : 0), 2);
  } else {
    for (let k = 0; k < n; k++) {
      const i = (head + k) % size;
      const loop = r.chance(0.05);
      writeDesc(g.desc, i, k === n - 1, loop ? head : r.chance(0.95) ? (i + 1) % size : r.int(0x10000));
    }
  }
  // Available ring: entry, then idx (sometimes far ahead of what was posted).
  p.st(g.avail + 4 + 2 * (availIdx.n % size), r.chance(0.95) ? head : r.int(0x10000), 2);
  availIdx.n = r.chance(0.95) ? (availIdx.n + 1) & 0xffff : r.int(0x10000);
  p.st(g.avail + 2, availIdx.n, 2);
  if (r.chance(0.1)) p.st(g.avail, r.int(4), 2); // flags
  p.reg(slot, REG.QueueNotify, r.chance(0.95) ? q : r.u32());
  if (r.chance(0.1)) p.st(g.desc + 16 * head + 8, length(r), 4); // rewrite after the notify
}

function poke(p: Program, r: Rng): void {
  const size = r.pick([1, 2, 4, 8] as const);
  switch (r.weighted({ virtio: 4, plic: 3, uart: 3, clint: 2, ram: 1 })) {
    case 'virtio': {
      const off = r.chance(0.7) ? r.pick(Object.values(REG)) : r.int(0x1000);
      const a = virtioSlot(r.pick([...SLOTS, 4, 7])).base + off;
      if (r.chance(0.5)) p.ld(a, size);
      else p.st(a, r.chance(0.7) ? r.edgy32() : r.u64(), size);
      break;
    }
    case 'plic': {
      const base = VIRT_MEMORY_MAP.plic;
      const off = r.pick([4 * r.int(64), 0x1000 + 4 * r.int(4), 0x2000 + 0x80 * r.int(3) + 4 * r.int(4), 0x20_0000 + 0x1000 * r.int(3), 0x20_0004 + 0x1000 * r.int(3), r.int(0x40_0000)]);
      if (r.chance(0.4)) p.ld(base + off, size);
      else p.st(base + off, r.chance(0.5) ? r.int(64) : r.edgy32(), size);
      break;
    }
    case 'uart': {
      const a = VIRT_MEMORY_MAP.uart0 + r.int(r.chance(0.9) ? 8 : 0x100);
      if (r.chance(0.4)) p.ld(a, size);
      else p.st(a, r.u32(), size);
      break;
    }
    case 'clint': {
      const a = VIRT_MEMORY_MAP.clint + r.pick([0, 4, 0x4000, 0x4004, 0xbff8, 0xbffc, r.int(0x10000)]);
      if (r.chance(0.4)) p.ld(a, size);
      else p.st(a, r.chance(0.5) ? r.edgy64() : r.int(1000), size);
      break;
    }
    default: p.st(RINGS + r.int(0x40000), r.u64(), size); // scribble over rings mid-flight
  }
}

function generate(r: Rng): Op[] {
  const p = new Program(r);
  const avail = SLOTS.map(() => [{ n: 0 }, { n: 0 }]);
  const groups = r.range(4, 40);
  for (let k = 0; k < groups; k++) {
    const slot = r.pick(SLOTS);
    switch (r.weighted({ init: 3, chain: 8, poke: 5, reset: 1, requeue: 1 })) {
      case 'init': init(p, r, slot); break;
      case 'chain': {
        const q = slot === 0 || slot === SLOT_NET ? r.int(2) : 0;
        chain(p, r, slot, q, avail[slot]![q]!);
        break;
      }
      case 'poke': for (let n = r.range(1, 6); n > 0; n--) poke(p, r); break;
      case 'reset': p.reg(slot, REG.Status, 0); break;
      default: {
        p.reg(slot, REG.QueueSel, 0);
        p.reg(slot, REG.QueueReady, 0);
        setupQueue(p, r, slot, 0);
      }
    }
  }
  return p.ops;
}

/** Straight-line code for the ops, a trap handler that skips a faulting instruction, then poweroff. */
function assemble(ops: Op[]): Uint8Array {
  const T0 = 5, T1 = 6, T2 = 7;
  // mtvec = the handler right below (skipped on the way in): it steps over a faulting instruction.
  const code: number[] = [A.auipc(T0, 0), A.addi(T0, T0, 16), A.csrrw(0, 0x305, T0), A.jal(0, 20)];
  code.push(A.csrrs(30, 0x341, 0), A.addi(30, 30, 4), A.csrrw(0, 0x341, 30), A.mret());
  for (const op of ops) {
    if (op.copyFrom !== undefined) code.push(...li(T1, op.copyFrom), A.load(4, T2, T1, 0));
    code.push(...li(T1, op.addr));
    if (op.copyFrom !== undefined) code.push(A.store(4, T2, T1, 0));
    else if (op.store) {
      code.push(...li(T2, op.value), A.store(op.size, T2, T1, 0));
    } else code.push(A.load(op.size, T2, T1, 0));
  }
  code.push(...li(T1, BigInt(VIRT_MEMORY_MAP.test)), ...li(T2, 0x5555n), A.store(4, T2, T1, 0), A.jal(0, 0));
  return words(code);
}

export const target: FuzzTarget = {
  name: 'devices',
  about: 'hostile guest programs against virtio-mmio, PLIC, UART and CLINT on a real Rv64Machine',
  hangMs: 60_000, // wall time per input; generous because the machine running this may be shared and loaded
  rssAllowanceBytes: 512 * MiB,
  async prepare() {
    module ??= await loadRv64Module();
  },
  async one(seed, index): Promise<Outcome> {
    module ??= await loadRv64Module();
    const r = new Rng(seed, index);
    const ops = generate(r);
    const code = assemble(ops);
    let rx: ((frame: Uint8Array) => void) | undefined;
    const m = new Rv64Machine({
      module, memoryBytes: RAM_MIB * MiB, deterministic: true, random: (b) => b.fill(3),
      kernel: writeElf({ entry: BigInt(RAM), segments: [{ paddr: BigInt(RAM), data: code }] }),
      disk: new Uint8Array(64 * 1024).fill(0xa5),
      net: { send: (frame) => rx?.(frame), connect: (receive) => { rx = receive; } }, // loopback
      output: () => {},
    });
    // Buffers hold something to send.
    m.core.writePhys(BigInt(BUFFERS), r.bytes(64 * 1024));
    const budget = 30 * ops.length + 50_000; // instructions: every op runs in well under 30
    let ran = 0;
    while (!m.exit && ran < budget) {
      const s = m.runSlice(r.pick([500, 5000, 20_000]));
      ran += Math.max(1, s.instructions);
      if (s.idle) m.skipIdleTime();
      if (r.chance(0.2)) m.sendSerial(r.bytes(r.range(1, 64)));
      if (r.chance(0.2)) m.sendHvc(r.bytes(r.range(1, 64)));
      if (r.chance(0.1)) rx?.(r.bytes(r.range(0, 2000)));
    }
    const exit = m.exit;
    // runSlice turns an exception of the host code under the core (a device throwing) into a crash exit.
    if (exit?.kind === 'crash' && exit.message.startsWith('rv64 core failed')) throw new Error(`host exception under the core: ${exit.message}`);
    if (exit?.kind === 'crash') return defect('machine-crash', exit.message);
    const transports = m.devices.transports.filter((t) => t !== undefined);
    // Used-ring indices at the usual ring places (the guest may have acknowledged the interrupts).
    const used = SLOTS.some((slot) => [0, 1].some((q) => m.memory.readU16(ring(slot, q).used + 2) !== 0));
    if (transports.some((t) => (t.read(REG.Status, 4) & STATUS_DEVICE_NEEDS_RESET) !== 0)) return refused(used ? 'needs-reset-after-use' : 'needs-reset');
    if (!exit) return accepted(used ? 'device-used-no-poweroff' : 'no-poweroff');
    return accepted(used ? 'device-used' : 'no-effect');
  },
};
