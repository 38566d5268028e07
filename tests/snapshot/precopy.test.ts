// Pre-copy (src/snapshot/precopy.ts) and the migration conversation (migration-stream.ts,
// live-ops.ts migrateIn) against a scripted machine: a "guest" writes pages between the copier's
// chunks, so the receiver is only right if every page written after its copy is sent again.
import { describe, expect, it } from 'vitest';
import { PAGE_BYTES, type LiveStateSource, type PageSet } from '../../src/engines/live-state.js';
import { precopy, ShadowRam } from '../../src/snapshot/precopy.js';
import { Inbox, MIGRATION_FORMAT, type MigrationChannel, type MigrationMessage, type MigrationReply } from '../../src/snapshot/migration-stream.js';
import { migrateIn } from '../../src/worker/live-ops.js';

const PAGES = 256;
/** Byte equality of two large arrays (vitest's deep equality is slow on megabytes). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/**
 * A machine whose guest writes `perYield` pages (round robin) each time the copier yields, scaled
 * by the share of time the throttle leaves it; `calls` records what the copier did to it.
 */
function scripted(perYield: number) {
  const ram = new Uint8Array(PAGES * PAGE_BYTES);
  let dirty = new Uint8Array(PAGES / 8);
  for (let p = 0; p < PAGES; p += 3) ram[p * PAGE_BYTES + 7] = p; // some non-zero pages, some zero ones
  let next = 0;
  let tick = 1;
  let paused = false;
  let share = 100;
  const calls: string[] = [];
  const write = (p: number): void => {
    ram[p * PAGE_BYTES + ((tick * 13) % PAGE_BYTES)] = tick & 0xff || 1;
    dirty[p >> 3]! |= 1 << (p & 7);
  };
  const source: LiveStateSource = {
    ramBytes: ram.length,
    ram: () => ram,
    takeDirty: () => {
      const d = dirty;
      dirty = new Uint8Array(PAGES / 8);
      return d;
    },
    stateWithPages: () => new Uint8Array(0),
  };
  return {
    ram,
    calls,
    get share() { return share; },
    get paused() { return paused; },
    source: () => source,
    control: {
      pause: async () => { paused = true; calls.push('pause'); },
      yieldNow: async () => {
        if (paused) throw new Error('the copier yielded after pausing the guest');
        const n = Math.round((perYield * share) / 100);
        for (let i = 0; i < n; i++) { write((next = (next + 7) % PAGES)); tick++; }
      },
    },
    throttle: (percent: number) => { share = percent; calls.push(`throttle ${percent}`); },
  };
}

describe('pre-copy', () => {
  it('ends with a receiver equal to the paused machine, pages written during the copy sent again', async () => {
    const m = scripted(3);
    const shadow = new ShadowRam(m.ram.length);
    const report = await precopy(m.source, shadow.sink, m.control, { chunkPages: 16, stopPages: 8 });
    expect(same(shadow.ram, m.ram)).toBe(true);
    expect(report.converged).toBe('few-dirty-pages');
    // round 1: only the non-zero pages (those set up, and some the guest wrote before their chunk)
    expect(report.rounds[0]!.pages).toBeGreaterThanOrEqual(Math.ceil(PAGES / 3));
    expect(report.rounds[0]!.pages).toBeLessThan(PAGES);
    expect(report.rounds.length).toBeGreaterThanOrEqual(2);
    // the page set of the shadow is the machine's non-zero pages
    const set = shadow.pages();
    for (let i = 0; i < set.indices.length; i++) {
      const p = set.indices[i]!;
      expect(same(set.data.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES), m.ram.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES))).toBe(true);
    }
  });

  it('a guest that writes faster than the rounds shrink stops at the round limit and is still copied exactly', async () => {
    const m = scripted(40);
    const received = new Uint8Array(m.ram.length);
    const sink = (s: PageSet): void => {
      s.indices.forEach((p, i) => received.set(s.data.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES), p * PAGE_BYTES));
    };
    const report = await precopy(m.source, sink, m.control, { chunkPages: 8, stopPages: 4, maxRounds: 3 });
    expect(report.converged).toBe('round-limit');
    expect(report.rounds.length).toBe(3);
    expect(report.finalPages).toBeGreaterThan(4);
    expect(same(received, m.ram)).toBe(true);
  });
});

