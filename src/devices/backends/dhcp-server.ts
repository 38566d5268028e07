// A small DHCP server (RFC 2131/2132) that sits on a lab's switch as one more port, so guests
// get addresses with `udhcpc`. It answers DISCOVER with OFFER and REQUEST with ACK (NAK for an
// address that is not the client's), hands static leases by MAC first and then addresses from a
// pool, and never answers anything else. Parsing is bounded: every length is checked against the
// frame, and a frame it does not understand is ignored.

/** Where the server's frames go and come from (a switch port, or the internet gateway's). */
export interface FramePort {
  send(frame: Uint8Array): void;
  connect(receive: (frame: Uint8Array) => void): void;
}

export interface DhcpConfig {
  /** The network, e.g. '10.0.2.0/24' (prefix 16 to 30). */
  subnet: string;
  /** The server's own address in the subnet (default: the first host address). */
  serverIp?: string;
  /** First and last pool addresses (default: .100 to the last host of the subnet, at most 200). */
  poolStart?: string;
  poolEnd?: string;
  /** Fixed addresses by MAC ('52:54:00:12:34:56' -> '10.0.2.15'). */
  staticLeases?: Record<string, string>;
  leaseSeconds?: number;
  /** Optional router and DNS server options. */
  router?: string;
  dns?: string;
}

/** The server's MAC (the internet gateway, which holds the server when a network has one, uses it too). */
export const SERVER_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0xd4, 0xc0, 0x01);
const MAGIC = 0x63825363;
const DISCOVER = 1, OFFER = 2, REQUEST = 3, ACK = 5, NAK = 6, RELEASE = 7;

export class DhcpServer {
  readonly serverIp: number;
  private readonly mask: number;
  private readonly network: number;
  private readonly pool: [number, number];
  private readonly statics = new Map<string, number>();
  /** MAC -> address given (pool leases; kept for the life of the lab). */
  private readonly leases = new Map<string, number>();
  private readonly leaseSeconds: number;
  private readonly router: number | undefined;
  private readonly dns: number | undefined;
  answered = 0;

  constructor(private readonly port: FramePort, config: DhcpConfig) {
    const [net, bitsText] = config.subnet.split('/');
    const bits = Number(bitsText);
    if (!Number.isInteger(bits) || bits < 16 || bits > 30) throw new Error(`dhcp: subnet ${config.subnet} needs a prefix from /16 to /30`);
    this.mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    this.network = (parseIp(net) & this.mask) >>> 0;
    const broadcast = (this.network | ~this.mask) >>> 0;
    this.serverIp = config.serverIp ? this.inside(config.serverIp) : this.network + 1;
    const start = config.poolStart ? this.inside(config.poolStart) : Math.min(this.network + 100, broadcast - 1);
    const end = config.poolEnd ? this.inside(config.poolEnd) : Math.min(start + 199, broadcast - 1);
    if (end < start) throw new Error('dhcp: the pool ends before it starts');
    this.pool = [start, end];
    for (const [mac, ip] of Object.entries(config.staticLeases ?? {})) this.statics.set(mac.toLowerCase(), this.inside(ip));
    this.leaseSeconds = config.leaseSeconds ?? 86400;
    this.router = config.router ? this.inside(config.router) : undefined;
    this.dns = config.dns ? parseIp(config.dns) : undefined;
    port.connect((frame) => this.receive(frame));
  }

  private inside(ip: string): number {
    const v = parseIp(ip);
    if (((v & this.mask) >>> 0) !== this.network) throw new Error(`dhcp: ${ip} is not in the subnet`);
    return v;
  }

  /** Gives `ip` to `mac` from now on (a fixed lease). */
  setStatic(mac: string, ip: string): void {
    const v = this.inside(ip);
    for (const [other, addr] of this.statics) if (addr === v && other !== mac.toLowerCase()) throw new Error(`${ip} is given to ${other} already`);
    this.statics.set(mac.toLowerCase(), v);
    this.leases.delete(mac.toLowerCase());
  }

  /** The address a MAC has (static or leased), if any. */
  addressOf(mac: string): string | undefined {
    const v = this.statics.get(mac) ?? this.leases.get(mac);
    return v === undefined ? undefined : formatIp(v);
  }

  private allocate(mac: string): number | undefined {
    const fixed = this.statics.get(mac) ?? this.leases.get(mac);
    if (fixed !== undefined) return fixed;
    const used = new Set([...this.statics.values(), ...this.leases.values(), this.serverIp]);
    for (let ip = this.pool[0]; ip <= this.pool[1]; ip++) {
      if (!used.has(ip)) {
        this.leases.set(mac, ip);
        return ip;
      }
    }
    return undefined;
  }

