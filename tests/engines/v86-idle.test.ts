// An idle x86 guest must not make v86 poll or wake early. v86's loop asks for its next tick in `t`
// ms; when a halted CPU's next timer event was under 1 ms away it polled with setImmediate until
// then, and longer waits went to setTimeout as a fraction that fires up to 1 ms early (the tick
// then found nothing due and slept again: two host wake-ups per guest timer interrupt). The
// engine sleeps past the deadline instead: over an idle window, v86 is never asked to wait less
// than 1 ms, and almost every timed sleep ends with the guest's timer due.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { ImageEntry } from '../../src/engines/engine.js';
import { NodeAssetLoader, PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { idleSleepMs, V86Engine } from '../../src/engines/v86/engine.js';
import { bootConfigFromImage } from '../../src/worker/image-files.js';

const assets = new NodeAssetLoader();
const manifest = JSON.parse(readFileSync(`${PROJECT_ROOT}/images/manifest.json`, 'utf8')) as { images: ImageEntry[] };
const image = manifest.images.find((i) => i.name === 'x86-busybox')!;
let engine: V86Engine | undefined;

afterAll(async () => {
  await engine?.destroy();
});

describe('v86 idle loop', () => {
  it('sleeps past the next timer event, in whole milliseconds, instead of polling', () => {
    expect(idleSleepMs(0)).toBe(0); // a running CPU ticks again at once
    expect(idleSleepMs(0.01)).toBe(2);
    expect(idleSleepMs(0.99)).toBe(2);
    expect(idleSleepMs(1)).toBe(2);
    expect(idleSleepMs(27.46)).toBe(29); // the PIT's longest oneshot: past it, never before

  });

  it('an idle guest never makes v86 poll, and its timed sleeps do not end early', { timeout: 180_000 }, async () => {
    engine = new V86Engine(await bootConfigFromImage(image, assets), assets);
    let console = '';
    engine.onConsole((d) => { console += Buffer.from(d).toString('latin1'); });
    await engine.start();
    const deadline = Date.now() + 150_000;
    while (!console.includes('tabvisor-guest-ready')) {
      if (Date.now() > deadline) throw new Error(`no ready marker; console:\n${console.slice(-1000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Record what reaches v86's own yield (the prototype's: the engine's wrapper calls it), and
    // what v86's loop asked the wrapper for (the time to its next timer event).
    const main = (engine as unknown as { emulator: { v86: { yield: (t: number, tick: number) => void } } }).emulator.v86;
    const proto = Object.getPrototypeOf(main) as { yield: (t: number, tick: number) => void };
    const original = proto.yield;
    const wrapper = main.yield;
    const waits: number[] = [];
    let asked = 0;
    let early = 0; // timed sleeps after which the guest's timer was still not due
    proto.yield = function (this: unknown, t: number, tick: number) {
      waits.push(t);
      return original.call(this, t, tick);
    };
    main.yield = (t, tick) => {
      if (asked >= 1 && t > 0 && t < 1) early++;
      asked = t;
      wrapper(t, tick);
    };
    try {
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      proto.yield = original;
      main.yield = wrapper;
    }
    const sleeps = waits.filter((t) => t >= 1);
    const polls = waits.filter((t) => t > 0 && t < 1);
    expect(sleeps.length).toBeGreaterThan(10); // the guest idled and v86 slept between its timers
    expect(polls).toEqual([]);
    // v86 is handed whole milliseconds past its deadline (a fraction fired early about every
    // second sleep); a timer firing late under load never counts as early.
    expect(sleeps.every((t) => Number.isInteger(t))).toBe(true);
    expect(early).toBeLessThanOrEqual(sleeps.length / 10);
  });
});
