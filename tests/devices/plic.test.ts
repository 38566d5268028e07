import { describe, expect, it } from 'vitest';
import { Plic } from '../../src/devices/plic.js';

const prio = (n: number) => 4 * n;
const PENDING = 0x1000;
const enable = (ctx: number, word = 0) => 0x2000 + 0x80 * ctx + 4 * word;
const threshold = (ctx: number) => 0x20_0000 + 0x1000 * ctx;
const claim = (ctx: number) => 0x20_0000 + 0x1000 * ctx + 4;

function setup() {
  const plic = new Plic();
  const out = [false, false];
  plic.connectOutput(0, (l) => (out[0] = l));
  plic.connectOutput(1, (l) => (out[1] = l));
  const r = (o: number) => plic.read(o, 4) as number;
  const w = (o: number, v: number) => plic.write(o, 4, v);
  return { plic, out, r, w };
}

describe('Plic', () => {
  it('shows a raised line as pending but does not interrupt until enabled with priority above threshold', () => {
    const { plic, out, r, w } = setup();
    plic.line(10).set(true);
    expect(r(PENDING) & (1 << 10)).not.toBe(0);
    expect(out).toEqual([false, false]);
    w(enable(1), 1 << 10);
    expect(out[1]).toBe(false); // priority 0 never interrupts
    w(prio(10), 1);
    expect(out).toEqual([false, true]);
    w(threshold(1), 1);
    expect(out[1]).toBe(false); // priority must exceed the threshold
    w(threshold(1), 0);
    expect(out[1]).toBe(true);
  });

  it('claims the highest priority source, then the lowest id among equals', () => {
    const { plic, r, w } = setup();
    for (const n of [3, 5, 7]) {
      w(prio(n), n === 5 ? 6 : 2);
      plic.line(n).set(true);
    }
    w(enable(1), (1 << 3) | (1 << 5) | (1 << 7));
    expect(r(claim(1))).toBe(5);
    expect(r(claim(1))).toBe(3);
    expect(r(claim(1))).toBe(7);
    expect(r(claim(1))).toBe(0);
  });

  it('is level-triggered: a line still high after complete is pending again; one that dropped is not', () => {
    const { plic, out, r, w } = setup();
    const line = plic.line(1);
    w(prio(1), 1);
    w(enable(1), 1 << 1);
    line.set(true);
    expect(r(claim(1))).toBe(1);
    expect(out[1]).toBe(false); // claimed: not pending while in service
    line.set(true); // a device re-asserting does not re-pend before completion
    expect(r(PENDING) & 2).toBe(0);
    w(claim(1), 1); // complete
    expect(out[1]).toBe(true);
    expect(r(claim(1))).toBe(1);
    line.set(false);
    w(claim(1), 1);
    expect(out[1]).toBe(false);
    expect(r(claim(1))).toBe(0);
  });

  it('withdraws a request when the line drops before it is claimed', () => {
    const { plic, out, w } = setup();
    w(prio(2), 1);
    w(enable(0), 1 << 2);
    plic.line(2).set(true);
    expect(out[0]).toBe(true);
    plic.line(2).set(false);
    expect(out[0]).toBe(false);
  });

  it('keeps the M and S contexts apart', () => {
    const { plic, out, r, w } = setup();
    w(prio(4), 1);
    w(prio(6), 1);
    w(enable(0), 1 << 4);
    w(enable(1), 1 << 6);
    plic.line(6).set(true);
    expect(out).toEqual([false, true]);
    expect(r(claim(0))).toBe(0); // not enabled for M
    plic.line(4).set(true);
    expect(out).toEqual([true, true]);
    expect(r(claim(0))).toBe(4);
    expect(r(claim(1))).toBe(6);
    expect(out).toEqual([false, false]);
  });

  it('ignores completion of an id not enabled for that context or out of range', () => {
    const { plic, r, w } = setup();
    w(prio(3), 1);
    w(enable(1), 1 << 3);
    plic.line(3).set(true);
    expect(r(claim(1))).toBe(3);
    w(claim(0), 3); // context 0 does not have source 3 enabled: ignored
    expect(r(PENDING) & 8).toBe(0);
    w(claim(1), 0xffff_ffff);
    w(claim(1), 96);
    w(claim(1), 3);
    expect(r(claim(1))).toBe(3); // still high, re-pended by the real completion
  });

  it('hardwires source 0 and sources beyond 95, masks priorities to 3 bits and ignores odd accesses', () => {
    const { r, w, plic } = setup();
    w(enable(1, 0), 0xffff_ffff);
    expect(r(enable(1, 0))).toBe(0xffff_fffe);
    w(enable(1, 3), 0xffff_ffff);
    expect(r(enable(1, 3))).toBe(0);
    w(prio(0), 7);
    expect(r(prio(0))).toBe(0);
    w(prio(9), 0xff);
    expect(r(prio(9))).toBe(7);
    w(PENDING, 0xffff_ffff);
    expect(r(PENDING)).toBe(0);
    expect(plic.read(claim(1), 1)).toBe(0);
    expect(r(threshold(5))).toBe(0); // no context 5
    w(0x5f_fffc, 1);
    expect(() => plic.line(0)).toThrow(RangeError);
    expect(() => plic.line(96)).toThrow(RangeError);
  });

  it('restores priorities, enables, thresholds and in-service state', () => {
    const a = setup();
    a.w(prio(10), 3);
    a.w(enable(1), 1 << 10);
    a.plic.line(10).set(true);
    const state = JSON.parse(JSON.stringify(a.plic.saveState()));
    const b = setup();
    b.plic.loadState(state);
    expect(b.out[1]).toBe(true);
    expect(b.r(prio(10))).toBe(3);
    expect(b.r(claim(1))).toBe(10);
  });
});