  private receive(f: Uint8Array): void {
    // Ethernet + IPv4 + UDP to port 67, with room for the fixed BOOTP part and the cookie.
    if (f.length < 14 + 20 + 8 + 240) return;
    const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
    if (v.getUint16(12) !== 0x0800) return;
    const ihl = (f[14] & 0x0f) * 4;
    if ((f[14] >> 4) !== 4 || ihl < 20 || f[23] !== 17) return;
    const udp = 14 + ihl;
    if (udp + 8 + 240 > f.length || v.getUint16(udp + 2) !== 67) return;
    const b = udp + 8;
    if (f[b] !== 1 || f[b + 1] !== 1 || f[b + 2] !== 6 || v.getUint32(b + 236) !== MAGIC) return;
    const xid = v.getUint32(b + 4);
    const chaddr = f.slice(b + 28, b + 34);
    const mac = [...chaddr].map((x) => x.toString(16).padStart(2, '0')).join(':');
    let type = 0;
    let requested: number | undefined;
    for (let o = b + 240; o < f.length;) {
      const code = f[o];
      if (code === 255) break;
      if (code === 0) {
        o++;
        continue;
      }
      if (o + 1 >= f.length) return;
      const len = f[o + 1];
      if (o + 2 + len > f.length) return;
      if (code === 53 && len === 1) type = f[o + 2];
      if (code === 50 && len === 4) requested = v.getUint32(o + 2);
      o += 2 + len;
    }
    if (type === DISCOVER) {
      const ip = this.allocate(mac);
      if (ip !== undefined) this.reply(OFFER, xid, chaddr, ip);
    } else if (type === REQUEST) {
      const ip = this.allocate(mac);
      const ciaddr = v.getUint32(b + 12);
      const wanted = requested ?? ciaddr;
      if (ip !== undefined && (wanted === 0 || wanted === ip)) this.reply(ACK, xid, chaddr, ip);
      else this.reply(NAK, xid, chaddr, 0);
    } else if (type === RELEASE) {
      this.leases.delete(mac);
    }
  }

  private reply(type: number, xid: number, chaddr: Uint8Array, yiaddr: number): void {
    const opts: number[] = [53, 1, type, 54, 4, ...ipBytes(this.serverIp)];
    if (type !== NAK) {
      opts.push(51, 4, ...u32Bytes(this.leaseSeconds), 1, 4, ...ipBytes(this.mask));
      if (this.router !== undefined) opts.push(3, 4, ...ipBytes(this.router));
      if (this.dns !== undefined) opts.push(6, 4, ...ipBytes(this.dns));
    }
    opts.push(255);
    const bootp = new Uint8Array(240 + opts.length);
    const bv = new DataView(bootp.buffer);
    bootp[0] = 2; // BOOTREPLY
    bootp[1] = 1;
    bootp[2] = 6;
    bv.setUint32(4, xid);
    bv.setUint16(10, 0x8000); // broadcast: the client has no address yet
    bv.setUint32(16, yiaddr);
    bv.setUint32(20, this.serverIp);
    bootp.set(chaddr, 28);
    bv.setUint32(236, MAGIC);
    bootp.set(opts, 240);

    const udpLen = 8 + bootp.length;
    const ipLen = 20 + udpLen;
    const frame = new Uint8Array(14 + ipLen);
    const v = new DataView(frame.buffer);
    frame.fill(0xff, 0, 6);
    frame.set(SERVER_MAC, 6);
    v.setUint16(12, 0x0800);
    frame[14] = 0x45;
    v.setUint16(16, ipLen);
    frame[22] = 64; // TTL
    frame[23] = 17; // UDP
    v.setUint32(26, this.serverIp);
    v.setUint32(30, 0xffffffff);
    v.setUint16(24, checksum(frame.subarray(14, 34)));
    v.setUint16(34, 67);
    v.setUint16(36, 68);
    v.setUint16(38, udpLen);
    frame.set(bootp, 42); // UDP checksum 0: none (allowed over IPv4)
    this.answered++;
    this.port.send(frame);
  }
}

export function parseIp(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`not an IPv4 address: ${s}`);
  return parts.reduce((a, p) => a * 256 + Number(p), 0) >>> 0;
}

export function formatIp(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function ipBytes(v: number): number[] {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

const u32Bytes = ipBytes;

/** The Internet checksum (RFC 1071) of an even-length header. */
export function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
