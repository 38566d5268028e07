// The gateway's TCP endpoint with crafted segments: handshake, duplicates and gaps from the
// guest, the guest's window and MSS, zero-window probes, retransmits, FIN (a guest's FIN is a half-close) and RST both ways.

import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOut, type TcpSegment } from '../../src/devices/backends/ip-packets.js';
import { OUR_MSS, RECEIVE_WINDOW, TcpConnection, type TcpUpstream } from '../../src/devices/backends/tcp-endpoint.js';

const GUEST_ISN = 1000;
const ISS = 0xfffffff0; // wraps around 2^32 during the tests

function setup(opts: { window?: number; mss?: number } = {}) {
  let clock = 0;
  const sent: TcpOut[] = [];
  const written: number[] = [];
  const up = { finished: false, aborted: false, queued: 0 };
  const upstream: TcpUpstream = {
    write: (d) => written.push(...d),
    get queued() {
      return up.queued;
    },
    finish: () => (up.finished = true),
    abort: () => (up.aborted = true),
  };
  const syn: TcpSegment = { srcPort: 40000, dstPort: 80, seq: GUEST_ISN, ack: 0, flags: TCP_SYN, window: opts.window ?? 65535, mss: opts.mss ?? 1460, data: new Uint8Array(0) };
  const conn = new TcpConnection({ syn, emit: (t) => sent.push(t), upstream, now: () => clock, iss: ISS });
  const seg = (flags: number, seq: number, data: number[] | Uint8Array = [], ack = (ISS + 1) >>> 0, window = opts.window ?? 65535): TcpSegment =>
    ({ srcPort: 40000, dstPort: 80, seq: seq >>> 0, ack: ack >>> 0, flags, window, data: Uint8Array.from(data) });
  const advance = (ms: number) => {
    clock += ms;
    conn.tick();
  };
  return { conn, sent, written, up, seg, advance };
}

function established(opts: { window?: number; mss?: number } = {}) {
  const s = setup(opts);
  s.conn.fromGuest(s.seg(TCP_ACK, GUEST_ISN + 1));
  s.sent.length = 0;
  return s;
}

const bytes = (n: number, from = 0) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 255);

