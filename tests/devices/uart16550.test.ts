import { describe, expect, it } from 'vitest';
import { Uart16550 } from '../../src/devices/uart16550.js';
import { BufferConsole } from '../../src/devices/backends/console.js';
import { TestIrq } from './helpers/virtio-driver.js';

const RBR = 0, THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function setup() {
  const irq = new TestIrq();
  const console = new BufferConsole();
  const uart = new Uart16550(irq, console);
  const r = (o: number) => uart.read(o, 1);
  const w = (o: number, v: number) => uart.write(o, 1, v);
  return { irq, console, uart, r, w };
}

describe('Uart16550', () => {
  it('sends THR writes to the back end and reports THR empty in LSR', () => {
    const { console, r, w } = setup();
    for (const c of 'hi\n') w(THR, c.charCodeAt(0));
    expect(console.takeText()).toBe('hi\n');
    expect(r(LSR) & 0x60).toBe(0x60);
    expect(r(LSR) & 0x01).toBe(0);
  });

  it('echoes host input through RBR in order, with DR set while data waits', () => {
    const { console, r } = setup();
    console.type('abc');
    const got: string[] = [];
    while (r(LSR) & 1) got.push(String.fromCharCode(r(RBR)));
    expect(got.join('')).toBe('abc');
    expect(r(RBR)).toBe(0); // empty FIFO reads 0
  });

  it('keeps a paste longer than the 16-byte FIFO without overrun', () => {
    const { uart, r, w } = setup();
    w(FCR, 0x07); // enable + clear FIFOs
    const text = 'x'.repeat(40) + 'END';
    uart.receive(new TextEncoder().encode(text));
    let got = '';
    for (let i = 0; i < 100 && r(LSR) & 1; i++) got += String.fromCharCode(r(RBR));
    expect(got).toBe(text);
    expect(r(LSR) & 0x02).toBe(0);
  });

  it('drains a 1 MiB paste in linear time', () => {
    const { uart, r, w } = setup();
    w(FCR, 0x01);
    const big = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    uart.receive(big);
    const start = Date.now();
    let n = 0;
    let ok = true;
    while (r(LSR) & 1) {
      if (r(RBR) !== (n & 0xff)) ok = false;
      n++;
    }
    expect(n).toBe(1 << 20);
    expect(ok).toBe(true);
    expect(Date.now() - start).toBeLessThan(5000);
    uart.receive(new Uint8Array(10)); // and the cap holds: more than 1 MiB at once is cut
    uart.receive(new Uint8Array((1 << 20) + 5));
    let m = 0;
    while (r(LSR) & 1) (r(RBR), m++);
    expect(m).toBe(10 + (1 << 20)); // 10 in the FIFO, 1 MiB waiting
  });

  it('holds one byte without FIFO and 16 with it', () => {
    const { uart, r, w } = setup();
    w(MCR, 0x10); // loopback: bytes written go into the receive FIFO, overflow sets OE
    for (let i = 0; i < 3; i++) w(THR, 0x41 + i);
    expect(r(LSR) & 0x03).toBe(0x03); // DR + OE
    expect(r(LSR) & 0x02).toBe(0); // OE cleared by reading LSR
    expect(r(RBR)).toBe(0x41);
    w(FCR, 0x01);
    for (let i = 0; i < 16; i++) w(THR, i);
    expect(r(LSR) & 0x02).toBe(0);
    w(THR, 0xff);
    expect(r(LSR) & 0x02).toBe(0x02);
    for (let i = 0; i < 16; i++) expect(r(RBR)).toBe(i);
    void uart;
  });

  it('raises RX interrupt only when IER enables it, and clears it when the FIFO drains', () => {
    const { irq, console, r, w } = setup();
    console.type('A');
    expect(irq.level).toBe(false);
    expect(r(IIR) & 0x0f).toBe(0x01); // no interrupt pending
    w(IER, 0x01);
    expect(irq.level).toBe(true);
    expect(r(IIR) & 0x0f).toBe(0x04); // received data available (non-FIFO mode: trigger 1)
    expect(r(RBR)).toBe(0x41);
    expect(irq.level).toBe(false);
    expect(r(IIR) & 0x0f).toBe(0x01);
  });

  it('reports a character timeout below the FIFO trigger level and RDA at it', () => {
    const { uart, r, w } = setup();
    w(FCR, 0x81); // FIFO on, trigger level 8
    w(IER, 0x01);
    uart.receive(new TextEncoder().encode('abc'));
    expect(r(IIR)).toBe(0xc0 | 0x0c);
    uart.receive(new TextEncoder().encode('defgh'));
    expect(r(IIR)).toBe(0xc0 | 0x04);
  });

  it('raises THRE when enabled, clears it by reading IIR, and raises it again after a THR write', () => {
    const { irq, console, r, w } = setup();
    w(IER, 0x02);
    expect(irq.level).toBe(true);
    expect(r(IIR) & 0x0f).toBe(0x02);
    expect(irq.level).toBe(false); // reading IIR with THRE as the source clears it
    expect(r(IIR) & 0x0f).toBe(0x01);
    w(THR, 0x5a);
    expect(irq.level).toBe(true);
    w(IER, 0x00);
    expect(irq.level).toBe(false);
    expect(console.takeBytes()).toEqual(Uint8Array.of(0x5a));
  });

  it('gives RX data priority over THRE in IIR', () => {
    const { console, r, w } = setup();
    w(IER, 0x03);
    console.type('z');
    expect(r(IIR) & 0x0f).toBe(0x04);
    r(RBR);
    expect(r(IIR) & 0x0f).toBe(0x02);
  });

  it('maps the divisor latch over RBR/IER while DLAB is set', () => {
    const { console, r, w } = setup();
    w(IER, 0x05);
    w(LCR, 0x83);
    w(0, 0x01);
    w(1, 0x00);
    expect(r(0)).toBe(0x01);
    expect(r(1)).toBe(0x00);
    w(LCR, 0x03);
    expect(r(IER)).toBe(0x05);
    expect(r(LCR)).toBe(0x03);
    expect(console.takeBytes().length).toBe(0); // the divisor write did not transmit
  });

  it('loops MCR outputs back to MSR in loopback mode and records the deltas', () => {
    const { r, w } = setup();
    expect(r(MSR) & 0xf0).toBe(0xb0); // DCD, DSR, CTS asserted on a connected line
    w(MCR, 0x10 | 0x02); // loop + RTS
    const msr = r(MSR);
    expect(msr & 0xf0).toBe(0x10); // only CTS (from RTS)
    expect(msr & 0x0f).toBe(0x02 | 0x08); // DSR and DCD changed
    expect(r(MSR) & 0x0f).toBe(0); // deltas clear on read
  });

  it('keeps the scratch register and ignores wide or out-of-range accesses', () => {
    const { uart, r, w } = setup();
    w(SCR, 0xa5);
    expect(r(SCR)).toBe(0xa5);
    uart.write(0, 4, 0x41);
    expect(uart.read(SCR, 4)).toBe(0);
    expect(uart.read(0x80, 1)).toBe(0);
  });

  it('saves and restores its registers and FIFO', () => {
    const a = setup();
    a.w(FCR, 0x01);
    a.w(IER, 0x01);
    a.w(SCR, 0x42);
    const text = 'hello, this is longer than the FIFO';
    a.uart.receive(new TextEncoder().encode(text));
    const state = structuredClone(a.uart.saveState());
    const b = setup();
    b.uart.loadState(state);
    expect(b.irq.level).toBe(true);
    expect(b.r(SCR)).toBe(0x42);
    let s = '';
    while (b.r(LSR) & 1) s += String.fromCharCode(b.r(RBR));
    expect(s).toBe(text);
    expect(() => b.uart.loadState({ version: 99 })).toThrow();
  });
});
