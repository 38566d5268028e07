// The hart driven from TS: run() stop reasons and budgets, traps with exact cause/epc/tval,
// CSR access rules and WARL fields, counters, misaligned accesses, LR/SC, MMIO through the bus,
// tohost, interrupts (timer, external lines, wfi), Sv39/Sv48 from page tables written by the
// test, the dirty bitmap, and state save/restore.
import { describe, expect, it } from 'vitest';
import { haveToolchain } from './toolchain.js';
import { CAUSE, DONE, PRELUDE, RAM_BASE, StopReason, loadProgram, newCore, runToHalt } from './harness.js';

const INTR = 1n << 63n;

describe.skipIf(!haveToolchain)('rv64 core: execution and traps', () => {
  it('stops after exactly the budget and counts retired instructions', async () => {
    const { core } = await loadProgram(`${PRELUDE}\nmain:\n  addi a0, a0, 1\n  j main\n`);
    expect(core.run(1000)).toBe(StopReason.Budget);
    const before = core.instret;
    expect(core.run(5000)).toBe(StopReason.Budget);
    expect(core.instret - before).toBe(5000n);
  });

  it('a trap loop still ends the slice (trapping instructions count against the budget)', async () => {
    const { core } = await newCore().then(async (c) => ({ core: c }));
    core.writeCsr(0x305, RAM_BASE); // mtvec = 0x8000_0000, which holds 0: illegal forever
    expect(core.run(10_000)).toBe(StopReason.Budget);
    expect(core.readCsr(0x342)).toBe(CAUSE.illegal);
    expect(core.steps).toBe(10_000n);
    expect(core.instret).toBe(0n);
  });

  it('ecall from M, S and U raises causes 11, 9 and 8 with mepc at the ecall', async () => {
    for (const [mpp, cause] of [[3, CAUSE.ecallM], [1, CAUSE.ecallS], [0, CAUSE.ecallU]] as const) {
      const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 3 << 11
  csrc mstatus, t0
  li t0, ${mpp} << 11
  csrs mstatus, t0
  la t0, target
  csrw mepc, t0
  mret
target:
  ecall
`);
      const r = runToHalt(core, symbols);
      expect(r.cause).toBe(cause);
      expect(r.epc).toBe(symbols.get('target'));
      expect(r.tval).toBe(0n);
    }
  });

  it('illegal instruction reports the instruction bits, 16 bits for a compressed one', async () => {
    let p = await loadProgram(`${PRELUDE}\nmain:\n  nop\nbad:\n  .word 0xffffffff\n`);
    let r = runToHalt(p.core, p.symbols);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.illegal, p.symbols.get('bad'), 0xffffffffn]);
    p = await loadProgram(`${PRELUDE}\nmain:\n  nop\nbad:\n  .half 0x4002\n  nop\n`); // c.lwsp x0: reserved
    r = runToHalt(p.core, p.symbols);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.illegal, p.symbols.get('bad'), 0x4002n]);
  });

  it('ebreak reports the breakpoint address in mtval', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}\nmain:\n  nop\nbp:\n  ebreak\n`);
    const r = runToHalt(core, symbols);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.breakpoint, symbols.get('bp'), symbols.get('bp')]);
  });

  it('delegated exceptions go to stvec in S mode with scause/sepc/stval; vectored mtvec only for interrupts', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 1 << 2
  csrw medeleg, t0         # delegate illegal instruction
  la t0, strap
  csrw stvec, t0
  li t0, 3 << 11
  csrc mstatus, t0
  li t0, 1 << 11
  csrs mstatus, t0         # MPP = S
  la t0, smode
  csrw mepc, t0
  mret
smode:
  .word 0xffffffff
  .balign 4
strap:
  csrr a0, scause
  csrr a1, sepc
  csrr a2, stval
  csrr a3, sstatus
  ecall                    # back to M: cause 9
`);
    const r = runToHalt(core, symbols);
    expect(r.cause).toBe(CAUSE.ecallS);
    expect(core.getReg(10)).toBe(CAUSE.illegal);
    expect(core.getReg(11)).toBe(symbols.get('smode'));
    expect(core.getReg(12)).toBe(0xffffffffn);
    expect((core.getReg(13) >> 8n) & 1n).toBe(1n); // SPP = S
  });

  it('misaligned loads and stores succeed, also across a page boundary', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  la t0, buf
  li t1, 0x1122334455667788
  li t2, 4093
  add t0, t0, t2
  sd t1, 0(t0)
  ld a0, 0(t0)
  lw a1, 1(t0)
  lhu a2, 2(t0)
  j done
  .data
  .balign 4096
buf: .space 8192
`);
    expect(runToHalt(core, symbols).cause).toBe(DONE);
    expect(core.getReg(10)).toBe(0x1122334455667788n);
    expect(core.getReg(11)).toBe(0x44556677n);
    expect(core.getReg(12)).toBe(0x5566n);
  });

  it('LR/SC: sc without a reservation fails and stores nothing; any sc clears the reservation', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  la t0, word
  li t1, 7
  sc.d a0, t1, (t0)        # no reservation: a0 = 1, no store
  ld a1, 0(t0)
  lr.d a2, (t0)
  li t1, 9
  sc.d a3, t1, (t0)        # succeeds: a3 = 0
  ld a4, 0(t0)
  li t1, 11
  sc.d a5, t1, (t0)        # reservation gone: a5 = 1
  ld a6, 0(t0)
  li t1, -1
  amoadd.w a7, t1, (t0)    # 32-bit AMO returns the old word sign-extended
  lw s2, 0(t0)
  j done
  .data
  .balign 8
word: .dword 5
`);
    expect(runToHalt(core, symbols).cause).toBe(DONE);
    expect([10, 11, 12, 13, 14, 15, 16, 17, 18].map((r) => core.getReg(r))).toEqual([1n, 5n, 5n, 0n, 9n, 1n, 9n, 9n, 8n]);
  });

  it('misaligned AMOs raise store/AMO address misaligned', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  la t0, word
  addi t0, t0, 2
bad:
  amoswap.w a0, a1, (t0)
  .data
  .balign 8
word: .dword 5
`);
    const r = runToHalt(core, symbols);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.storeMisaligned, symbols.get('bad'), symbols.get('word')! + 2n]);
  });
});

