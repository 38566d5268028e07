// The internet gateway of a lab network: one more port on the lab's switch, at the subnet's .1,
// that holds the network's DHCP server (handing out itself as router and DNS server) and takes
// the guests' traffic for addresses outside the subnet to a WISP relay (wisp-client.ts):
//   - ARP for the gateway's address is answered, and ICMP echo to it (ping the gateway works);
//     ICMP to the outside cannot go through WISP (it carries TCP and UDP only) and is dropped.
//   - A TCP connection to an outside address ends here (tcp-endpoint.ts) and becomes a WISP TCP
//     stream to that address and port; a relay refusing or failing it resets the guest's side.
//     WISP has no half-close: a guest that ends its side (FIN) still gets the far end's answer;
//     the stream stays open until the far end closes it, or for HALF_CLOSED_IDLE_MS after the
//     last byte from it (then the guest gets a clean FIN).
//   - A UDP datagram to an outside address goes over a WISP UDP stream (one per guest port and
//     destination, closed after a minute without traffic); DNS queries to the gateway go to the
//     DNS server `dns` through the relay, and the answers come back from the gateway.
// The relay connection is opened on first use and opened again after it failed (at most every
// two seconds); while it is down, connections are reset at once. Nothing else leaves the lab.

import { DhcpServer, formatIp, parseIp, SERVER_MAC, type DhcpConfig } from './dhcp-server.js';
import {
  buildArpReply, buildIpv4, buildTcp, buildUdp, echoReply, parseArpRequest, parseIpv4, parseTcp, parseUdp,
  PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment,
} from './ip-packets.js';
import { TcpConnection, type TcpUpstream } from './tcp-endpoint.js';
import { WispClient, type WebSocketFactory, type WispStream } from './wisp-client.js';
import { CloseReason } from './wisp-frames.js';

export interface GatewayOptions {
  /** The lab network, e.g. '10.0.3.0/24'; the gateway (and DHCP server) is its .1. */
  subnet: string;
  /** ws:// or wss:// URL of the WISP relay. */
  relay: string;
  webSocket: WebSocketFactory;
  /** The DNS server asked through the relay for queries sent to the gateway (default 1.1.1.1). */
  dns?: string;
  /** Fixed DHCP leases by MAC. */
  staticLeases?: DhcpConfig['staticLeases'];
  now?: () => number;
  /** Timer period for retransmits and idle UDP flows (ms). */
  tickMs?: number;
}

export interface GatewayStatus {
  relay: string;
  /** idle: not asked yet; connecting; up; down (error says why). */
  state: 'idle' | 'connecting' | 'up' | 'down';
  error?: string;
  tcp: number;
  udp: number;
  /** Bytes over the WebSocket, both ways, over all connections to the relay. */
  bytesIn: number;
  bytesOut: number;
  /** ICMP to the outside, and other frames the gateway could not take. */
  dropped: number;
}

interface FramePort {
  send(frame: Uint8Array): void;
  connect(receive: (frame: Uint8Array) => void): void;
}

interface TcpFlow {
  conn: TcpConnection;
  stream: WispStream;
  guestMac: Uint8Array;
  guestIp: number;
  farIp: number;
  /** When the last bytes came from the far end (or the connection opened). */
  lastFar: number;
  /** The guest ended its side (FIN): waiting for the far end's answer to end. */
  guestDone: boolean;
}

interface UdpFlow {
  stream: WispStream;
  last: number;
}

const MAX_TCP = 256;
const MAX_UDP = 64;
const UDP_IDLE_MS = 60_000;
/** A connection the guest ended is closed when the far end sent nothing for this long. */
export const HALF_CLOSED_IDLE_MS = 30_000;
/** Far-end bytes buffered for guests, over all connections, before reading the relay pauses. */
const PAUSE_BYTES = 2 << 20;
const RESUME_BYTES = 512 << 10;
/** Where reading cannot pause (a browser WebSocket), one connection may hold this much before it is reset. */
const MAX_CONNECTION_BYTES = 16 << 20;
const RETRY_MS = 2000;

export class InternetGateway {
  readonly dhcp: DhcpServer;
  readonly ip: number;
  private readonly mask: number;
  private readonly network: number;
  private readonly dnsServer: string;
  private readonly now: () => number;
  private readonly tickMs: number;
  private dhcpReceive: ((frame: Uint8Array) => void) | undefined;
  private readonly tcp = new Map<string, TcpFlow>();
  private readonly udp = new Map<string, UdpFlow>();
  private wisp: WispClient | undefined;
  private wispFailedAt = -Infinity;
  private timer: ReturnType<typeof setInterval> | undefined;
  private paused = false;
  private bytesIn = 0;
  private bytesOut = 0;
  private dropped = 0;
  private closed = false;