describe('pre-copy auto-throttle', () => {
  it('throttles a guest that writes faster than the rounds shrink until it converges, then gives its time back after the pause', async () => {
    const m = scripted(40);
    const received = new Uint8Array(m.ram.length);
    const sink = (s: PageSet): void => {
      s.indices.forEach((p, i) => received.set(s.data.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES), p * PAGE_BYTES));
    };
    const report = await precopy(m.source, sink, { ...m.control, throttle: m.throttle }, { chunkPages: 8, stopPages: 4, maxRounds: 12 });
    expect(report.converged).toBe('few-dirty-pages');
    expect(report.throttle!.steps).toBeGreaterThanOrEqual(2);
    expect(report.throttle!.percent).toBe(Math.max(5, 100 / 2 ** report.throttle!.steps)); // halved each step, floor 5 %
    // each round says the share the guest had; the shares only go down
    const shares = report.rounds.map((r) => r.throttlePercent);
    expect(shares[0]).toBe(100);
    expect(shares.at(-1)).toBe(report.throttle!.percent);
    for (let i = 1; i < shares.length; i++) expect(shares[i]).toBeLessThanOrEqual(shares[i - 1]!);
    expect(report.rounds.at(-1)!.pages).toBeLessThanOrEqual(4);
    // the throttle is lifted only once the guest is paused, and the copy is exact
    expect(m.calls.slice(-2)).toEqual(['pause', 'throttle 100']);
    expect(m.share).toBe(100);
    expect(same(received, m.ram)).toBe(true);
    expect(report.totalMs).toBeGreaterThanOrEqual(0);
  });

  it('the same guest without a throttle runs into the round limit with a bigger final set', async () => {
    const m = scripted(40);
    const report = await precopy(m.source, () => {}, m.control, { chunkPages: 8, stopPages: 4, maxRounds: 12 });
    expect(report.converged).toBe('round-limit');
    expect(report.throttle).toBeUndefined();
    expect(report.finalPages).toBeGreaterThan(4);
  });

  it('stops at the floor share and then at the round limit when even that is too fast', async () => {
    const m = scripted(4000);
    const report = await precopy(m.source, () => {}, { ...m.control, throttle: m.throttle }, { chunkPages: 8, stopPages: 4, maxRounds: 10, throttleFloorPercent: 10 });
    expect(report.converged).toBe('round-limit');
    expect(report.throttle!.percent).toBe(10);
    expect(report.throttle!.steps).toBe(4); // 50, 25, 12.5, then the floor
    expect(m.calls.filter((c) => c.startsWith('throttle')).slice(0, 5)).toEqual(['throttle 50', 'throttle 25', 'throttle 12.5', 'throttle 10', 'throttle 100']);
    expect(m.share).toBe(100);
  });

  it('never throttles a guest whose writes the rounds outpace', async () => {
    const m = scripted(1);
    const report = await precopy(m.source, () => {}, { ...m.control, throttle: m.throttle }, { chunkPages: 16, stopPages: 8 });
    expect(report.converged).toBe('few-dirty-pages');
    expect(report.throttle).toBeUndefined();
    expect(m.calls).toEqual(['pause']);
  });

  it('a copy that fails gives the running guest its full share back and does not pause it', async () => {
    const m = scripted(40);
    let batches = 0;
    const sink = (): void => {
      if (++batches === 40) throw new Error('the target went away');
    };
    await expect(precopy(m.source, sink, { ...m.control, throttle: m.throttle }, { chunkPages: 8, stopPages: 4, maxRounds: 12 })).rejects.toThrow('the target went away');
    expect(m.calls.some((c) => c === 'throttle 50')).toBe(true);
    expect(m.calls.at(-1)).toBe('throttle 100');
    expect(m.paused).toBe(false);
    expect(m.share).toBe(100);
  });
});

