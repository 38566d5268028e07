import { describe, expect, it } from 'vitest';
import { EventOutbox } from '../../src/worker/event-outbox.js';
import { MarkerWatcher } from '../../src/worker/marker-watcher.js';
import type { VmEvent } from '../../src/worker/protocol.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('MarkerWatcher', () => {
  it('finds the ready marker inside a chunk', () => {
    const w = new MarkerWatcher('tabvisor-guest-ready');
    expect(w.push(bytes('[    1.0] init\r\n'))).toBe(false);
    expect(w.push(bytes('tabvisor-guest-ready\r\n/ # '))).toBe(true);
    expect(w.found).toBe(true);
  });

  it('finds a marker split over one-byte chunks, after a false start', () => {
    const w = new MarkerWatcher('abab-c');
    const stream = 'xxabab-abab-c!';
    const hits = [...stream].map((ch) => w.push(bytes(ch)));
    expect(hits.indexOf(true)).toBe(stream.indexOf('abab-c') + 'abab-c'.length - 1);
    expect(hits.filter(Boolean)).toHaveLength(1);
  });

  it('does not report a marker that never completes', () => {
    const w = new MarkerWatcher('tabvisor-guest-ready');
    expect(w.push(bytes('tabvisor-guest-rea'))).toBe(false);
    expect(w.push(bytes('dy-not'))).toBe(true);
    const v = new MarkerWatcher('tabvisor-guest-ready');
    expect(v.push(bytes('tabvisor-guest-rea'))).toBe(false);
    expect(v.push(bytes('d'))).toBe(false);
    expect(v.found).toBe(false);
  });
});

describe('EventOutbox', () => {
  it('merges console bytes of one VM into one event, in order with other events', () => {
    const outbox = new EventOutbox();
    const batches: VmEvent[][] = [];
    outbox.subscribe((events) => void batches.push(events));
    for (const ch of 'hello') outbox.post({ kind: 'console', vmId: 'a', data: bytes(ch) });
    outbox.post({ kind: 'console', vmId: 'b', data: bytes('B') });
    outbox.post({ kind: 'ready', vmId: 'a' });
    outbox.post({ kind: 'console', vmId: 'a', data: bytes(' world') });
    outbox.flush();
    expect(batches).toHaveLength(1);
    const summary = batches[0].map((e) => (e.kind === 'console' ? `${e.vmId}:${text(e.data)}` : `${e.vmId}:${e.kind}`));
    expect(summary).toEqual(['a:hello', 'b:B', 'a:ready', 'a: world']);
  });

  it('copies console bytes, so an engine reusing its buffer does not change delivered output', () => {
    const outbox = new EventOutbox();
    const seen: string[] = [];
    outbox.subscribe((events) => events.forEach((e) => e.kind === 'console' && seen.push(text(e.data))));
    const buffer = bytes('one');
    outbox.post({ kind: 'console', vmId: 'a', data: buffer });
    buffer.set(bytes('two'));
    outbox.flush();
    expect(seen).toEqual(['one']);
  });

  it('drops a subscriber whose delivery fails and keeps serving the others', async () => {
    const outbox = new EventOutbox();
    const seen: VmEvent[] = [];
    outbox.subscribe(() => Promise.reject(new Error('client gone')));
    outbox.subscribe((events) => void seen.push(...events));
    outbox.post({ kind: 'ready', vmId: 'a' });
    outbox.flush();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(outbox.subscriberCount).toBe(1);
    outbox.post({ kind: 'ready', vmId: 'b' });
    outbox.flush();
    expect(seen.map((e) => e.vmId)).toEqual(['a', 'b']);
  });
});
