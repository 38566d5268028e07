// The internet gateway on a switch, driven with crafted Ethernet frames, through the loopback
// WISP relay (scripts/wisp-relay.mjs): ARP, DHCP options, ping to the gateway, a TCP exchange
// with a host service, DNS through the relay, ICMP to the outside dropped, and a relay that is
// not there resetting the guest's connection.

import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { formatIp, parseIp } from '../../src/devices/backends/dhcp-server.js';
import { EthernetSwitch } from '../../src/devices/backends/ethernet-switch.js';
import { HALF_CLOSED_IDLE_MS, InternetGateway } from '../../src/devices/backends/internet-gateway.js';
import {
  buildIpv4, buildTcp, buildUdp, etherType, parseIpv4, parseTcp, parseUdp, PROTO_ICMP, PROTO_TCP, PROTO_UDP,
  TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN,
} from '../../src/devices/backends/ip-packets.js';
import type { WebSocketFactory } from '../../src/devices/backends/wisp-client.js';
// @ts-expect-error plain JS module
import { startWispRelay } from '../../scripts/wisp-relay.mjs';

const factory: WebSocketFactory = (url) => new WebSocket(url) as never;
const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x00, 0x00, 0x42);
const GUEST = parseIp('10.0.3.100');
const GW = parseIp('10.0.3.1');
const FAR = parseIp('203.0.113.5');

let relay: Awaited<ReturnType<typeof startWispRelay>>;
let server: Server;
let serverPort: number;
/** Answers 300 ms after the request, then ends: what a guest that half-closes must still get. */
let slow: Server;
let slowPort: number;
/** Takes bytes and never answers nor ends. */
let silent: Server;
let silentPort: number;

