// runBareProgram: runs a bare-metal RV64 ELF (test programs) on the core with a minimal board:
// HTIF tohost/fromhost when the ELF has a `tohost` symbol, a 16550 UART transmit register at
// 0x1000_0000 and the QEMU virt test/syscon device at 0x10_0000. Programs linked at
// 0x8000_0000 behave as under `qemu-system-riscv64 -M virt -bios none -kernel prog.elf`.
import { Rv64Core, StopReason, RAM_BASE, type Rv64Bus } from './core.js';
import { parseElf, loadElfInto, checkElfInRam } from './elf.js';
import { EngineConfigError } from '../create.js';
import { loadRv64Module } from './wasm-node.js';
import type { JitOptions, JitStats } from './jit/jit.js';

export interface BareRunOptions {
  elf: Uint8Array;
  memoryMiB: number;
  maxInstructions?: number;
  timeoutMs?: number;
  stdout: (bytes: Uint8Array) => void;
  stats?: boolean;
  /** JIT on/off (default: TABVISOR_JIT, see Rv64CoreOptions.jit). */
  jit?: boolean | JitOptions;
}

export interface BareRunResult {
  exitCode: number;
  instructions: number;
  wallMs: number;
  firstOutputMs?: number;
  /**
   * pass/fail: HTIF exit or a riscv-tests result; poweroff: syscon; timeout: timeoutMs passed
   * while the program still ran; limit: maxInstructions; fault: the core failed; wfi: the hart
   * waits in wfi for an interrupt nothing on the bare board can raise (no timer armed or the
   * timer interrupt disabled), so the run ended at once instead of waiting for the timeout.
   */
  reason: 'pass' | 'fail' | 'poweroff' | 'timeout' | 'limit' | 'fault' | 'wfi';
  failCase?: number;
  message?: string;
  /** JIT counters when the JIT was on. */
  jit?: JitStats;
}

export const UART_BASE = 0x1000_0000n;
export const SYSCON_BASE = 0x10_0000n;
const SLICE = 100_000;
/** The largest RAM (the documented --mem maximum, 2048 MiB). */
const MAX_MEMORY_MIB = 2048;
/** Deterministic time for bare programs: mtime advances one 10 MHz tick every 10 instructions. */
const INSNS_PER_TICK = 10;

export type BoardEvent =
  | { kind: 'poweroff'; code: number }
  | { kind: 'fail'; code: number };

/** The UART transmit path and the syscon device of the bare board. */
export class BareBoard implements Rv64Bus {
  core!: Rv64Core;
  out: number[] = [];
  event: BoardEvent | undefined;
  private lcr = 0;

  mmioRead(addr: bigint, size: number): bigint {
    if (addr >= UART_BASE && addr < UART_BASE + 0x100n) {
      const reg = Number(addr - UART_BASE);
      if (reg === 5) return 0x60n; // LSR: transmitter holding register and shift register empty
      if (reg === 3) return BigInt(this.lcr);
      return 0n;
    }
    if (addr >= SYSCON_BASE && addr < SYSCON_BASE + 0x1000n) return 0n;
    void size;
    this.core.mmioFault();
    return 0n;
  }

  mmioWrite(addr: bigint, size: number, value: bigint): void {
    if (addr >= UART_BASE && addr < UART_BASE + 0x100n) {
      const reg = Number(addr - UART_BASE);
      if (reg === 3) this.lcr = Number(value & 0xffn);
      else if (reg === 0 && (this.lcr & 0x80) === 0) this.out.push(Number(value & 0xffn));
      return;
    }
    if (addr >= SYSCON_BASE && addr < SYSCON_BASE + 0x1000n) {
      if (addr === SYSCON_BASE && size >= 2) {
        const v = Number(value & (size >= 4 ? 0xffff_ffffn : 0xffffn));
        const cmd = v & 0xffff;
        if (cmd === 0x5555 || cmd === 0x7777) this.event = { kind: 'poweroff', code: 0 };
        else if (cmd === 0x3333) this.event = { kind: 'fail', code: (v >>> 16) & 0xffff };
        if (this.event) this.core.requestStop();
      }
      return;
    }
    this.core.mmioFault();
  }
}