describe.skipIf(!haveToolchain)('rv64 core: CSRs', () => {
  it('unknown CSRs and writes to read-only CSRs are illegal; reads with rs1 = x0 are not writes', async () => {
    let p = await loadProgram(`${PRELUDE}\nmain:\n  csrr a0, mvendorid\n  csrrs a1, mhartid, x0\nbad:\n  csrw mvendorid, a0\n`);
    let r = runToHalt(p.core, p.symbols);
    expect([r.cause, r.epc]).toEqual([CAUSE.illegal, p.symbols.get('bad')]);
    p = await loadProgram(`${PRELUDE}\nmain:\nbad:\n  csrr a0, 0x7c0\n`);
    r = runToHalt(p.core, p.symbols);
    expect([r.cause, r.epc]).toEqual([CAUSE.illegal, p.symbols.get('bad')]);
    p = await loadProgram(`${PRELUDE}\nmain:\nbad:\n  csrr a0, pmpcfg1\n`); // odd pmpcfg: RV32 only
    r = runToHalt(p.core, p.symbols);
    expect(r.cause).toBe(CAUSE.illegal);
  });

  it('M-mode CSRs are illegal from S mode, and counters need mcounteren', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 3 << 11
  csrc mstatus, t0
  li t0, 1 << 11
  csrs mstatus, t0
  li t0, 2                 # only TM
  csrw mcounteren, t0
  la t0, smode
  csrw mepc, t0
  mret
smode:
  rdtime a0
bad:
  rdcycle a1
`);
    const r = runToHalt(core, symbols);
    expect([r.cause, r.epc]).toEqual([CAUSE.illegal, symbols.get('bad')]);
  });

  it('satp is WARL: Sv57 and other modes leave it unchanged, Sv48 and Sv39 are accepted', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, (8 << 60) | 0x80123
  csrw satp, t0
  csrr a0, satp
  li t0, (10 << 60) | 0x80456
  csrw satp, t0
  csrr a1, satp
  li t0, (9 << 60) | 0x80789
  csrw satp, t0
  csrr a2, satp
  li t0, (1 << 60) | 5
  csrw satp, t0
  csrr a3, satp
  csrw satp, zero
  j done
`);
    expect(runToHalt(core, symbols).cause).toBe(DONE);
    expect(core.getReg(10)).toBe((8n << 60n) | 0x80123n);
    expect(core.getReg(11)).toBe((8n << 60n) | 0x80123n);
    expect(core.getReg(12)).toBe((9n << 60n) | 0x80789n);
    expect(core.getReg(13)).toBe((9n << 60n) | 0x80789n);
  });

  it('a write to minstret suppresses its own increment; mcountinhibit freezes it', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 100
  csrw minstret, t0
  csrr a0, minstret        # 100
  csrr a1, minstret        # 101
  li t0, 4
  csrw mcountinhibit, t0
  csrr a2, minstret
  nop
  csrr a3, minstret        # frozen
  j done
`);
    expect(runToHalt(core, symbols).cause).toBe(DONE);
    expect(core.getReg(10)).toBe(100n);
    expect(core.getReg(11)).toBe(101n);
    expect(core.getReg(13)).toBe(core.getReg(12));
  });

  it('misa reports RV64 ACDFIMSU; mstatus UXL/SXL read 64-bit; MPP=2 is not kept', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  csrr a0, misa
  li t0, 3 << 11
  csrc mstatus, t0
  li t0, 2 << 11
  csrs mstatus, t0
  csrr a1, mstatus
  j done
`);
    expect(runToHalt(core, symbols).cause).toBe(DONE);
    const letters = 'ACDFIMSU'.split('').reduce((m, c) => m | (1n << BigInt(c.charCodeAt(0) - 65)), 0n);
    expect(core.getReg(10)).toBe((2n << 62n) | letters);
    expect((core.getReg(11) >> 32n) & 0xfn).toBe(0xan);
    expect((core.getReg(11) >> 11n) & 3n).not.toBe(2n);
  });

  it('pmpcfg/pmpaddr are WARL registers: W without R is dropped, locked entries keep their value', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 0x0000000000000f06   # entry 0: W+X without R (reserved); entry 1: RWX + TOR
  csrw pmpcfg0, t0
  csrr a0, pmpcfg0
  li t0, 0x3fffffffffffffff
  csrw pmpaddr0, t0
  csrr a1, pmpaddr0          # 54 bits kept
  li t0, 0x80                # lock entry 0 (R/W/X 0)
  csrw pmpcfg0, t0
  li t0, 0x1234
  csrw pmpaddr0, t0          # ignored: locked
  csrr a2, pmpaddr0
  csrw pmpcfg0, zero         # ignored for entry 0
  csrr a3, pmpcfg0
  j done
`);
    expect(runToHalt(core, symbols).cause).toBe(DONE);
    expect(core.getReg(10)).toBe(0x0f04n); // W+X without R: W dropped
    expect(core.getReg(11)).toBe((1n << 54n) - 1n);
    expect(core.getReg(12)).toBe((1n << 54n) - 1n);
    expect(core.getReg(13) & 0xffn).toBe(0x80n);
  });

  it('vectored mtvec sends interrupts to base + 4 * cause and exceptions to base', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  la t0, vec
  ori t0, t0, 1
  csrw mtvec, t0
  li t0, 1 << 3
  csrs mie, t0               # MSIE
  li t0, 0x2000000
  li t1, 1
  sw t1, 0(t0)               # msip = 1
  csrsi mstatus, 8
1: j 1b
  .balign 64
  .option push
  .option norvc
vec:
  j exc
  j exc
  j exc
  j msi                      # vec + 12: cause 3
  .option pop
exc:
  csrr s9, mcause
  j halt
msi:
  csrr a0, mcause
  csrr a1, mepc
  li t0, 0x2000000
  sw zero, 0(t0)
  ecall                      # exception: base, not vectored
`);
    core.writeCsr(0x305, symbols.get('trap')!);
    const r = runToHalt(core, symbols);
    expect(core.getReg(10)).toBe(INTR | 3n);
    expect(r.cause).toBe(CAUSE.ecallM);
  });

  it('user mode: counters need mcounteren and scounteren; TW makes wfi in S illegal; TSR makes sret illegal', async () => {
    let p = await loadProgram(`${PRELUDE}
main:
  li t0, 5                   # CY and IR to S
  csrw mcounteren, t0
  li t0, 1                   # only CY to U
  csrw scounteren, t0
  li t0, 3 << 11
  csrc mstatus, t0           # MPP = U
  la t0, umode
  csrw mepc, t0
  mret
umode:
  rdcycle a0
bad:
  rdinstret a1
`);
    let r = runToHalt(p.core, p.symbols);
    expect([r.cause, r.epc]).toEqual([CAUSE.illegal, p.symbols.get('bad')]);
    for (const [bit, insn] of [[21, 'wfi'], [22, 'sret']] as const) {
      p = await loadProgram(`${PRELUDE}
main:
  li t0, 3 << 11
  csrc mstatus, t0
  li t0, (1 << 11) | (1 << ${bit})
  csrs mstatus, t0
  la t0, smode
  csrw mepc, t0
  mret
smode:
bad:
  ${insn}
`);
      r = runToHalt(p.core, p.symbols);
      expect([r.cause, r.epc], insn).toEqual([CAUSE.illegal, p.symbols.get('bad')]);
    }
  });

  it('FP instructions are illegal while mstatus.FS is Off and set FS Dirty when they write', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 3 << 13
  csrs mstatus, t0
  csrc mstatus, t0
  li t0, 1 << 13
  csrs mstatus, t0         # FS = Initial
  fmv.d.x fa0, zero
  csrr a0, mstatus
  li t0, 3 << 13
  csrc mstatus, t0         # FS = Off
bad:
  fmv.d.x fa0, zero
`);
    const r = runToHalt(core, symbols);
    expect([r.cause, r.epc]).toEqual([CAUSE.illegal, symbols.get('bad')]);
    expect((core.getReg(10) >> 13n) & 3n).toBe(3n);
    expect(core.getReg(10) >> 63n).toBe(1n); // SD
  });
});

describe.skipIf(!haveToolchain)('rv64 core: host interface', () => {
  it('MMIO reads and writes reach the bus; an unmapped address raises an access fault with the address', async () => {
    const writes: Array<[bigint, number, bigint]> = [];
    let core!: Awaited<ReturnType<typeof newCore>>;
    const bus = {
      mmioRead: (a: bigint, size: number): bigint => {
        if (a === 0x1000_0000n) return 0x1234n + BigInt(size);
        core.mmioFault();
        return 0n;
      },
      mmioWrite: (a: bigint, size: number, v: bigint): void => {
        writes.push([a, size, v]);
      },
    };
    const p = await loadProgram(`${PRELUDE}
main:
  li t0, 0x10000000
  lw a0, 0(t0)
  sh a0, 2(t0)
  li t0, 0x20000000
bad:
  ld a1, 8(t0)
`, { bus });
    core = p.core;
    const r = runToHalt(core, p.symbols);
    expect(core.getReg(10)).toBe(0x1238n);
    expect(writes).toEqual([[0x1000_0002n, 2, 0x1238n]]);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.loadAccess, p.symbols.get('bad'), 0x2000_0008n]);
  });

  it('a store to tohost stops run() with HostEvent; requestStop from the bus does too', async () => {
    let core!: Awaited<ReturnType<typeof newCore>>;
    const bus = { mmioRead: (): bigint => 0n, mmioWrite: (): void => core.requestStop() };
    const p = await loadProgram(`${PRELUDE}
main:
  la t0, tohost
  li t1, 1
  sd t1, 0(t0)
after:
  li t0, 0x100000
  sw t1, 0(t0)
after2:
  j after2
  .section .tohost, "aw"
  .globl tohost
tohost: .dword 0
`, { bus });
    core = p.core;
    core.setTohost(p.symbols.get('tohost'));
    expect(core.run(1000)).toBe(StopReason.HostEvent);
    expect(core.pc).toBe(p.symbols.get('after'));
    expect(core.readPhys64(p.symbols.get('tohost')!)).toBe(1n);
    expect(core.run(1000)).toBe(StopReason.HostEvent);
    expect(core.pc).toBe(p.symbols.get('after2'));
  });

  it('wfi returns Wfi, the time to the timer is exported, and the timer interrupt wakes the hart', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 0x200bff8
  ld t1, 0(t0)             # mtime
  addi t1, t1, 500
  li t0, 0x2004000
  sd t1, 0(t0)             # mtimecmp = mtime + 500
  li t0, 1 << 7
  csrs mie, t0             # MTIE, but MIE stays 0: wfi wakes, no trap
wait:
  wfi
  csrr a0, mip
  j done
`);
    let stop = core.run(10_000);
    expect(stop).toBe(StopReason.Wfi);
    expect(core.waiting).toBe(true);
    const ticks = core.ticksUntilTimer();
    expect(ticks).toBeGreaterThan(400n);
    expect(ticks).toBeLessThanOrEqual(500n);
    expect(core.run(10_000)).toBe(StopReason.Wfi); // nothing changed: still waiting, no instructions
    core.advanceTime(ticks!);
    stop = core.run(100);
    expect(runToHalt(core, symbols).cause).toBe(DONE);
    expect(core.getReg(10) & 0x80n).toBe(0x80n);
  });

  it('timer and external interrupts trap with the interrupt bit and the right priority', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 0x2004000
  sd zero, 0(t0)           # mtimecmp = 0: MTIP now
  li t0, (1 << 7) | (1 << 11)
  csrs mie, t0
  csrsi mstatus, 8         # MIE
spin:
  j spin
`);
    core.setMeip(true);
    const r = runToHalt(core, symbols);
    expect(r.cause).toBe(INTR | 11n); // MEI before MTI
    core.setMeip(false);
  });

  it('csrrs on mip does not latch the SEIP line into the software bit', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 1 << 5
  csrs mip, t0             # STIP, while the SEIP line is high
  csrr a0, mip
  ebreak
after:
  csrr a1, mip
  j done
`);
    core.setSeip(true);
    let r = runToHalt(core, symbols);
    expect(r.cause).toBe(CAUSE.breakpoint);
    expect(core.getReg(10) & 0x220n).toBe(0x220n);
    core.setSeip(false);
    core.pc = symbols.get('after')!;
    r = runToHalt(core, symbols);
    expect(r.cause).toBe(DONE);
    expect(core.getReg(11) & 0x220n).toBe(0x20n); // SEIP gone with the line, STIP stays
  });

  it('csrrs on mip does not latch the SEIP line into the software bit', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 1 << 5
  csrs mip, t0             # STIP, while the SEIP line is high
  csrr a0, mip
  ebreak
after:
  csrr a1, mip
  j done
`);
    core.setSeip(true);
    let r = runToHalt(core, symbols);
    expect(r.cause).toBe(CAUSE.breakpoint);
    expect(core.getReg(10) & 0x220n).toBe(0x220n);
    core.setSeip(false);
    core.pc = symbols.get('after')!;
    r = runToHalt(core, symbols);
    expect(r.cause).toBe(DONE);
    expect(core.getReg(11) & 0x220n).toBe(0x20n); // SEIP gone with the line, STIP stays
  });

  it('setSeip drives mip.SEIP and a delegated supervisor interrupt reaches S mode', async () => {
    const { core, symbols } = await loadProgram(`${PRELUDE}
main:
  li t0, 1 << 9
  csrw mideleg, t0
  csrs mie, t0
  la t0, strap
  csrw stvec, t0
  li t0, 3 << 11
  csrc mstatus, t0
  li t0, (1 << 11) | (1 << 5)
  csrs mstatus, t0         # MPP = S, SPIE
  la t0, smode
  csrw mepc, t0
  mret
smode:
  csrsi sstatus, 2         # SIE
sspin:
  j sspin
  .balign 4
strap:
  csrr a0, scause
  ecall
`);
    core.run(200);
    expect(core.priv).toBe(1);
    core.setSeip(true);
    const r = runToHalt(core, symbols);
    expect(r.cause).toBe(CAUSE.ecallS);
    expect(core.getReg(10)).toBe(INTR | 9n);
  });
});

// Page tables written by the test: a root at 0x8010_0000 and one gigapage identity mapping
// for the code at 0x8000_0000, plus what each case adds.
const ROOT = 0x8010_0000n;
const PTE = { V: 1n, R: 2n, W: 4n, X: 8n, U: 16n, A: 64n, D: 128n };
function pte(pa: bigint, flags: bigint): bigint {
  return ((pa >> 12n) << 10n) | flags;
}

describe.skipIf(!haveToolchain)('rv64 core: Sv39/Sv48 translation', () => {
  async function pagedProgram(body: string, mode: 8 | 9 = 8) {
    const p = await loadProgram(`${PRELUDE}\nmain:\n${body}\n  ecall\n`, { ramMiB: 16 });
    const { core } = p;
    const levels = mode === 9 ? 4 : 3;
    // identity gigapage for the code (level-2 index of VA 0x8000_0000 is 2)
    let table = ROOT;
    if (levels === 4) {
      core.writePhys64(ROOT, pte(0x8010_1000n, PTE.V)); // level 3 -> level 2 table
      table = 0x8010_1000n;
    }
    core.writePhys64(table + 2n * 8n, pte(0x8000_0000n, PTE.V | PTE.R | PTE.W | PTE.X | PTE.A | PTE.D));
    core.writeCsr(0x180, (BigInt(mode) << 60n) | (ROOT >> 12n));
    core.writeCsr(0x300, (core.readCsr(0x300) & ~(3n << 11n)) | (1n << 11n)); // MPP = S
    core.writeCsr(0x341, p.symbols.get('main')!);
    core.writeCsr(0x305, p.symbols.get('trap')!);
    // enter S mode at main through mret semantics: set priv directly
    core.exports.setPriv(1);
    core.pc = p.symbols.get('main')!;
    return { ...p, table };
  }

  it('dirty bitmap: S-mode stores, A/D updates of the page table, AMOs, FP stores and page-straddling stores all mark their pages', async () => {
    const { core, symbols, table } = await pagedProgram(`
  li t0, 0x40000000
  ld a0, 8(t0)             # A set in the leaf PTE (its page is written by the walker)
  li t1, 0x40001000
  li a2, 5
  amoadd.d a1, a2, (t1)    # AMO
  li t2, 0x40002ffc
  sd a2, 0(t2)             # straddles into the next page
  li t3, 0x40004000
  fmv.d.x fa0, a2
  fsd fa0, 8(t3)           # FP store
  j done`);
    core.writePhys64(table + 1n * 8n, pte(0x8010_2000n, PTE.V));
    core.writePhys64(0x8010_2000n, pte(0x8010_3000n, PTE.V));
    core.writePhys64(0x8010_3000n, pte(0x8020_0000n, PTE.V | PTE.R | PTE.W)); // no A/D yet
    core.writePhys64(0x8010_3008n, pte(0x8020_1000n, PTE.V | PTE.R | PTE.W | PTE.A | PTE.D));
    core.writePhys64(0x8010_3010n, pte(0x8020_2000n, PTE.V | PTE.R | PTE.W | PTE.A | PTE.D));
    core.writePhys64(0x8010_3018n, pte(0x8020_4000n, PTE.V | PTE.R | PTE.W | PTE.A | PTE.D));
    core.writePhys64(0x8010_3020n, pte(0x8020_5000n, PTE.V | PTE.R | PTE.W | PTE.A | PTE.D));
    core.writeCsr(0x300, core.readCsr(0x300) | (1n << 13n)); // FS = Initial
    core.clearDirty();
    const r = runToHalt(core, symbols);
    expect(r.cause).toBe(DONE);
    const bm = core.dirtyBitmap().slice();
    const dirty = [...Array(bm.length * 8).keys()].filter((p) => (bm[p >> 3]! >> (p & 7)) & 1);
    // 0x103: the leaf page table (A set by the walker); 0x201 AMO; 0x202 + 0x204 the straddling store; 0x205 fsd
    expect(dirty.map((p) => p.toString(16))).toEqual(['103', '201', '202', '204', '205']);
  });

  it('translates a 4 KiB page, sets A then D, and faults with the exact address', async () => {
    const { core, symbols, table } = await pagedProgram(`
  li t0, 0x40000000
  ld a0, 8(t0)             # load: A set
  sd a0, 16(t0)            # store: D set
  li t1, 0x40001000
bad:
  lb a1, 3(t1)             # unmapped: load page fault`);
    // VA 0x4000_0000: L2 index 1 -> L1 table -> L0 table -> page at 0x8020_0000
    core.writePhys64(table + 1n * 8n, pte(0x8010_2000n, PTE.V));
    core.writePhys64(0x8010_2000n, pte(0x8010_3000n, PTE.V));
    core.writePhys64(0x8010_3000n, pte(0x8020_0000n, PTE.V | PTE.R | PTE.W));
    core.writePhys64(0x8020_0008n, 0xabcdn);
    const r = runToHalt(core, symbols);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.loadPage, symbols.get('bad'), 0x4000_1003n]);
    expect(core.getReg(10)).toBe(0xabcdn);
    expect(core.readPhys64(0x8020_0010n)).toBe(0xabcdn);
    const leaf = core.readPhys64(0x8010_3000n);
    expect(leaf & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
  });

  it('a misaligned superpage faults; a 2 MiB megapage translates', async () => {
    const { core, symbols, table } = await pagedProgram(`
  li t0, 0x40200000
  ld a0, 0(t0)             # megapage at PA 0x8040_0000
  li t0, 0x40400000
bad:
  ld a1, 0(t0)             # megapage with a PPN not 2 MiB aligned`);
    core.writePhys64(table + 1n * 8n, pte(0x8010_2000n, PTE.V));
    core.writePhys64(0x8010_2000n + 1n * 8n, pte(0x8040_0000n, PTE.V | PTE.R | PTE.A));
    core.writePhys64(0x8010_2000n + 2n * 8n, pte(0x8060_1000n, PTE.V | PTE.R | PTE.A));
    core.writePhys64(0x8040_0000n, 77n);
    const r = runToHalt(core, symbols);
    expect(core.getReg(10)).toBe(77n);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.loadPage, symbols.get('bad'), 0x4040_0000n]);
  });

  it('U pages: S may read them only with SUM; MXR makes execute-only pages readable', async () => {
    const { core, symbols, table } = await pagedProgram(`
  li t0, 1 << 18
  csrs sstatus, t0         # SUM
  li t1, 0x40000000
  ld a0, 0(t1)             # U page with SUM: ok
  li t0, 1 << 19
  csrs sstatus, t0         # MXR
  li t2, 0x40001000
  ld a1, 0(t2)             # X-only page with MXR: ok
  li t0, 1 << 18
  csrc sstatus, t0
bad:
  ld a2, 0(t1)             # U page without SUM: fault`);
    core.writePhys64(table + 1n * 8n, pte(0x8010_2000n, PTE.V));
    core.writePhys64(0x8010_2000n, pte(0x8010_3000n, PTE.V));
    core.writePhys64(0x8010_3000n, pte(0x8020_0000n, PTE.V | PTE.R | PTE.U | PTE.A));
    core.writePhys64(0x8010_3008n, pte(0x8020_1000n, PTE.V | PTE.X | PTE.A));
    core.writePhys64(0x8020_0000n, 1n);
    core.writePhys64(0x8020_1000n, 2n);
    const r = runToHalt(core, symbols);
    expect([core.getReg(10), core.getReg(11)]).toEqual([1n, 2n]);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.loadPage, symbols.get('bad'), 0x4000_0000n]);
  });

  it('Sv48: a four-level walk translates, and non-canonical addresses fault', async () => {
    const { core, symbols, table } = await pagedProgram(`
  li t0, 0x40400000
  ld a0, 0(t0)
  li t0, 0x0000800000000000
bad:
  ld a1, 0(t0)`, 9);
    core.writePhys64(table + 1n * 8n, pte(0x8000_0000n, PTE.V | PTE.R | PTE.A)); // 1 GiB page
    core.writePhys64(0x8040_0000n, 99n);
    const r = runToHalt(core, symbols);
    expect(core.getReg(10)).toBe(99n);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.loadPage, symbols.get('bad'), 0x0000_8000_0000_0000n]);
  });

  it('a 32-bit instruction straddling into an unmapped page faults with the second page address, epc at its start', async () => {
    const { core, symbols, table } = await pagedProgram(`
  li t0, 0x40000ffe
  jr t0`);
    core.writePhys64(table + 1n * 8n, pte(0x8010_2000n, PTE.V));
    core.writePhys64(0x8010_2000n, pte(0x8010_3000n, PTE.V));
    core.writePhys64(0x8010_3000n, pte(0x8020_0000n, PTE.V | PTE.R | PTE.X | PTE.A));
    // addi a0, a0, 1 (0x00150513): low half at the end of the mapped page
    core.writePhys(0x8020_0ffen, new Uint8Array([0x13, 0x05]));
    const r = runToHalt(core, symbols);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.fetchPage, 0x4000_0ffen, 0x4000_1000n]);
    void symbols;
  });

  it('a 32-bit instruction straddling two mapped pages executes', async () => {
    const { core, symbols, table } = await pagedProgram(`
  li a0, 41
  la ra, back
  li t0, 0x40000ffe
  jr t0
back:
  j done`);
    core.writePhys64(table + 1n * 8n, pte(0x8010_2000n, PTE.V));
    core.writePhys64(0x8010_2000n, pte(0x8010_3000n, PTE.V));
    core.writePhys64(0x8010_3000n, pte(0x8020_1000n, PTE.V | PTE.R | PTE.X | PTE.A)); // VA page 0 -> PA 0x8020_1000
    core.writePhys64(0x8010_3008n, pte(0x8020_0000n, PTE.V | PTE.R | PTE.X | PTE.A)); // VA page 1 -> PA 0x8020_0000
    core.writePhys(0x8020_1ffen, new Uint8Array([0x13, 0x05])); // addi a0, a0, 1: low half
    core.writePhys(0x8020_0000n, new Uint8Array([0x15, 0x00, 0x82, 0x80])); // high half, then ret (c.jr ra)
    const r = runToHalt(core, symbols);
    expect(r.cause).toBe(DONE);
    expect(core.getReg(10)).toBe(42n);
    // still in S mode with the page tables: the debugger view follows them, across the page edge
    expect(core.debugTranslate(0x4000_1000n)).toBe(0x8020_0000n);
    expect(core.disassembleAt(0x4000_0ffen)?.text).toBe('addi a0, a0, 1');
    expect(core.debugTranslate(0x5000_0000n)).toBeUndefined();
  });

  it('a load straddling two pages faults with the address in the second page when only that one is unmapped', async () => {
    const { core, symbols, table } = await pagedProgram(`
  li t0, 0x40000ffc
bad:
  ld a0, 0(t0)`);
    core.writePhys64(table + 1n * 8n, pte(0x8010_2000n, PTE.V));
    core.writePhys64(0x8010_2000n, pte(0x8010_3000n, PTE.V));
    core.writePhys64(0x8010_3000n, pte(0x8020_0000n, PTE.V | PTE.R | PTE.A));
    const r = runToHalt(core, symbols);
    expect([r.cause, r.epc, r.tval]).toEqual([CAUSE.loadPage, symbols.get('bad'), 0x4000_1000n]);
  });
});