describe('TcpConnection', () => {
  it('answers a SYN with a SYN-ACK offering its MSS, again for a repeated SYN, and opens on the ACK', () => {
    const s = setup();
    expect(s.sent).toEqual([expect.objectContaining({ srcPort: 80, dstPort: 40000, seq: ISS, ack: GUEST_ISN + 1, flags: TCP_SYN | TCP_ACK, mss: OUR_MSS, window: RECEIVE_WINDOW })]);
    s.conn.fromGuest(s.seg(TCP_SYN, GUEST_ISN, [], 0));
    expect(s.sent).toHaveLength(2);
    expect(s.sent[1].flags).toBe(TCP_SYN | TCP_ACK);
    s.conn.fromGuest(s.seg(TCP_ACK, GUEST_ISN + 1));
    expect(s.conn.state).toBe('established');
  });

  it('passes guest bytes on once and in order: duplicates and segments after a gap are acknowledged, not taken', () => {
    const s = established();
    const base = GUEST_ISN + 1;
    s.conn.fromGuest(s.seg(TCP_ACK | TCP_PSH, base, bytes(10)));
    expect(s.sent.at(-1)).toMatchObject({ ack: base + 10 });
    s.conn.fromGuest(s.seg(TCP_ACK | TCP_PSH, base, bytes(10))); // the same segment again
    expect(s.sent.at(-1)).toMatchObject({ ack: base + 10 });
    s.conn.fromGuest(s.seg(TCP_ACK | TCP_PSH, base + 20, bytes(10, 20))); // after a gap
    expect(s.sent.at(-1)).toMatchObject({ ack: base + 10 });
    s.conn.fromGuest(s.seg(TCP_ACK | TCP_PSH, base + 5, bytes(15, 5))); // overlaps: only the new 5 bytes count
    expect(s.sent.at(-1)).toMatchObject({ ack: base + 20 });
    s.conn.fromGuest(s.seg(TCP_ACK | TCP_PSH, base + 20, bytes(10, 20))); // the gap's segment again
    expect(s.written).toEqual([...bytes(30)]);
    expect(s.sent.at(-1)).toMatchObject({ ack: base + 30 });
    expect(s.conn.counts).toMatchObject({ duplicates: 1, outOfOrder: 1 });
  });

  it('offers the guest only the window the upstream has room for', () => {
    const s = established();
    s.up.queued = RECEIVE_WINDOW - 100;
    s.conn.fromGuest(s.seg(TCP_ACK | TCP_PSH, GUEST_ISN + 1, bytes(50)));
    expect(s.sent.at(-1)?.window).toBe(100);
    s.up.queued = 0;
    s.conn.upstreamDrained();
    expect(s.sent.at(-1)?.window).toBe(RECEIVE_WINDOW);
  });

  it('sends far-end bytes in MSS-sized segments within the guest\'s window, more as the guest acknowledges', () => {
    const s = established({ window: 3000, mss: 1000 });
    s.conn.fromFar(bytes(5000));
    expect(s.sent.map((t) => [t.seq, t.data?.length])).toEqual([[ISS + 1, 1000], [(ISS + 1001) >>> 0, 1000], [(ISS + 2001) >>> 0, 1000]]);
    s.conn.fromGuest(s.seg(TCP_ACK, GUEST_ISN + 1, [], ISS + 2001, 3000));
    expect(s.sent.slice(3).map((t) => [t.seq, t.data?.length])).toEqual([[(ISS + 3001) >>> 0, 1000], [(ISS + 4001) >>> 0, 1000]]);
    const all = s.sent.flatMap((t) => [...(t.data ?? [])]);
    expect(all).toEqual([...bytes(5000)]);
  });

  it('probes a zero window with one byte after the retransmit time, and goes on when it opens', () => {
    const s = established({ window: 0 });
    s.conn.fromFar(bytes(100));
    expect(s.sent).toHaveLength(0);
    s.advance(400);
    expect(s.sent).toHaveLength(0);
    s.advance(200);
    expect(s.sent).toEqual([expect.objectContaining({ seq: ISS + 1, data: bytes(1) })]);
    s.conn.fromGuest(s.seg(TCP_ACK, GUEST_ISN + 1, [], ISS + 2, 1000)); // took the byte, window open
    expect(s.sent.slice(1).flatMap((t) => [...(t.data ?? [])])).toEqual([...bytes(99, 1)]);
    expect(s.conn.counts.probes).toBe(1);
  });

  it('sends again from the oldest unacknowledged byte when no ACK comes', () => {
    const s = established({ mss: 500 });
    s.conn.fromFar(bytes(1000));
    expect(s.sent).toHaveLength(2);
    s.conn.fromGuest(s.seg(TCP_ACK, GUEST_ISN + 1, [], ISS + 501));
    s.advance(600);
    expect(s.sent.slice(2)).toEqual([expect.objectContaining({ seq: (ISS + 501) >>> 0, data: bytes(500, 500) })]);
    expect(s.conn.counts.retransmits).toBe(1);
  });

  it('a guest RST aborts the upstream; a failed upstream resets the guest', () => {
    const a = established();
    a.conn.fromGuest(a.seg(TCP_RST, GUEST_ISN + 1));
    expect(a.up.aborted).toBe(true);
    expect(a.conn.state).toBe('closed');
    const b = established();
    b.conn.fromFar(bytes(10));
    b.conn.farEnded(false);
    expect(b.sent.at(-1)).toMatchObject({ flags: TCP_RST | TCP_ACK });
    expect(b.conn.state).toBe('closed');
  });

  it('a clean far end gives a FIN after the last byte; the guest\'s FIN and ACK close the connection', () => {
    const s = established();
    s.conn.fromFar(bytes(10));
    s.conn.farEnded(true);
    expect(s.sent.map((t) => t.flags)).toEqual([TCP_ACK | TCP_PSH, TCP_FIN | TCP_ACK]);
    expect(s.sent[1].seq).toBe((ISS + 11) >>> 0);
    s.conn.fromGuest(s.seg(TCP_ACK | TCP_FIN, GUEST_ISN + 1, [], ISS + 12));
    expect(s.up.finished).toBe(true);
    expect(s.sent.at(-1)).toMatchObject({ flags: TCP_ACK, ack: GUEST_ISN + 2 });
    expect(s.conn.state).toBe('closed');
  });

  it('a guest FIN is a half-close: the upstream is told, the far end\'s answer still reaches the guest, then our FIN', () => {
    const s = established();
    s.conn.fromGuest(s.seg(TCP_ACK | TCP_PSH | TCP_FIN, GUEST_ISN + 1, bytes(5)));
    expect(s.written).toEqual([...bytes(5)]);
    expect(s.up.finished).toBe(true);
    expect(s.sent.map((t) => [t.flags, t.ack])).toEqual([[TCP_ACK, GUEST_ISN + 7]]); // no FIN of ours yet
    s.conn.fromFar(bytes(8, 100)); // the answer to what the guest sent
    expect(s.sent.at(-1)).toMatchObject({ flags: TCP_ACK | TCP_PSH, seq: (ISS + 1) >>> 0, data: bytes(8, 100) });
    s.conn.fromGuest(s.seg(TCP_ACK, GUEST_ISN + 7, [], ISS + 9));
    expect(s.conn.state).toBe('established');
    s.conn.farEnded(true);
    expect(s.sent.at(-1)).toMatchObject({ flags: TCP_FIN | TCP_ACK, seq: (ISS + 9) >>> 0, ack: GUEST_ISN + 7 });
    s.conn.fromGuest(s.seg(TCP_ACK, GUEST_ISN + 7, [], ISS + 10));
    expect(s.conn.state).toBe('closed');
  });
});