  constructor(private readonly port: FramePort, private readonly options: GatewayOptions) {
    const [net, bits] = options.subnet.split('/');
    this.mask = (0xffffffff << (32 - Number(bits))) >>> 0;
    this.network = (parseIp(net) & this.mask) >>> 0;
    this.ip = (this.network + 1) >>> 0;
    this.dnsServer = options.dns ?? '1.1.1.1';
    this.now = options.now ?? (() => Date.now());
    this.tickMs = options.tickMs ?? 200;
    const gw = formatIp(this.ip);
    this.dhcp = new DhcpServer({ send: (f) => port.send(f), connect: (r) => (this.dhcpReceive = r) }, {
      subnet: options.subnet, router: gw, dns: gw, staticLeases: options.staticLeases,
    });
    port.connect((frame) => this.receive(frame));
  }

  status(): GatewayStatus {
    const w = this.wisp;
    const state = w === undefined ? 'idle' : w.failure !== undefined ? 'down' : w.isOpen ? 'up' : 'connecting';
    return {
      relay: this.options.relay, state, ...(w?.failure !== undefined ? { error: w.failure } : {}),
      tcp: this.tcp.size, udp: this.udp.size,
      bytesIn: this.bytesIn + (w?.bytesIn ?? 0), bytesOut: this.bytesOut + (w?.bytesOut ?? 0), dropped: this.dropped,
    };
  }

  /** Opens the relay connection now; resolves once the relay said hello, rejects with one line. */
  connectNow(): Promise<void> {
    return this.relay().ready;
  }

  /** Ends every connection (the guests see resets) and the relay connection. */
  close(): void {
    this.closed = true;
    for (const f of this.tcp.values()) f.conn.reset();
    this.tcp.clear();
    this.udp.clear();
    this.wisp?.close();
    this.stopTimer();
  }

  private relay(): WispClient {
    const w = this.wisp;
    if (w !== undefined && (w.failure === undefined || this.now() - this.wispFailedAt < RETRY_MS)) return w;
    if (w !== undefined) {
      this.bytesIn += w.bytesIn;
      this.bytesOut += w.bytesOut;
    }
    const client = new WispClient(this.options.relay, this.options.webSocket);
    client.onClose = () => {
      this.wispFailedAt = this.now();
      if (this.paused) this.paused = false;
    };
    this.wisp = client;
    return client;
  }

  private isOurs(f: Uint8Array): boolean {
    for (let i = 0; i < 6; i++) if (f[i] !== SERVER_MAC[i]) return false;
    return true;
  }

  private outside(ip: number): boolean {
    return ((ip & this.mask) >>> 0) !== this.network;
  }

  private receive(f: Uint8Array): void {
    if (this.closed) return;
    this.dhcpReceive?.(f);
    const arp = parseArpRequest(f);
    if (arp !== undefined) {
      if (arp.targetIp === this.ip) this.port.send(buildArpReply(SERVER_MAC, this.ip, arp));
      return;
    }
    if (!this.isOurs(f)) return;
    const p = parseIpv4(f);
    if (p === undefined) return;
    const srcMac = p.srcMac.slice();
    if (p.dst === this.ip) {
      if (p.protocol === PROTO_ICMP) {
        const reply = echoReply(p.payload);
        if (reply) this.port.send(buildIpv4(srcMac, SERVER_MAC, this.ip, p.src, PROTO_ICMP, reply));
      } else if (p.protocol === PROTO_UDP) {
        const u = parseUdp(p.payload);
        if (u !== undefined && u.dstPort === 53) this.udpOut(srcMac, p.src, u.srcPort, this.ip, 53, u.data);
      } else if (p.protocol === PROTO_TCP) {
        const t = parseTcp(p.payload);
        if (t !== undefined) this.refuse(srcMac, p.src, this.ip, t);
      }
      return;
    }
    if (!this.outside(p.dst)) return;
    if (p.protocol === PROTO_TCP) {
      const t = parseTcp(p.payload);
      if (t !== undefined) this.tcpIn(srcMac, p.src, p.dst, t);
    } else if (p.protocol === PROTO_UDP) {
      const u = parseUdp(p.payload);
      if (u !== undefined) this.udpOut(srcMac, p.src, u.srcPort, p.dst, u.dstPort, u.data);
    } else {
      this.dropped++; // ICMP and the rest: WISP carries TCP and UDP only
    }
  }

  /** A RST for a segment no connection takes. */
  private refuse(mac: Uint8Array, guestIp: number, farIp: number, t: TcpSegment): void {
    if (t.flags & TCP_RST) return;
    const len = t.data.length + (t.flags & TCP_SYN ? 1 : 0) + (t.flags & TCP_FIN ? 1 : 0);
    const out = t.flags & TCP_ACK
      ? { srcPort: t.dstPort, dstPort: t.srcPort, seq: t.ack, ack: 0, flags: TCP_RST, window: 0 }
      : { srcPort: t.dstPort, dstPort: t.srcPort, seq: 0, ack: (t.seq + len) >>> 0, flags: TCP_RST | TCP_ACK, window: 0 };
    this.port.send(buildIpv4(mac, SERVER_MAC, farIp, guestIp, PROTO_TCP, buildTcp(farIp, guestIp, out)));
  }