/** Runs the program to completion (pass/fail/poweroff), a limit, a timeout or a core fault. */
export async function runBareProgram(opts: BareRunOptions): Promise<BareRunResult> {
  const start = performance.now();
  if (!Number.isInteger(opts.memoryMiB) || opts.memoryMiB < 1 || opts.memoryMiB > MAX_MEMORY_MIB) {
    throw new EngineConfigError(`bare-metal memory must be a whole number of MiB between 1 and ${MAX_MEMORY_MIB} (got ${opts.memoryMiB})`);
  }
  const ramBytes = opts.memoryMiB * 1024 * 1024;
  const image = parseElf(opts.elf);
  checkElfInRam(image, RAM_BASE, ramBytes);
  const module = await loadRv64Module();
  const board = new BareBoard();
  const core = Rv64Core.fromModule(module, {
    ramBytes, bus: board, deterministic: { insnsPerTick: INSNS_PER_TICK }, ...(opts.jit !== undefined ? { jit: opts.jit } : {}),
  });
  board.core = core;
  loadElfInto(image, opts.elf, core.ram, RAM_BASE, (off, len) => core.noteRamWritten(off, len));
  core.pc = image.entry;
  core.setReg(10, 0n); // a0 = hart id
  core.setReg(11, 0n); // a1 = no device tree
  const tohost = image.symbols.get('tohost');
  const fromhost = image.symbols.get('fromhost');
  const inRam = (a: bigint | undefined): a is bigint =>
    a !== undefined && a >= RAM_BASE && a + 8n <= RAM_BASE + BigInt(ramBytes);
  const htif = inRam(tohost);
  if (htif) core.setTohost(tohost);

  let firstOutputMs: number | undefined;
  const flush = (): void => {
    if (board.out.length === 0) return;
    if (firstOutputMs === undefined) firstOutputMs = performance.now() - start;
    opts.stdout(Uint8Array.from(board.out));
    board.out = [];
  };
  const emit = (bytes: number[] | Uint8Array): void => {
    for (const b of bytes) board.out.push(b);
  };

  const limit = opts.maxInstructions;
  const startCount = core.steps;
  const startRetired = core.instret;
  const done = (r: Omit<BareRunResult, 'instructions' | 'wallMs' | 'firstOutputMs'>): BareRunResult => {
    flush();
    const res: BareRunResult = {
      ...r,
      instructions: Number(core.instret - startRetired), // retired; the limit counts started ones
      wallMs: performance.now() - start,
    };
    if (firstOutputMs !== undefined) res.firstOutputMs = firstOutputMs;
    const js = core.jitStats();
    if (js) res.jit = js;
    return res;
  };

  let slices = 0;
  for (;;) {
    const executed = Number(core.steps - startCount);
    if (limit !== undefined && executed >= limit) {
      return done({ exitCode: 124, reason: 'limit', message: `instruction limit of ${limit} reached ${where(core)}` });
    }
    if (opts.timeoutMs !== undefined && performance.now() - start >= opts.timeoutMs) {
      return done({ exitCode: 124, reason: 'timeout', message: `timeout after ${opts.timeoutMs} ms ${where(core)}` });
    }
    const budget = limit === undefined ? SLICE : Math.min(SLICE, limit - executed);
    const stop = core.run(budget);
    flush();

    if (stop === StopReason.Fatal) {
      return done({ exitCode: 1, reason: 'fault', message: `core fault (code ${core.exports.fatalCode()}) at pc 0x${core.pc.toString(16)}` });
    }
    if (board.event) {
      const ev = board.event;
      if (ev.kind === 'poweroff') return done({ exitCode: 0, reason: 'poweroff' });
      return done({ exitCode: ev.code, reason: 'fail', message: `syscon: fail with code ${ev.code}` });
    }
    if (stop === StopReason.HostEvent && htif) {
      const v = core.readPhys64(tohost);
      if (v !== 0n) {
        const device = Number(v >> 56n);
        const cmd = Number((v >> 48n) & 0xffn);
        const payload = v & 0xffff_ffff_ffffn;
        if (device === 0 && (payload & 1n) === 1n) {
          // exit: 1 = pass, (n << 1) | 1 = failure of test case n
          const code = Number(payload >> 1n);
          if (code === 0) return done({ exitCode: 0, reason: 'pass' });
          return done({ exitCode: 1, reason: 'fail', failCase: code, message: `FAIL ${code}` });
        }
        core.writePhys64(tohost, 0n);
        if (device === 1 && cmd === 1) {
          emit([Number(v & 0xffn)]);
          if (inRam(fromhost)) core.writePhys64(fromhost, 0n);
        } else if (device === 0) {
          // riscv-tests style syscall: tohost holds the address of magic_mem[which, a0, a1, a2].
          const r = htifSyscall(core, payload, emit);
          if (r !== undefined) {
            if (r === 0) return done({ exitCode: 0, reason: 'pass' });
            return done({ exitCode: 1, reason: 'fail', failCase: r, message: `FAIL ${r}` });
          }
          if (inRam(fromhost)) core.writePhys64(fromhost, 1n);
        }
      }
      continue;
    }
    if (stop === StopReason.Wfi) {
      const ticks = core.ticksUntilTimer();
      const mie = core.readCsr(0x304);
      if (ticks === undefined || (mie & 0x80n) === 0n) {
        return done({
          exitCode: 1,
          reason: 'wfi',
          message: `the hart waits (wfi) at pc 0x${core.pc.toString(16)} for an interrupt that cannot arrive ` +
            `(${ticks === undefined ? 'no timer is armed' : 'the timer interrupt is disabled in mie'})`,
        });
      }
      core.advanceTime(ticks);
    }
    if (++slices % 64 === 0) await new Promise<void>((r) => setImmediate(r));
  }
}

/** "at pc 0x... (insn)" for messages. */
function where(core: Rv64Core): string {
  const d = core.disassembleAt(core.pc);
  return `at pc 0x${core.pc.toString(16)}` + (d ? ` (${d.text})` : '');
}

/** SYS_write (64) prints, SYS_exit (93) ends; returns the exit code for exit, undefined otherwise. */
function htifSyscall(core: Rv64Core, addr: bigint, emit: (b: Uint8Array) => void): number | undefined {
  const inRam = (a: bigint, n: number): boolean => a >= RAM_BASE && a + BigInt(n) <= RAM_BASE + BigInt(core.ramBytes);
  if (!inRam(addr, 32)) return undefined;
  const which = core.readPhys64(addr);
  const a0 = core.readPhys64(addr + 8n);
  const a1 = core.readPhys64(addr + 16n);
  const a2 = core.readPhys64(addr + 24n);
  if (which === 93n) return Number(a0 & 0xffff_ffffn);
  if (which === 64n && (a0 === 1n || a0 === 2n) && inRam(a1, Number(a2))) {
    emit(core.readPhys(a1, Number(a2)));
    core.writePhys64(addr, a2);
    return undefined;
  }
  core.writePhys64(addr, BigInt.asUintN(64, -38n)); // ENOSYS
  return undefined;
}
