// The JIT (docs/JIT.md) must not change anything the guest can see. Every block is compiled at
// its first visit here (threshold 1, batch 1), so the whole program runs translated:
// - JIT cases (jit_cases.S, jit_calls.S: called A/F/D/CSR instructions mid-block): self-modifying code in a running block, stores next to code, a trap
//   in mid-block, sfence.vma remapping compiled code, a timer interrupt in a compiled loop; on
//   QEMU (the reference) and on our core with the JIT;
// - lockstep: the same program on two cores, interpreter and JIT, compared (pc, registers,
//   instret, trap CSRs) after every slice of 997 instructions: the asm suite, the JIT cases and
//   a batch of differential-fuzzer programs;
// - the asm suite and a diff-fuzzer batch against QEMU with the JIT forced on.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rv64Core, RAM_BASE, StopReason } from '../../../src/engines/rv64/core.js';
import { BareBoard } from '../../../src/engines/rv64/bare.js';
import { loadRv64Module } from '../../../src/engines/rv64/wasm-node.js';
import { parseElf, loadElfInto } from '../../../src/engines/rv64/elf.js';
import type { JitOptions } from '../../../src/engines/rv64/jit/jit.js';
import { buildProgram, haveCrossCompiler } from '../lib/toolchain.mjs';
import { runQemu } from '../lib/qemu.mjs';
import { coreAvailability, runCore } from '../lib/core.mjs';
import { asmTestNames, buildAsmTest, ASM_DIR } from '../asm/build.mjs';
import { buildSeed, diffSeed, describeFailure } from '../diff/diff.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const cross = haveCrossCompiler();
const core = coreAvailability();
const ALL_COMPILED: JitOptions = { threshold: 1, batch: 1 };
/** Fewest guest instructions per region call in jit_regions.S (see its test). */
const REGION_RUN_MIN = 10;
// 20 seeds: with every block compiled one at a time a seed costs 1-4 s of compiling (each new hot
// block recompiles its page's region); diff.test.ts runs 80 on the interpreter, and
// JIT_DIFF_SEEDS=200 runs a longer batch by hand.
const SEEDS = Number(process.env.JIT_DIFF_SEEDS ?? 20);
const START = Number(process.env.JIT_DIFF_START ?? 5001);

/**
 * The *_nofence.S cases #include another .S, which buildProgram's cache key does not cover
 * (it hashes sources and .h headers): the hash of every case file goes into the name instead.
 */
const CASES_HASH = createHash('sha256')
  .update(readdirSync(HERE).filter((f) => f.endsWith('.S')).sort().map((f) => f + readFileSync(join(HERE, f), 'utf8')).join('\0'))
  .digest('hex')
  .slice(0, 8);

function buildJitCase(file: string): string {
  return buildProgram({
    name: `jit-${file.replace(/\.S$/, '')}-${CASES_HASH}`,
    sources: [join(ASM_DIR, 'runtime.S'), join(HERE, file)],
    includeDirs: [join(ASM_DIR, 'include'), HERE],
  });
}

/** Forces the JIT on for runCore (the bare runner reads the environment per core). */
async function withJitEnv<T>(f: () => Promise<T>): Promise<T> {
  const saved = { j: process.env.TABVISOR_JIT, t: process.env.TABVISOR_JIT_THRESHOLD, b: process.env.TABVISOR_JIT_BATCH };
  process.env.TABVISOR_JIT = '1';
  process.env.TABVISOR_JIT_THRESHOLD = '1';
  process.env.TABVISOR_JIT_BATCH = '1';
  try {
    return await f();
  } finally {
    const put = (k: string, v: string | undefined): void => { if (v === undefined) delete process.env[k]; else process.env[k] = v; };
    put('TABVISOR_JIT', saved.j);
    put('TABVISOR_JIT_THRESHOLD', saved.t);
    put('TABVISOR_JIT_BATCH', saved.b);
  }
}

const TRAP_CSRS = [0x300, 0x341, 0x342, 0x343, 0x141, 0x142, 0x143, 0x180, 0x100];

/** Snapshot of what the guest can see, for comparisons. */
function stateOf(c: Rv64Core): string {
  const regs: string[] = [];
  for (let i = 1; i < 32; i++) regs.push(c.getReg(i).toString(16));
  const csrs = TRAP_CSRS.map((n) => `${n.toString(16)}=${c.readCsr(n).toString(16)}`);
  return `pc=${c.pc.toString(16)} priv=${c.priv} instret=${c.instret} steps=${c.steps} x=${regs.join(',')} ${csrs.join(' ')}`;
}

/**
 * Runs `elf` on an interpreter core and a JIT core side by side; returns undefined if they
 * agree after every slice, else the first difference. Also returns how much ran translated.
 */
