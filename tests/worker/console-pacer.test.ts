// The console pacer (src/worker/console-pacer.ts): a terminal's cursor report reaches the guest
// alone, and what follows waits until the guest has read it and run REPORT_SETTLE_MS more, on
// the guest's own run time (a starved guest or a busy worker gets both at once otherwise).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConsolePacer, PACER_POLL_MS, REPORT_SETTLE_MS, endsWithReport, splitAfterReport } from '../../src/worker/console-pacer.js';

function fakeEngine() {
  const engine = {
    got: [] as string[],
    unread: 0,
    runMs: 0,
    sendConsole(data: Uint8Array | string) {
      const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
      engine.got.push(text);
      engine.unread += text.length;
    },
    consoleInputWaiting: () => engine.unread,
    stats: () => ({ instructions: 0, runMs: engine.runMs, memoryBytes: 0 }),
  };
  return engine;
}

/** Wall time passes while the guest runs `runMs` of it (0: the guest is starved or paused). */
function pass(engine: ReturnType<typeof fakeEngine>, wallMs: number, runMs = wallMs): void {
  for (let t = 0; t < wallMs; t += PACER_POLL_MS) {
    engine.runMs += (runMs * PACER_POLL_MS) / wallMs;
    vi.advanceTimersByTime(PACER_POLL_MS);
  }
}

describe('console pacer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('finds a cursor report and what follows it', () => {
    expect(splitAfterReport('\x1b[24;80Rls\r')).toEqual(['\x1b[24;80R', 'ls\r']);
    expect(splitAfterReport('ab\x1b[1;5R')).toBeUndefined();
    expect(splitAfterReport('ls\r')).toBeUndefined();
    expect(splitAfterReport('\x1b[A')).toBeUndefined();
    const bytes = new TextEncoder().encode('\x1b[3;7Rx');
    expect(splitAfterReport(bytes)!.map((p) => Array.from(p as Uint8Array))).toEqual([[27, 91, 51, 59, 55, 82], [120]]);
    expect(endsWithReport('x\x1b[3;7R')).toBe(true);
    expect(endsWithReport('\x1b[3;7Rx')).toBe(false);
  });

  it('plain typing goes to the guest at once', () => {
    const engine = fakeEngine();
    const pacer = new ConsolePacer(engine);
    pacer.send('ls');
    pacer.send('\r');
    expect(engine.got).toEqual(['ls', '\r']);
  });

  it('one piece with a report and a line: the line waits until the guest read the report and ran on', () => {
    const engine = fakeEngine();
    const pacer = new ConsolePacer(engine);
    pacer.send('\x1b[24;80Recho hi\r');
    expect(engine.got).toEqual(['\x1b[24;80R']);
    pass(engine, 500); // the guest runs but does not read its device
    expect(engine.got).toEqual(['\x1b[24;80R']);
    engine.unread = 0; // now it has read the report
    pass(engine, REPORT_SETTLE_MS - 2 * PACER_POLL_MS);
    expect(engine.got).toEqual(['\x1b[24;80R']);
    pass(engine, 3 * PACER_POLL_MS);
    expect(engine.got).toEqual(['\x1b[24;80R', 'echo hi\r']);
    expect(pacer.holding).toBe(false);
  });

  it('a starved guest (wall time passes, it does not run) keeps the line waiting', () => {
    const engine = fakeEngine();
    const pacer = new ConsolePacer(engine);
    pacer.send('\x1b[1;5R');
    pacer.send('echo hi\r');
    engine.unread = 0;
    pass(engine, 2000, 0);
    expect(engine.got).toEqual(['\x1b[1;5R']);
    pass(engine, REPORT_SETTLE_MS + PACER_POLL_MS);
    expect(engine.got).toEqual(['\x1b[1;5R', 'echo hi\r']);
  });

  it('several reports in a row each go in alone, the rest in order', () => {
    const engine = fakeEngine();
    const pacer = new ConsolePacer(engine);
    pacer.send('a\x1b[1;1Rb\x1b[2;2Rc');
    pacer.send('d');
    for (let i = 0; i < 3; i++) {
      engine.unread = 0;
      pass(engine, REPORT_SETTLE_MS + 2 * PACER_POLL_MS);
    }
    expect(engine.got).toEqual(['a\x1b[1;1R', 'b\x1b[2;2R', 'c', 'd']);
  });

  it('clear drops what was held (the machine was replaced) and stops looking', () => {
    const engine = fakeEngine();
    const pacer = new ConsolePacer(engine);
    pacer.send('\x1b[1;1Rold');
    pacer.clear();
    engine.unread = 0;
    pass(engine, 1000);
    expect(engine.got).toEqual(['\x1b[1;1R']);
    expect(vi.getTimerCount()).toBe(0);
    pacer.send('new');
    expect(engine.got).toEqual(['\x1b[1;1R', 'new']);
  });
});
