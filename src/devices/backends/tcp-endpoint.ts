// One guest TCP connection, ended at the gateway: the guest thinks it talks to the far host,
// and the bytes go to and come from an upstream (a WISP stream, see internet-gateway.ts). This
// file is the connection's state only; frames are parsed and built elsewhere (ip-packets.ts).
//
// Guest -> far end: only the next expected bytes are taken (a duplicate is acknowledged again,
// a segment from beyond a gap is dropped with a duplicate ACK, so the guest sends the gap again);
// the window we announce is what the upstream has not sent on yet, out of 64 KiB.
// Far end -> guest: bytes wait in a buffer until the guest's window and MSS let them go; a
// retransmit timer (tick) sends again from the oldest unacknowledged byte, and probes a zero
// window with one byte. No window scaling, no SACK, no timestamps (we do not offer them).
// Ends: a guest RST closes the upstream; an upstream that fails gives the guest an RST; an
// upstream that ends cleanly gives the guest a FIN after the last byte. A guest FIN is a
// half-close: the upstream is told (finish), and the far end's bytes still reach the guest until
// the far end ends too; only then does our FIN follow.

import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOut, type TcpSegment } from './ip-packets.js';

export interface TcpUpstream {
  /** Bytes from the guest for the far end. */
  write(data: Uint8Array): void;
  /** Bytes written but not yet passed on (they shrink the window the guest is offered). */
  readonly queued: number;
  /** The guest sent FIN (it sends no more; the far end's answer is still wanted). */
  finish(): void;
  /** The guest reset the connection, or it failed: end the upstream now. */
  abort(): void;
}

export const RECEIVE_WINDOW = 65535;
/** Our MSS, offered in the SYN-ACK (a 1500-byte MTU). */
export const OUR_MSS = 1460;
const DEFAULT_GUEST_MSS = 536;
const INITIAL_RTO_MS = 500;
const MAX_RTO_MS = 8000;
/** Retransmissions without progress before the connection is given up (reset). */
const MAX_RETRIES = 10;

const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;

export type TcpState = 'syn-received' | 'established' | 'closed';

export interface TcpConnectionOptions {
  /** The guest's SYN. */
  syn: TcpSegment;
  /** Sends a segment to the guest (ports are filled in here: from the far end's port to the guest's). */
  emit: (t: TcpOut) => void;
  upstream: TcpUpstream;
  now: () => number;
  /** Our initial sequence number (random by default). */
  iss?: number;
}

export class TcpConnection {
  state: TcpState = 'syn-received';
  readonly guestPort: number;
  readonly farPort: number;
  private readonly emit: (t: TcpOut) => void;
  private readonly upstream: TcpUpstream;
  private readonly now: () => number;
  private readonly iss: number;
  private readonly guestMss: number;
  /** Next byte we expect from the guest. */
  private rcvNxt: number;
  private sndUna: number;
  private sndNxt: number;
  /** The guest's window (bytes past sndUna it takes). */
  private sndWnd: number;
  /** Bytes from the far end from sndUna on: buf[head..tail). */
  private buf = new Uint8Array(16384);
  private head = 0;
  private tail = 0;
  /** The far end ended cleanly: a FIN follows the last byte. */
  private finWanted = false;
  private finSent = false;
  private finAcked = false;
  private guestFin = false;
  private rto = INITIAL_RTO_MS;
  private retries = 0;
  /** When the oldest unacknowledged thing was sent or last acknowledged progress came. */
  private timerFrom: number;
  private advertised = RECEIVE_WINDOW;
  /** Counters for tests and stats. */
  readonly counts = { retransmits: 0, duplicates: 0, outOfOrder: 0, probes: 0 };