async function lockstep(
  elf: string, slice = 997, max = 20_000_000, jitOpts: JitOptions = ALL_COMPILED,
): Promise<{ diff?: string; jitInsns: bigint; total: bigint; calls?: bigint; pageWarmups?: bigint; regionRuns?: bigint; pageInvalidations?: bigint; asyncCompiles?: number; regions?: number }> {
  const module = await loadRv64Module();
  const bytes = new Uint8Array(readFileSync(elf));
  const image = parseElf(bytes);
  const make = (jit: false | JitOptions): { core: Rv64Core; board: BareBoard } => {
    const board = new BareBoard();
    const c = Rv64Core.fromModule(module, { ramBytes: 64 << 20, bus: board, deterministic: { insnsPerTick: 10 }, jit });
    board.core = c;
    loadElfInto(image, bytes, c.ram, RAM_BASE);
    c.pc = image.entry;
    return { core: c, board };
  };
  const a = make(false);
  const b = make(jitOpts);
  let waitedSlices = 0;
  for (let n = 0; n < max; n += slice) {
    const ra = a.core.run(slice);
    const rb = b.core.run(slice);
    // Background compiles finish and install at a host turn, as in a worker between slices.
    // A batch still compiling after the next slice is waited for, so how fast this host
    // compiles decides only when a batch lands, never whether one does.
    if (jitOpts.compile === 'async') {
      await new Promise((r) => setImmediate(r));
      if (b.core.jitStats()!.asyncPending > 0) {
        if (waitedSlices++ > 0) {
          while (b.core.jitStats()!.asyncPending > 0) await new Promise((r) => setTimeout(r, 1));
          waitedSlices = 0;
        }
      } else waitedSlices = 0;
    }
    const sa = stateOf(a.core), sb = stateOf(b.core);
    if (ra !== rb || sa !== sb) {
      return { diff: `after ${a.core.steps} steps: stop ${ra} vs ${rb}\n interp ${sa}\n jit    ${sb}`, jitInsns: 0n, total: a.core.instret };
    }
    if (a.board.out.join() !== b.board.out.join()) return { diff: `output differs at ${a.core.steps}`, jitInsns: 0n, total: 0n };
    if (a.board.event || ra === StopReason.Fatal || ra === StopReason.HostEvent) break;
    if (ra === StopReason.Wfi) {
      const t = a.core.ticksUntilTimer();
      if (t === undefined) break;
      a.core.advanceTime(t);
      b.core.advanceTime(t);
    }
  }
  const st = b.core.jitStats()!;
  return {
    jitInsns: st.jitInstructions, total: b.core.instret, calls: st.calls, pageWarmups: st.pageWarmups,
    regionRuns: st.blockRuns, pageInvalidations: st.pageInvalidations, asyncCompiles: st.asyncCompiles, regions: st.regions,
  };
}

describe.skipIf(!cross)('JIT cases on QEMU (reference)', () => {
  for (const file of ['jit_cases.S', 'jit_calls.S', 'jit_regions.S', 'jit_collide.S']) {
    it(`${file} passes on QEMU`, async () => {
      const r = await runQemu(buildJitCase(file), { timeoutMs: 20_000 });
      expect(r.stdout).toBe('PASS\n');
    });
  }
});

describe.skipIf(!cross || !core.ok)('JIT cases on our core with every block compiled', () => {
  for (const file of ['jit_cases.S', 'jit_nofence.S', 'jit_calls.S', 'jit_calls_nofence.S', 'jit_regions.S', 'jit_regions_nofence.S']) {
    it(`${file} passes with the JIT and in lockstep with the interpreter`, async () => {
      const elf = buildJitCase(file);
      const r = await withJitEnv(() => runCore(elf, { timeoutMs: 60_000 }));
      expect({ stdout: r.stdout, message: r.message }).toEqual({ stdout: 'PASS\n', message: undefined });
      const l = await lockstep(elf);
      expect(l.diff).toBeUndefined();
      expect(Number(l.jitInsns)).toBeGreaterThan(Number(l.total) * 0.9);
      // A, F/D and CSR instructions run as calls from compiled code, not in the interpreter.
      if (file.startsWith('jit_calls')) expect(Number(l.calls)).toBeGreaterThan(1000);
      if (file.startsWith('jit_regions')) {
        // Branches and jumps inside a region stay in compiled code: with one function per block
        // (before regions) a call ran 4-5 instructions here.
        expect(Number(l.jitInsns) / Number(l.regionRuns)).toBeGreaterThan(REGION_RUN_MIN);
        // The store into the running region (case 3) dropped its page's compiled code.
        expect(Number(l.pageInvalidations)).toBeGreaterThan(0);
      }
    }, 120_000);
  }
  // Without tail calls (or with chain: false) every region exit returns to the interpreter's lookup.
  it('jit_regions.S in lockstep without chaining', async () => {
    const l = await lockstep(buildJitCase('jit_regions.S'), 997, 20_000_000, { ...ALL_COMPILED, chain: false });
    expect(l.diff).toBeUndefined();
    expect(Number(l.jitInsns)).toBeGreaterThan(Number(l.total) * 0.9);
  }, 120_000);
  // A real threshold: block starts first warm their page (page heat), then count, then get
  // compiled in the middle of the run; the hot loops must still end up compiled.
  for (const file of ['jit_cases.S', 'jit_calls.S']) {
    it(`${file} in lockstep with threshold 50: page heat, then compiled mid-run`, async () => {
      const l = await lockstep(buildJitCase(file), 997, 20_000_000, { threshold: 50, batch: 4 });
      expect(l.diff).toBeUndefined();
      expect(Number(l.pageWarmups)).toBeGreaterThan(0);
      expect(Number(l.jitInsns)).toBeGreaterThan(Number(l.total) * 0.5);
    }, 120_000);
  }
});