beforeAll(async () => {
  relay = await startWispRelay({ names: { 'files.test': '203.0.113.5' } });
  server = createServer((s) => s.on('data', (d) => s.write(Buffer.from(d.toString().toUpperCase()))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  serverPort = (server.address() as { port: number }).port;
  slow = createServer((s) => s.once('data', (d) => setTimeout(() => s.end(Buffer.from(`late ${d.toString()}`)), 300)));
  silent = createServer(() => undefined);
  for (const srv of [slow, silent]) await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  slowPort = (slow.address() as { port: number }).port;
  silentPort = (silent.address() as { port: number }).port;
});

afterAll(async () => {
  await relay.close();
  server.close();
  slow.close();
  silent.close();
});

function rig(url: string = relay.url, now?: () => number) {
  const sw = new EthernetSwitch();
  const gw = new InternetGateway(sw.attach('gateway'), { subnet: '10.0.3.0/24', relay: url, webSocket: factory, dns: '192.0.2.53', ...(now ? { now } : {}) });
  const guest = sw.attach('guest');
  const got: Uint8Array[] = [];
  guest.connect((f) => got.push(f));
  let gwMac = new Uint8Array(6).fill(0xff);
  const arp = new Uint8Array(42);
  arp.fill(0xff, 0, 6);
  arp.set(GUEST_MAC, 6);
  arp.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
  arp.set(GUEST_MAC, 22);
  new DataView(arp.buffer).setUint32(28, GUEST);
  new DataView(arp.buffer).setUint32(38, GW);
  guest.send(arp);
  const reply = got.find((f) => etherType(f) === 0x0806);
  if (reply) gwMac = reply.slice(6, 12);
  const ip = (dst: number, protocol: number, payload: Uint8Array) => guest.send(buildIpv4(gwMac, GUEST_MAC, GUEST, dst, protocol, payload));
  const tcpIn = () => got.map((f) => parseIpv4(f)).filter((p) => p?.protocol === PROTO_TCP).map((p) => ({ from: p!.src, ...parseTcp(p!.payload)! }));
  return { sw, gw, guest, got, arpReply: reply, ip, tcpIn };
}

async function until<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('InternetGateway', () => {
  it('answers ARP for the .1 and ping to it, and drops ICMP to the outside', () => {
    const r = rig();
    expect(r.arpReply).toBeDefined();
    const echo = Uint8Array.of(8, 0, 0xf7, 0xfe, 0, 1, 0, 0);
    r.ip(GW, PROTO_ICMP, echo);
    const pong = r.got.map((f) => parseIpv4(f)).find((p) => p?.protocol === PROTO_ICMP);
    expect(pong && [formatIp(pong.src), pong.payload[0]]).toEqual(['10.0.3.1', 0]);
    const before = r.got.length;
    r.ip(FAR, PROTO_ICMP, echo);
    expect(r.got.length).toBe(before);
    expect(r.gw.status().dropped).toBe(1);
    r.gw.close();
  });

  it('tells DHCP clients that it is their router and DNS server', () => {
    const r = rig();
    const bootp = new Uint8Array(240 + 4);
    bootp.set([1, 1, 6], 0);
    bootp.set(GUEST_MAC, 28);
    new DataView(bootp.buffer).setUint32(236, 0x63825363);
    bootp.set([53, 1, 1, 255], 240);
    const f = buildIpv4(new Uint8Array(6).fill(0xff), GUEST_MAC, 0, 0xffffffff, PROTO_UDP, buildUdp(0, 0xffffffff, 68, 67, bootp));
    r.guest.send(f);
    const offer = r.got.map((x) => parseIpv4(x)).find((p) => p?.protocol === PROTO_UDP);
    const opts = [...parseUdp(offer!.payload)!.data.subarray(240)];
    const opt = (code: number) => {
      for (let i = 0; i < opts.length && opts[i] !== 255; i += 2 + opts[i + 1]) if (opts[i] === code) return opts.slice(i + 2, i + 2 + opts[i + 1]).join('.');
    };
    expect([opt(3), opt(6)]).toEqual(['10.0.3.1', '10.0.3.1']);
    r.gw.close();
  });

  it('carries a guest TCP connection to a host service through the relay, both ways', async () => {
    const r = rig();
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40001, dstPort: serverPort, seq: 100, ack: 0, flags: TCP_SYN, window: 65535, mss: 1460 }));
    const synAck = r.tcpIn().find((t) => t.flags === (TCP_SYN | TCP_ACK))!;
    expect(synAck).toMatchObject({ from: FAR, srcPort: serverPort, dstPort: 40001, ack: 101, mss: 1460 });
    const ack = (synAck.seq + 1) >>> 0;
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40001, dstPort: serverPort, seq: 101, ack, flags: TCP_ACK, window: 65535 }));
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40001, dstPort: serverPort, seq: 101, ack, flags: TCP_ACK | TCP_PSH, window: 65535, data: new TextEncoder().encode('hello relay') }));
    const answer = await until(() => r.tcpIn().find((t) => t.data.length > 0));
    expect(new TextDecoder().decode(answer.data)).toBe('HELLO RELAY');
    expect(relay.stats.targets).toContain(`tcp:203.0.113.5:${serverPort}`);
    expect(r.gw.status()).toMatchObject({ state: 'up', tcp: 1 });
    relay.dropConnections(); // the relay goes away: the guest's connection is reset
    const rst = await until(() => r.tcpIn().find((t) => (t.flags & TCP_RST) !== 0));
    expect(rst).toMatchObject({ srcPort: serverPort, dstPort: 40001 });
    expect(r.gw.status()).toMatchObject({ state: 'down', tcp: 0 });
    r.gw.close();
  });

  it('a guest that ends its side (FIN with its request) still gets the late answer, then a FIN', async () => {
    const r = rig();
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40002, dstPort: slowPort, seq: 100, ack: 0, flags: TCP_SYN, window: 65535, mss: 1460 }));
    const ack = (r.tcpIn().find((t) => t.flags === (TCP_SYN | TCP_ACK))!.seq + 1) >>> 0;
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40002, dstPort: slowPort, seq: 101, ack, flags: TCP_ACK, window: 65535 }));
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40002, dstPort: slowPort, seq: 101, ack, flags: TCP_ACK | TCP_PSH | TCP_FIN, window: 65535, data: new TextEncoder().encode('GET') }));
    const answer = await until(() => r.tcpIn().find((t) => t.data.length > 0));
    expect(new TextDecoder().decode(answer.data)).toBe('late GET');
    const fin = await until(() => r.tcpIn().find((t) => (t.flags & TCP_FIN) !== 0));
    expect(fin.seq).toBe((ack + answer.data.length) >>> 0);
    expect(r.tcpIn().some((t) => (t.flags & TCP_RST) !== 0)).toBe(false);
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40002, dstPort: slowPort, seq: 105, ack: (fin.seq + 1) >>> 0, flags: TCP_ACK, window: 65535 }));
    expect(r.gw.status().tcp).toBe(0);
    r.gw.close();
  });

  it('a connection the guest ended is closed cleanly once the far end stays quiet', async () => {
    let clock = 0;
    const r = rig(relay.url, () => clock);
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40003, dstPort: silentPort, seq: 100, ack: 0, flags: TCP_SYN, window: 65535, mss: 1460 }));
    const ack = (r.tcpIn().find((t) => t.flags === (TCP_SYN | TCP_ACK))!.seq + 1) >>> 0;
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40003, dstPort: silentPort, seq: 101, ack, flags: TCP_ACK | TCP_FIN, window: 65535 }));
    await until(() => relay.stats.targets.includes(`tcp:203.0.113.5:${silentPort}`));
    clock += HALF_CLOSED_IDLE_MS - 1000;
    r.gw.tick();
    expect(r.tcpIn().some((t) => (t.flags & TCP_FIN) !== 0)).toBe(false);
    clock += 2000;
    r.gw.tick();
    expect(r.tcpIn().find((t) => (t.flags & TCP_FIN) !== 0)).toMatchObject({ seq: ack, ack: 102 });
    r.gw.close();
  });

  it('carries 6 MiB from the far end to a guest that acknowledges as it goes (reading the relay pauses and resumes)', async () => {
    const { randomBytes, createHash } = await import('node:crypto');
    const big = randomBytes(6 << 20);
    const src = createServer((s) => s.end(big));
    await new Promise<void>((res) => src.listen(0, '127.0.0.1', () => res()));
    const port = (src.address() as { port: number }).port;
    try {
      const r = rig();
      const seg = (seq: number, ack: number, flags: number) => r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40003, dstPort: port, seq, ack, flags, window: 65535, mss: flags & TCP_SYN ? 1460 : undefined }));
      seg(500, 0, TCP_SYN);
      const synAck = r.tcpIn().find((t) => t.flags === (TCP_SYN | TCP_ACK))!;
      let next = (synAck.seq + 1) >>> 0;
      seg(501, next, TCP_ACK);
      const parts: Uint8Array[] = [];
      let seen = 0;
      let fin = false;
      const end = Date.now() + 20_000;
      while (!fin && Date.now() < end) {
        const segs = r.tcpIn().slice(seen);
        seen += segs.length;
        for (const t of segs) {
          if (t.srcPort !== port) continue;
          if (t.seq === next && t.data.length > 0) {
            parts.push(t.data.slice());
            next = (next + t.data.length) >>> 0;
          }
          if (t.flags & 1 && t.seq === next) {
            next = (next + 1) >>> 0;
            fin = true;
          }
        }
        r.got.length = 0;
        seen = 0;
        seg(501, next, TCP_ACK);
        await new Promise((res) => setTimeout(res, 1));
      }
      const got = Buffer.concat(parts);
      expect(got.length).toBe(big.length);
      expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
      r.gw.close();
    } finally {
      src.close();
    }
  });

  it('asks the DNS server through the relay for queries to the gateway, and answers from the gateway', async () => {
    const r = rig();
    const q = Buffer.from('abcd010000010000000000000566696c657304746573740000010001', 'hex');
    r.ip(GW, PROTO_UDP, buildUdp(GUEST, GW, 5353, 53, q));
    const a = await until(() => r.got.map((f) => parseIpv4(f)).find((p) => p?.protocol === PROTO_UDP));
    expect(formatIp(a.src)).toBe('10.0.3.1');
    const d = parseUdp(a.payload)!;
    expect([d.srcPort, d.dstPort]).toEqual([53, 5353]);
    expect([...d.data.subarray(d.data.length - 4)]).toEqual([203, 0, 113, 5]);
    expect(relay.stats.targets).toContain('udp:192.0.2.53:53');
    r.gw.close();
  });

  it('resets the guest\'s connection when the relay cannot be reached, and says why', async () => {
    const r = rig('ws://127.0.0.1:1/');
    r.ip(FAR, PROTO_TCP, buildTcp(GUEST, FAR, { srcPort: 40002, dstPort: 80, seq: 7, ack: 0, flags: TCP_SYN, window: 65535 }));
    await until(() => r.tcpIn().find((t) => (t.flags & TCP_RST) !== 0));
    expect(r.gw.status()).toMatchObject({ state: 'down', error: 'cannot reach the relay ws://127.0.0.1:1/: ECONNREFUSED' });
    r.gw.close();
  });
});