  constructor(o: TcpConnectionOptions) {
    this.emit = o.emit;
    this.upstream = o.upstream;
    this.now = o.now;
    this.guestPort = o.syn.srcPort;
    this.farPort = o.syn.dstPort;
    this.iss = (o.iss ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    this.guestMss = Math.max(64, Math.min(o.syn.mss ?? DEFAULT_GUEST_MSS, OUR_MSS));
    this.rcvNxt = (o.syn.seq + 1) >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = (this.iss + 1) >>> 0;
    this.sndWnd = o.syn.window;
    this.timerFrom = this.now();
    this.sendSynAck();
  }

  /** Bytes from the far end not yet acknowledged by the guest. */
  get buffered(): number {
    return this.tail - this.head;
  }

  private get window(): number {
    return Math.max(0, RECEIVE_WINDOW - this.upstream.queued);
  }

  private out(flags: number, seq: number, data?: Uint8Array, mss?: number): void {
    this.advertised = this.window;
    this.emit({ srcPort: this.farPort, dstPort: this.guestPort, seq, ack: this.rcvNxt, flags, window: this.advertised, data, mss });
  }

  private sendSynAck(): void {
    this.out(TCP_SYN | TCP_ACK, this.iss, undefined, OUR_MSS);
  }

  private ack(): void {
    this.out(TCP_ACK, this.sndNxt);
  }

  private close(): void {
    this.state = 'closed';
    this.head = this.tail = 0;
  }

  /** Resets the guest's side (the far end failed, or we give up). */
  reset(): void {
    if (this.state === 'closed') return;
    this.out(TCP_RST | TCP_ACK, this.sndNxt);
    this.close();
  }

  /** A segment from the guest for this connection. */
  fromGuest(seg: TcpSegment): void {
    if (this.state === 'closed') return;
    if (seg.flags & TCP_RST) {
      this.upstream.abort();
      this.close();
      return;
    }
    if (seg.flags & TCP_SYN) {
      // The SYN again (our SYN-ACK was lost or is late): answer it again; nothing else comes with it.
      if (this.state === 'syn-received' && ((seg.seq + 1) >>> 0) === this.rcvNxt) this.sendSynAck();
      else this.ack();
      return;
    }
    if (!(seg.flags & TCP_ACK)) return;
    if (this.state === 'syn-received') {
      if (seg.ack !== this.sndNxt) {
        this.emit({ srcPort: this.farPort, dstPort: this.guestPort, seq: seg.ack, ack: 0, flags: TCP_RST, window: 0 });
        return;
      }
      this.state = 'established';
      this.sndUna = this.sndNxt;
      this.timerFrom = this.now();
      this.retries = 0;
      this.rto = INITIAL_RTO_MS;
    }
    this.takeAck(seg);
    if (seg.data.length > 0 || seg.flags & TCP_FIN) this.takeData(seg);
    this.pump();
    if (this.guestFin && this.finAcked) this.close();
  }

  private takeAck(seg: TcpSegment): void {
    if (seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndNxt)) {
      let n = (seg.ack - this.sndUna) >>> 0;
      if (this.finSent && seg.ack === this.sndNxt) {
        this.finAcked = true;
        n--;
      }
      this.head += Math.min(n, this.buffered);
      this.sndUna = seg.ack;
      this.retries = 0;
      this.rto = INITIAL_RTO_MS;
      this.timerFrom = this.now();
    }
    if (seqLe(this.sndUna, seg.ack)) this.sndWnd = seg.window;
  }

  private takeData(seg: TcpSegment): void {
    const offset = (this.rcvNxt - seg.seq) | 0;
    const hasFin = (seg.flags & TCP_FIN) !== 0;
    if (offset < 0) {
      this.counts.outOfOrder++;
      this.ack(); // a gap before it: the guest sends the gap again
      return;
    }
    if (offset > seg.data.length || (offset === seg.data.length && !hasFin) || (this.guestFin && hasFin)) {
      this.counts.duplicates++;
      this.ack();
      return;
    }
    const fresh = seg.data.subarray(offset);
    if (fresh.length > 0) {
      if (this.guestFin) return; // nothing after a FIN
      if (this.upstream.queued > 4 * RECEIVE_WINDOW) {
        this.ack(); // past every window we offered: not taken, the guest sends it again
        return;
      }
      this.upstream.write(fresh);
      this.rcvNxt = (this.rcvNxt + fresh.length) >>> 0;
    }
    if (hasFin) {
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.guestFin = true;
      this.upstream.finish();
    }
    this.ack();
  }