// Two hot loops whose block starts share a home slot of the block table, run in turn: each
// stays compiled (a counted block never evicts a compiled one; the table is two-way).
describe.skipIf(!cross || !core.ok)('JIT block table', () => {
  it('jit_collide.S: loops 32 KiB apart, run in turn, are compiled once each', async () => {
    const elf = buildJitCase('jit_collide.S');
    const l = await lockstep(elf, 997, 20_000_000, { threshold: 50, batch: 1 });
    expect(l.diff).toBeUndefined();
    expect(Number(l.jitInsns)).toBeGreaterThan(Number(l.total) * 0.8);
    // Ten turns: a table that evicts compiled blocks compiles both loops' regions again every turn (20+).
    expect(l.regions).toBeLessThanOrEqual(6);
  }, 120_000);
});

// Background compiles (compile: 'async', what a real-time machine uses): the guest goes on in
// the interpreter while a batch compiles, and the batch is installed at a later host turn, once
// its guest code is checked. The JIT cases rewrite code that is compiling or about to be.
describe.skipIf(!cross || !core.ok)('JIT cases with background compiles', () => {
  for (const file of ['jit_cases.S', 'jit_calls.S', 'jit_regions.S']) {
    it(`${file} in lockstep with the interpreter, batches installed between slices`, async () => {
      const l = await lockstep(buildJitCase(file), 997, 20_000_000, { ...ALL_COMPILED, compile: 'async' });
      expect(l.diff).toBeUndefined();
      expect(l.asyncCompiles).toBeGreaterThan(0);
      expect(Number(l.jitInsns)).toBeGreaterThan(Number(l.total) * 0.5);
    }, 120_000);
  }
});

describe.skipIf(!cross || !core.ok)('asm suite with the JIT', () => {
  for (const name of asmTestNames()) {
    it(`${name}: passes with every block compiled, lockstep with the interpreter`, async () => {
      const t = buildAsmTest(name);
      const r = await withJitEnv(() => runCore(t.elf, { timeoutMs: 60_000 }));
      expect({ stdout: r.stdout, message: r.message }).toEqual({ stdout: 'PASS\n', message: undefined });
      const l = await lockstep(t.elf);
      expect(l.diff).toBeUndefined();
    }, 120_000);
  }
});

describe.skipIf(!cross || !core.ok)('differential fuzzer with the JIT', () => {
  it(`seeds ${START}..${START + SEEDS - 1}: same dumps as QEMU with every block compiled`, async () => {
    const failures: string[] = [];
    await withJitEnv(async () => {
      for (let seed = START; seed < START + SEEDS && failures.length < 3; seed++) {
        const r = await diffSeed(seed);
        if (!r.ok) failures.push(describeFailure(r));
      }
    });
    expect(failures.join('\n')).toBe('');
  }, 600_000);

  it('seeds run in lockstep with the interpreter', async () => {
    for (let seed = START; seed < START + 10; seed++) {
      const { elf } = buildSeed(seed);
      const l = await lockstep(elf, 613);
      expect(l.diff, `seed ${seed}`).toBeUndefined();
    }
  }, 600_000);
});

// Code written by the host (device DMA) behind the core's back: compiled blocks must not
// outlive it. Tracked writes (writePhys, noteHostWrite) drop blocks at once; untracked ones
// through the RAM view are caught at the guest's fence.i, which a guest must execute before
// running code a device wrote. Both cores (interpreter, JIT) get the same host actions.
const HOST_WRITE_PROGRAM = `
  .globl _start
_start:
  la s2, flag
1:
  call f
  add s1, s1, a0
  ld t0, 0(s2)
  beqz t0, 1b
  fence.i
2:
  call f
  add s3, s3, a0
  j 2b
  .balign 4096
  .option norvc
f:
  li a0, 1
  ret
  .data
  .balign 8
flag: .dword 0
`;