describe.skipIf(!haveToolchain)('rv64 core: dirty pages and state', () => {
  it('marks written pages dirty; clearDirty resets the bitmap and the next store marks again', async () => {
    const { core } = await loadProgram(`${PRELUDE}
main:
  li t0, 0x80105000
  li t1, 0x80107000
1:
  sd t1, 0(t0)
  sd t1, 8(t1)
  j 1b
`);
    core.run(100);
    let bm = core.dirtyBitmap().slice();
    const bit = (page: number): number => (bm[page >> 3]! >> (page & 7)) & 1;
    expect(bit(0x105)).toBe(1);
    expect(bit(0x107)).toBe(1);
    expect(bit(0x106)).toBe(0);
    core.clearDirty();
    bm = core.dirtyBitmap().slice();
    expect(bm.every((b) => b === 0)).toBe(true);
    core.run(100);
    bm = core.dirtyBitmap().slice();
    expect(bit(0x105)).toBe(1);
    expect(bit(0x107)).toBe(1);
  });

  it('save/restore mid-run continues exactly as an uninterrupted run', async () => {
    const src = `${PRELUDE}
main:
  li t0, 0x2004000
  li t1, 3000
  sd t1, 0(t0)             # timer at mtime 3000 (deterministic: 30000 instructions)
  la t0, handler
  csrw mtvec, t0
  li t0, 1 << 7
  csrw mie, t0
  csrsi mstatus, 8
  li a0, 0
  li a1, 1
loop:
  add a2, a0, a1
  mv a0, a1
  mv a1, a2
  addi a3, a3, 1
  li t2, 100000
  blt a3, t2, loop
  j done
  .balign 4
handler:
  csrr a4, minstret
  li t0, 0x2004000
  li t1, -1
  sd t1, 0(t0)
  mret
`;
    const a = await loadProgram(src);
    const b = await loadProgram(src);
    a.core.run(12_345);
    const state = a.core.saveState();
    const ram = a.core.ram.slice();
    const c = await newCore();
    c.ram.set(ram);
    c.loadState(state);
    const total = 800_000; // enough to reach halt
    for (let left = total - 12_345; left > 0; left -= 50_000) c.run(Math.min(left, 50_000));
    for (let left = total; left > 0; left -= 30_000) b.core.run(Math.min(left, 30_000));
    expect(c.pc).toBe(a.symbols.get('halt'));
    expect(c.getReg(25)).toBe(DONE);
    for (let i = 0; i < 32; i++) expect(c.getReg(i), `x${i}`).toBe(b.core.getReg(i));
    expect(c.getReg(14)).toBeGreaterThan(0n); // the timer interrupt happened, at the same instret
    expect(c.readCsr(0xb02)).toBe(b.core.readCsr(0xb02));
    expect(c.instret).toBe(b.core.instret);
  });
});