  /** Bytes from the far end for the guest. */
  fromFar(data: Uint8Array): void {
    if (this.state === 'closed' || this.finWanted || data.length === 0) return;
    if (this.tail + data.length > this.buf.length) {
      const live = this.buffered;
      if (live + data.length <= this.buf.length) {
        this.buf.copyWithin(0, this.head, this.tail);
      } else {
        const next = new Uint8Array(Math.max(this.buf.length * 2, (live + data.length) * 2));
        next.set(this.buf.subarray(this.head, this.tail));
        this.buf = next;
      }
      this.head = 0;
      this.tail = live;
    }
    this.buf.set(data, this.tail);
    this.tail += data.length;
    this.pump();
  }

  /** The far end is done: cleanly (a FIN after the last byte) or not (a reset now). */
  farEnded(clean: boolean): void {
    if (this.state === 'closed') return;
    if (!clean) {
      this.reset();
      return;
    }
    this.finWanted = true;
    this.pump();
  }

  /** The upstream took queued bytes: tell the guest its window opened, if it had shrunk. */
  upstreamDrained(): void {
    if (this.state !== 'established') return;
    const w = this.window;
    if (this.advertised < OUR_MSS * 2 && w >= this.advertised + OUR_MSS) this.ack();
  }

  /** Sends what the guest's window allows, then the FIN when due. */
  private pump(): void {
    if (this.state !== 'established') return;
    const idleBefore = this.sndNxt === this.sndUna;
    for (;;) {
      const inFlight = (this.sndNxt - this.sndUna) >>> 0;
      const sentData = this.finSent ? inFlight - 1 : inFlight;
      const unsent = this.buffered - sentData;
      const room = this.sndWnd - inFlight;
      if (unsent <= 0 || room <= 0 || this.finSent) break;
      const n = Math.min(unsent, room, this.guestMss);
      const from = this.head + sentData;
      this.out(TCP_ACK | TCP_PSH, this.sndNxt, this.buf.subarray(from, from + n));
      this.sndNxt = (this.sndNxt + n) >>> 0;
    }
    const inFlight = (this.sndNxt - this.sndUna) >>> 0;
    if (this.finWanted && !this.finSent && inFlight === this.buffered) {
      this.out(TCP_FIN | TCP_ACK, this.sndNxt);
      this.sndNxt = (this.sndNxt + 1) >>> 0;
      this.finSent = true;
    }
    if (idleBefore && this.sndNxt !== this.sndUna) this.timerFrom = this.now();
  }

  /** The retransmit and zero-window timer: call every few hundred milliseconds. */
  tick(): void {
    if (this.state === 'closed') return;
    const now = this.now();
    if (now - this.timerFrom < this.rto) return;
    if (this.state === 'syn-received') {
      if (++this.retries > MAX_RETRIES) return this.giveUp();
      this.counts.retransmits++;
      this.sendSynAck();
    } else if (this.sndNxt !== this.sndUna) {
      // Go back to the oldest unacknowledged byte and send from there again (a probe of a
      // zero window is not a failure: the guest may keep its window shut as long as it likes).
      if (this.sndWnd > 0 && ++this.retries > MAX_RETRIES) return this.giveUp();
      this.counts.retransmits++;
      this.sndNxt = this.sndUna;
      this.finSent = false;
      const wnd = this.sndWnd;
      if (wnd === 0) this.sndWnd = 1; // the first byte again, as a probe
      this.pump();
      this.sndWnd = wnd;
    } else if (this.buffered > 0 && this.sndWnd === 0) {
      // A zero window: one byte past it; the guest's ACK says whether the window opened.
      this.counts.probes++;
      this.sndWnd = 1;
      this.pump();
      this.sndWnd = 0;
    } else {
      return;
    }
    this.rto = Math.min(this.rto * 2, MAX_RTO_MS);
    this.timerFrom = now;
  }

  private giveUp(): void {
    this.upstream.abort();
    this.reset();
  }
}
