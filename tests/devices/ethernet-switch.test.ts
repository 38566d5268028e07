// The lab switch: learning, flooding, bounds; and the DHCP server that sits on it.

import { describe, expect, it } from 'vitest';
import { EthernetSwitch } from '../../src/devices/backends/ethernet-switch.js';
import { checksum, DhcpServer, formatIp } from '../../src/devices/backends/dhcp-server.js';

function mac(n: number): Uint8Array {
  return Uint8Array.of(0x52, 0x54, 0x00, (n >> 16) & 255, (n >> 8) & 255, n & 255);
}

function frame(dst: Uint8Array, src: Uint8Array, payload = 46): Uint8Array {
  const f = new Uint8Array(14 + payload);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  return f;
}

const BROADCAST = new Uint8Array(6).fill(0xff);

function wire(sw: EthernetSwitch, name: string) {
  const port = sw.attach(name);
  const got: Uint8Array[] = [];
  port.connect((f) => got.push(f));
  return { port, got };
}

describe('EthernetSwitch', () => {
  it('floods broadcasts and unknown destinations, then forwards to the learned port only', () => {
    const sw = new EthernetSwitch();
    const a = wire(sw, 'a');
    const b = wire(sw, 'b');
    const c = wire(sw, 'c');
    a.port.send(frame(BROADCAST, mac(1)));
    expect([a.got.length, b.got.length, c.got.length]).toEqual([0, 1, 1]);
    b.port.send(frame(mac(1), mac(2)));
    expect([a.got.length, b.got.length, c.got.length]).toEqual([1, 1, 1]);
    a.port.send(frame(mac(2), mac(1)));
    expect([a.got.length, b.got.length, c.got.length]).toEqual([1, 2, 1]);
    c.port.send(frame(mac(99), mac(3)));
    expect([a.got.length, b.got.length, c.got.length]).toEqual([2, 3, 1]);
    expect(sw.stats).toEqual({ forwarded: 2, flooded: 2, dropped: 0 });
    // A MAC that moves is learned on its new port.
    c.port.send(frame(BROADCAST, mac(1)));
    b.port.send(frame(mac(1), mac(2)));
    expect(c.got.length).toBe(2);
  });

  it('drops runt and oversized frames and frames from a detached port; a detached port gets nothing', () => {
    const sw = new EthernetSwitch();
    const a = wire(sw, 'a');
    const b = wire(sw, 'b');
    a.port.send(new Uint8Array(13));
    a.port.send(new Uint8Array(1523));
    expect(b.got.length).toBe(0);
    b.port.detach();
    a.port.send(frame(BROADCAST, mac(1)));
    b.port.send(frame(BROADCAST, mac(2)));
    expect(b.got.length).toBe(0);
    expect(a.got.length).toBe(0);
    expect(sw.stats.dropped).toBe(3);
  });

  it('keeps its MAC table bounded when a guest sends from thousands of MACs, and ages entries out', () => {
    let now = 0;
    const sw = new EthernetSwitch({ maxMacs: 100, ageMs: 1000, now: () => now });
    const a = wire(sw, 'a');
    const b = wire(sw, 'b');
    for (let i = 0; i < 5000; i++) a.port.send(frame(BROADCAST, mac(1000 + i)));
    expect(sw.portOf(mac(1000))).toBeUndefined();
    expect(sw.portOf(mac(5999))).toBe(a.port);
    b.port.send(frame(mac(5999), mac(7)));
    expect(sw.stats.forwarded).toBe(1);
    now = 5000;
    b.port.send(frame(mac(5999), mac(7)));
    expect(sw.stats.forwarded).toBe(1); // aged out: flooded instead
  });
});

function dhcpFrame(type: number, client: Uint8Array, xid: number, requested?: string): Uint8Array {
  const opts = [53, 1, type];
  if (requested) opts.push(50, 4, ...requested.split('.').map(Number));
  opts.push(255);
  const bootp = new Uint8Array(240 + opts.length);
  bootp[0] = 1;
  bootp[1] = 1;
  bootp[2] = 6;
  new DataView(bootp.buffer).setUint32(4, xid);
  bootp.set(client, 28);
  new DataView(bootp.buffer).setUint32(236, 0x63825363);
  bootp.set(opts, 240);
  const f = new Uint8Array(42 + bootp.length);
  const v = new DataView(f.buffer);
  f.fill(0xff, 0, 6);
  f.set(client, 6);
  v.setUint16(12, 0x0800);
  f[14] = 0x45;
  v.setUint16(16, 28 + bootp.length);
  f[23] = 17;
  v.setUint32(30, 0xffffffff);
  v.setUint16(34, 68);
  v.setUint16(36, 67);
  v.setUint16(38, 8 + bootp.length);
  f.set(bootp, 42);
  return f;
}

function parseReply(f: Uint8Array) {
  const v = new DataView(f.buffer, f.byteOffset);
  const opts = new Map<number, Uint8Array>();
  for (let o = 42 + 240; f[o] !== 255;) {
    opts.set(f[o], f.slice(o + 2, o + 2 + f[o + 1]));
    o += 2 + f[o + 1];
  }
  return {
    ipHeaderOk: checksum(f.subarray(14, 34)) === 0,
    xid: v.getUint32(42 + 4),
    yiaddr: formatIp(v.getUint32(42 + 16)),
    type: opts.get(53)![0],
    mask: opts.get(1) ? formatIp(new DataView(opts.get(1)!.buffer).getUint32(0)) : undefined,
  };
}

describe('DhcpServer on the switch', () => {
  it('offers and acknowledges pool addresses, honours static leases, NAKs a wrong request', () => {
    const sw = new EthernetSwitch();
    const dhcp = new DhcpServer(sw.attach('dhcp'), { subnet: '10.0.2.0/24', staticLeases: { '52:54:00:00:00:07': '10.0.2.15' } });
    const a = wire(sw, 'a');
    a.port.send(dhcpFrame(1, mac(1), 0x1234));
    const offer = parseReply(a.got[0]);
    expect(offer).toEqual({ ipHeaderOk: true, xid: 0x1234, yiaddr: '10.0.2.100', type: 2, mask: '255.255.255.0' });
    a.port.send(dhcpFrame(3, mac(1), 0x1235, '10.0.2.100'));
    expect(parseReply(a.got[1])).toMatchObject({ type: 5, yiaddr: '10.0.2.100' });
    a.port.send(dhcpFrame(3, mac(1), 0x1236, '10.0.2.200'));
    expect(parseReply(a.got[2]).type).toBe(6);
    a.port.send(dhcpFrame(1, mac(7), 0x99));
    expect(parseReply(a.got[3])).toMatchObject({ type: 2, yiaddr: '10.0.2.15' });
    expect(dhcp.addressOf('52:54:00:00:00:01')).toBe('10.0.2.100');
  });

  it('ignores garbage without throwing (seeded random and truncated frames)', () => {
    const sw = new EthernetSwitch();
    const dhcp = new DhcpServer(sw.attach('dhcp'), { subnet: '192.168.7.0/24' });
    const a = wire(sw, 'a');
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    const good = dhcpFrame(1, mac(3), 1);
    for (let i = 0; i < 3000; i++) {
      const f = good.slice(0, 14 + (rnd() * 3) % (good.length - 13));
      for (let k = 0; k < 4; k++) f[rnd() % f.length] = rnd();
      a.port.send(f);
    }
    expect(dhcp.answered).toBeLessThan(3000);
    expect(() => new DhcpServer(sw.attach('x'), { subnet: '10.0.0.0/8' })).toThrow(/prefix/);
  });
});