/** Two ends of an in-memory channel. */
function pair(): [MigrationChannel<MigrationMessage, MigrationReply>, MigrationChannel<MigrationReply, MigrationMessage>] {
  const toReceiver = new Inbox<MigrationMessage>();
  const toSender = new Inbox<MigrationReply>();
  return [
    { send: (m) => toReceiver.push(m), next: () => toSender.next(), close: () => {} },
    { send: (m) => toSender.push(m), next: () => toReceiver.next(), close: () => {} },
  ];
}

function fakeEngine() {
  const written: number[] = [];
  return {
    written,
    engine: {
      kind: 'rv64' as const,
      liveState: () => undefined,
      replaceRam: () => new Uint8Array(0),
      incoming: {
        beginIncoming: async () => {},
        writePages: (s: PageSet) => { written.push(...s.indices); },
        finishIncoming: async () => {},
      },
    },
  };
}

describe('migration conversation: the receiver refuses with one line', () => {
  async function converse(messages: MigrationMessage[]): Promise<{ replies: MigrationReply[]; error: unknown; discarded: boolean; written: number[] }> {
    const [sender, receiver] = pair();
    const fake = fakeEngine();
    let discarded = false;
    const done = migrateIn(receiver, {
      accept: async () => fake.engine as never,
      start: async () => {},
      discard: async () => { discarded = true; },
    }).then(() => undefined, (e: unknown) => e);
    const replies: MigrationReply[] = [];
    for (const m of messages) {
      sender.send(m);
      if (m.t === 'abort') break;
      const r = await sender.next();
      replies.push(r);
      if (r.t === 'refused') break;
    }
    return { replies, error: await done, discarded, written: fake.written };
  }
  const hello = (over: Partial<Extract<MigrationMessage, { t: 'hello' }>> = {}): MigrationMessage =>
    ({ t: 'hello', engine: 'rv64', format: MIGRATION_FORMAT, memoryMiB: 1, state: new Uint8Array(8), ...over }) as MigrationMessage;

  it('another conversation version', async () => {
    const r = await converse([hello({ format: 99 })]);
    expect(r.replies).toEqual([{ t: 'refused', message: `migration format 99 is not this build's (${MIGRATION_FORMAT})` }]);
    expect(r.discarded).toBe(true);
  });

  it('pages before hello, and a page beyond the machine\'s RAM (nothing written)', async () => {
    const page = { t: 'pages', indices: new Uint32Array([0]), data: new Uint8Array(PAGE_BYTES) } as MigrationMessage;
    expect((await converse([page])).replies).toEqual([{ t: 'refused', message: 'the conversation did not start with hello' }]);
    const beyond = { t: 'pages', indices: new Uint32Array([1, 256]), data: new Uint8Array(2 * PAGE_BYTES) } as MigrationMessage;
    const r = await converse([hello(), beyond]);
    expect(r.replies[1]).toEqual({ t: 'refused', message: 'a page message names page 256, beyond the 256 pages of RAM' });
    expect(r.written).toEqual([]);
    const short = { t: 'pages', indices: new Uint32Array([1]), data: new Uint8Array(10) } as MigrationMessage;
    expect((await converse([hello(), short])).replies[1]).toEqual({ t: 'refused', message: 'a page message is malformed' });
  });

  it('a sender that gives up: the half-received machine is dropped', async () => {
    const r = await converse([hello(), { t: 'abort', message: 'the guest powered off' }]);
    expect(r.discarded).toBe(true);
    expect(String(r.error)).toMatch(/the sender gave up: the guest powered off/);
  });

  it('a whole conversation: pages written, then started at commit', async () => {
    const page = { t: 'pages', indices: new Uint32Array([3, 9]), data: new Uint8Array(2 * PAGE_BYTES) } as MigrationMessage;
    const r = await converse([hello(), page, { t: 'final', state: new Uint8Array(8) }, { t: 'commit' }]);
    expect(r.replies).toEqual([{ t: 'ok' }, { t: 'ok' }, { t: 'ok' }, { t: 'ok' }]);
    expect(r.written).toEqual([3, 9]);
    expect(r.error).toBeUndefined();
    expect(r.discarded).toBe(false);
  });
});
