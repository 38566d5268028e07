// Ethernet, ARP, IPv4, TCP, UDP and ICMP echo: parsing frames a guest sent and building frames
// for it, for the lab's internet gateway (internet-gateway.ts). Parsing is bounded (every length
// is checked against the frame; anything odd gives undefined) and copies nothing. IPv4 options
// are skipped, fragments are not taken (undefined), and checksums are written, not checked: the
// link between the guest and the gateway does not corrupt frames.

import { checksum } from './dhcp-server.js';

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export interface ArpRequest {
  senderMac: Uint8Array;
  senderIp: number;
  targetIp: number;
}

export interface Ipv4Packet {
  srcMac: Uint8Array;
  src: number;
  dst: number;
  protocol: number;
  /** The IP payload (TCP/UDP/ICMP header and data). */
  payload: Uint8Array;
}

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** From the MSS option (SYN only). */
  mss?: number;
  data: Uint8Array;
}

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  data: Uint8Array;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function etherType(f: Uint8Array): number {
  return f.length >= 14 ? (f[12] << 8) | f[13] : -1;
}

/** An ARP request (Ethernet/IPv4), or undefined. */
export function parseArpRequest(f: Uint8Array): ArpRequest | undefined {
  if (f.length < 42 || etherType(f) !== ETH_ARP) return undefined;
  const v = view(f);
  if (v.getUint16(14) !== 1 || v.getUint16(16) !== ETH_IPV4 || f[18] !== 6 || f[19] !== 4 || v.getUint16(20) !== 1) return undefined;
  return { senderMac: f.subarray(22, 28), senderIp: v.getUint32(28), targetIp: v.getUint32(38) };
}

export function buildArpReply(ourMac: Uint8Array, ourIp: number, to: ArpRequest): Uint8Array {
  const f = new Uint8Array(42);
  const v = view(f);
  f.set(to.senderMac, 0);
  f.set(ourMac, 6);
  v.setUint16(12, ETH_ARP);
  v.setUint16(14, 1);
  v.setUint16(16, ETH_IPV4);
  f[18] = 6;
  f[19] = 4;
  v.setUint16(20, 2);
  f.set(ourMac, 22);
  v.setUint32(28, ourIp);
  f.set(to.senderMac, 32);
  v.setUint32(38, to.senderIp);
  return f;
}

/** An unfragmented IPv4 packet, or undefined. */
export function parseIpv4(f: Uint8Array): Ipv4Packet | undefined {
  if (f.length < 34 || etherType(f) !== ETH_IPV4) return undefined;
  const v = view(f);
  const ihl = (f[14] & 0x0f) * 4;
  if (f[14] >> 4 !== 4 || ihl < 20) return undefined;
  const total = v.getUint16(16);
  if (total < ihl || 14 + total > f.length) return undefined;
  if ((v.getUint16(20) & 0x3fff) !== 0) return undefined; // a fragment (MF or an offset)
  return { srcMac: f.subarray(6, 12), src: v.getUint32(26), dst: v.getUint32(30), protocol: f[23], payload: f.subarray(14 + ihl, 14 + total) };
}

export function parseTcp(p: Uint8Array): TcpSegment | undefined {
  if (p.length < 20) return undefined;
  const v = view(p);
  const off = (p[12] >> 4) * 4;
  if (off < 20 || off > p.length) return undefined;
  let mss: number | undefined;
  for (let o = 20; o < off;) {
    const kind = p[o];
    if (kind === 0) break;
    if (kind === 1) {
      o++;
      continue;
    }
    if (o + 1 >= off || p[o + 1] < 2 || o + p[o + 1] > off) break;
    if (kind === 2 && p[o + 1] === 4) mss = v.getUint16(o + 2);
    o += p[o + 1];
  }
  return { srcPort: v.getUint16(0), dstPort: v.getUint16(2), seq: v.getUint32(4), ack: v.getUint32(8), flags: p[13] & 0x3f, window: v.getUint16(14), mss, data: p.subarray(off) };
}

export function parseUdp(p: Uint8Array): UdpDatagram | undefined {
  if (p.length < 8) return undefined;
  const v = view(p);
  const len = v.getUint16(4);
  if (len < 8 || len > p.length) return undefined;
  return { srcPort: v.getUint16(0), dstPort: v.getUint16(2), data: p.subarray(8, len) };
}

/** Ethernet + IPv4 header around `payload` (which already holds its own header). */
export function buildIpv4(dstMac: Uint8Array, srcMac: Uint8Array, src: number, dst: number, protocol: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(34 + payload.length);
  const v = view(f);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  v.setUint16(12, ETH_IPV4);
  f[14] = 0x45;
  v.setUint16(16, 20 + payload.length);
  v.setUint16(20, 0x4000); // don't fragment
  f[22] = 64;
  f[23] = protocol;
  v.setUint32(26, src);
  v.setUint32(30, dst);
  v.setUint16(24, checksum(f.subarray(14, 34)));
  f.set(payload, 34);
  return f;
}

/** The checksum over the IPv4 pseudo-header and an (odd or even length) TCP/UDP segment. */
function transportChecksum(src: number, dst: number, protocol: number, seg: Uint8Array): number {
  let sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + seg.length;
  const n = seg.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (seg[i] << 8) | seg[i + 1];
  if (seg.length & 1) sum += seg[seg.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface TcpOut {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Sent as the MSS option (SYN-ACK). */
  mss?: number;
  data?: Uint8Array;
}

export function buildTcp(src: number, dst: number, t: TcpOut): Uint8Array {
  const optLen = t.mss !== undefined ? 4 : 0;
  const data = t.data ?? new Uint8Array(0);
  const seg = new Uint8Array(20 + optLen + data.length);
  const v = view(seg);
  v.setUint16(0, t.srcPort);
  v.setUint16(2, t.dstPort);
  v.setUint32(4, t.seq >>> 0);
  v.setUint32(8, t.ack >>> 0);
  seg[12] = ((20 + optLen) / 4) << 4;
  seg[13] = t.flags;
  v.setUint16(14, t.window);
  if (t.mss !== undefined) {
    seg[20] = 2;
    seg[21] = 4;
    v.setUint16(22, t.mss);
  }
  seg.set(data, 20 + optLen);
  v.setUint16(16, transportChecksum(src, dst, PROTO_TCP, seg));
  return seg;
}

export function buildUdp(src: number, dst: number, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const seg = new Uint8Array(8 + data.length);
  const v = view(seg);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, seg.length);
  seg.set(data, 8);
  v.setUint16(6, transportChecksum(src, dst, PROTO_UDP, seg) || 0xffff);
  return seg;
}

/** An ICMP echo reply for an echo request payload, or undefined when it is not one. */
export function echoReply(icmp: Uint8Array): Uint8Array | undefined {
  if (icmp.length < 8 || icmp[0] !== 8 || icmp[1] !== 0) return undefined;
  const out = icmp.slice();
  out[0] = 0;
  out[2] = 0;
  out[3] = 0;
  const sum = transportChecksumPlain(out);
  out[2] = sum >> 8;
  out[3] = sum & 0xff;
  return out;
}

function transportChecksumPlain(b: Uint8Array): number {
  let sum = 0;
  const n = b.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (b.length & 1) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