/** HOST_WRITE_PROGRAM on an interpreter core and a JIT core; f and flag as offsets in RAM. */
async function hostWriteCores(jitOpts: JitOptions): Promise<{ cores: [Rv64Core, Rv64Core]; f: bigint; flag: bigint }> {
  const { assemble, readElf } = await import('../unit/toolchain.js');
  const bytes = readElf(assemble(HOST_WRITE_PROGRAM));
  const image = parseElf(bytes);
  const module = await loadRv64Module();
  const cores = [false, jitOpts].map((jit) => {
    const c = Rv64Core.fromModule(module, { ramBytes: 4 << 20, deterministic: { insnsPerTick: 10 }, jit });
    loadElfInto(image, bytes, c.ram, RAM_BASE);
    c.pc = image.entry;
    return c;
  }) as [Rv64Core, Rv64Core];
  return { cores, f: image.symbols.get('f')! - RAM_BASE, flag: image.symbols.get('flag')! - RAM_BASE };
}

describe.skipIf(!cross || !core.ok)('host writes to compiled code', () => {
  it('code rewritten while its batch compiles in the background: the batch is not installed, the new code runs', async () => {
    const { cores, f, flag } = await hostWriteCores({ ...ALL_COMPILED, compile: 'async' });
    const [interp, jit] = cores;
    const li2 = new Uint8Array([0x13, 0x05, 0x20, 0x00]); // addi a0, zero, 2
    for (const c of cores) c.run(20_000);
    // Every block of the loop and of f is queued and compiling; nothing is installed yet.
    expect(jit.jitStats()!.asyncPending).toBeGreaterThan(0);
    expect(jit.jitStats()!.jitInstructions).toBe(0n);
    for (const c of cores) c.ram.set(li2, Number(f)); // behind the core's back: f's page is no code page yet
    while (jit.jitStats()!.asyncPending > 0) await new Promise((r) => setImmediate(r));
    expect(jit.jitStats()!.asyncStale).toBeGreaterThan(0);
    const compilesBefore = jit.jitStats()!.asyncCompiles;
    for (const c of cores) {
      c.run(5_000);
      c.ram[Number(flag)] = 1;
      c.run(20_000);
    }
    for (let i = 0; i < 4; i++) {
      // f's blocks, counted again, compile and go in
      while (jit.jitStats()!.asyncPending > 0) await new Promise((r) => setImmediate(r));
      for (const c of cores) c.run(10_000);
    }
    expect(jit.jitStats()!.jitInstructions).toBeGreaterThan(20_000n);
    expect(jit.jitStats()!.asyncCompiles).toBeGreaterThan(compilesBefore); // the new f, counted again and compiled
    expect(stateOf(jit)).toBe(stateOf(interp));
    // s1 sums f's results before the flag: with the old f compiled it would hold odd values
    // (1 per call) past the write; only 2s were added after it in both cores.
    expect(jit.getReg(9)).toBe(interp.getReg(9));
    expect(interp.getReg(19) > 0n && interp.getReg(19) % 2n === 0n).toBe(true);
  });

  for (const how of ['ram view + fence.i', 'writePhys', 'noteHostWrite'] as const) {
    it(`${how}: the JIT runs the new code like the interpreter`, async () => {
      const { cores, f, flag } = await hostWriteCores(ALL_COMPILED);
      const li2 = new Uint8Array([0x13, 0x05, 0x20, 0x00]); // addi a0, zero, 2
      for (const c of cores) {
        c.run(20_000);
        if (how === 'writePhys') c.writePhys(RAM_BASE + f, li2);
        else {
          c.ram.set(li2, Number(f));
          if (how === 'noteHostWrite') c.noteHostWrite(RAM_BASE + f, 4);
        }
        c.run(5_000);
        c.ram[Number(flag)] = 1;
        c.run(20_000);
      }
      const [interp, jit] = cores as [Rv64Core, Rv64Core];
      expect(jit.jitStats()!.jitInstructions).toBeGreaterThan(20_000n);
      if (how === 'ram view + fence.i') {
        // Before the fence.i, either code may run (unpriv spec, Zifencei): the interpreter already
        // sees the new one, the JIT still its block. s1 counts those calls; everything after must agree.
        jit.setReg(9, 0n);
        interp.setReg(9, 0n);
      }
      expect(stateOf(jit)).toBe(stateOf(interp));
      expect(interp.getReg(19) > 0n && interp.getReg(19) % 2n === 0n).toBe(true); // s3: only the new f ran
    });
  }
});