  private tcpIn(mac: Uint8Array, guestIp: number, farIp: number, t: TcpSegment): void {
    const key = `${guestIp}:${t.srcPort}>${farIp}:${t.dstPort}`;
    const flow = this.tcp.get(key);
    if (flow !== undefined) {
      flow.conn.fromGuest(t);
      this.settle(key, flow);
      if (this.paused) this.pressure(undefined); // the guest took bytes: reading may go on
      return;
    }
    if ((t.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN || this.tcp.size >= MAX_TCP) {
      this.refuse(mac, guestIp, farIp, t);
      return;
    }
    const client = this.relay();
    // The stream exists before the connection (which answers the SYN at once): handlers look it up.
    const holder: { flow?: TcpFlow } = {};
    const stream = client.open('tcp', formatIp(farIp), t.dstPort, {
      data: (bytes) => {
        const f = holder.flow;
        if (f === undefined) return;
        f.lastFar = this.now();
        f.conn.fromFar(bytes);
        this.pressure(f);
        this.settle(key, f);
      },
      close: (reason) => {
        const f = holder.flow;
        if (f === undefined) return;
        f.conn.farEnded(reason === CloseReason.voluntary);
        this.settle(key, f);
      },
      drained: () => holder.flow?.conn.upstreamDrained(),
    });
    const upstream: TcpUpstream = {
      write: (d) => stream.send(d),
      get queued() {
        return stream.queued;
      },
      // Kept open for the answer (see the top of this file); tick() ends it when it stays quiet.
      finish: () => {
        if (holder.flow) holder.flow.guestDone = true;
      },
      abort: () => stream.close(),
    };
    const conn = new TcpConnection({
      syn: t,
      upstream,
      now: this.now,
      emit: (out) => this.port.send(buildIpv4(mac, SERVER_MAC, farIp, guestIp, PROTO_TCP, buildTcp(farIp, guestIp, out))),
    });
    const made: TcpFlow = { conn, stream, guestMac: mac, guestIp, farIp, lastFar: this.now(), guestDone: false };
    holder.flow = made;
    this.tcp.set(key, made);
    this.startTimer();
  }

  /** Forgets a connection that ended. */
  private settle(key: string, f: TcpFlow): void {
    if (f.conn.state !== 'closed') return;
    if (this.tcp.get(key) === f) this.tcp.delete(key);
    this.pressure(undefined);
  }

  /** Pauses reading the relay while guests are slow to take what it sent (where that is possible). */
  private pressure(f: TcpFlow | undefined): void {
    if (f !== undefined && f.conn.buffered > MAX_CONNECTION_BYTES) {
      f.stream.close();
      f.conn.reset();
      return;
    }
    let total = 0;
    for (const x of this.tcp.values()) total += x.conn.buffered;
    const w = this.wisp;
    if (w === undefined) return;
    if (!this.paused && total > PAUSE_BYTES) this.paused = w.pauseReceiving(true);
    else if (this.paused && total < RESUME_BYTES) {
      w.pauseReceiving(false);
      this.paused = false;
    }
  }

  private udpOut(mac: Uint8Array, guestIp: number, guestPort: number, farIp: number, farPort: number, data: Uint8Array): void {
    const key = `${guestIp}:${guestPort}>${farIp}:${farPort}`;
    let flow = this.udp.get(key);
    if (flow === undefined || flow.stream.closed) {
      if (flow === undefined && this.udp.size >= MAX_UDP) {
        this.dropped++;
        return;
      }
      const host = farIp === this.ip ? this.dnsServer : formatIp(farIp);
      const stream = this.relay().open('udp', host, farPort, {
        data: (bytes) => {
          const f = this.udp.get(key);
          if (f !== undefined) f.last = this.now();
          this.port.send(buildIpv4(mac, SERVER_MAC, farIp, guestIp, PROTO_UDP, buildUdp(farIp, guestIp, farPort, guestPort, bytes)));
        },
        close: () => {
          if (this.udp.get(key)?.stream === stream) this.udp.delete(key);
        },
      });
      flow = { stream, last: this.now() };
      this.udp.set(key, flow);
      this.startTimer();
    }
    flow.last = this.now();
    flow.stream.send(data);
  }

  private startTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Retransmits, and closes idle UDP flows; the timer stops when nothing is open. */
  tick(): void {
    const now = this.now();
    for (const [key, f] of this.tcp) {
      if (f.guestDone && f.stream.queued === 0 && now - f.lastFar > HALF_CLOSED_IDLE_MS) {
        f.guestDone = false;
        f.stream.close();
        f.conn.farEnded(true);
      }
      f.conn.tick();
      this.settle(key, f);
    }
    for (const [key, f] of this.udp) {
      if (now - f.last > UDP_IDLE_MS) {
        f.stream.close();
        this.udp.delete(key);
      }
    }
    if (this.tcp.size === 0 && this.udp.size === 0) this.stopTimer();
  }
}
