// The networks of a lab: each is an Ethernet switch (src/devices/backends/ethernet-switch.ts)
// with a DHCP server on it; a VM sits on at most one and gets its address from DHCP, a fixed
// one (`ip`) through a static lease for its MAC. Parsing and checking live here; the
// hypervisor carries the frames.

import { formatIp, parseIp } from '../devices/backends/dhcp-server.js';
import { checkRelayUrl } from '../devices/backends/wisp-client.js';
import { HypervisorError } from './errors.js';

export interface LabNetwork {
  name: string;
  /** e.g. '10.0.2.0/24' (prefix /16 to /30). */
  subnet: string;
  /** Hand out addresses with DHCP (default true). */
  dhcp: boolean;
  /** A WISP relay URL (ws:// or wss://): the network's .1 is a gateway to the internet; none by default. */
  internet?: string;
}

/** A VM's place on a network, from its `network` and `ip` fields. */
export interface LabVmNetwork {
  network: string;
  ip?: string;
}

const NET_FIELDS = ['name', 'subnet', 'dhcp', 'internet'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MAX_NETWORKS = 8;

function bad(message: string): HypervisorError {
  return new HypervisorError('bad-lab', `lab: ${message}`);
}

export function parseNetworks(raw: unknown): LabNetwork[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw bad('"networks" must be a list');
  if (raw.length > MAX_NETWORKS) throw bad(`"networks" may hold at most ${MAX_NETWORKS} networks`);
  const names = new Set<string>();
  return raw.map((item: unknown, i): LabNetwork => {
    const at = `networks[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw bad(`"${at}" must be an object`);
    const n = item as Record<string, unknown>;
    for (const key of Object.keys(n)) if (!NET_FIELDS.includes(key)) throw bad(`unknown field "${at}.${key}" (fields: ${NET_FIELDS.join(', ')})`);
    if (typeof n.name !== 'string' || !NAME.test(n.name)) throw bad(`"${at}.name" must be 1-63 letters, digits, '.', '_' or '-'`);
    if (names.has(n.name)) throw bad(`"${at}.name" repeats ${JSON.stringify(n.name)}`);
    names.add(n.name);
    if (typeof n.subnet !== 'string') throw bad(`"${at}.subnet" must be a string like "10.0.2.0/24"`);
    subnetOf(n.subnet, `${at}.subnet`);
    if (n.dhcp !== undefined && typeof n.dhcp !== 'boolean') throw bad(`"${at}.dhcp" must be true or false`);
    if (n.internet !== undefined) {
      const why = typeof n.internet === 'string' ? checkRelayUrl(n.internet) : 'a relay URL is a string';
      if (why !== undefined) throw bad(`"${at}.internet": ${why}`);
      if (n.dhcp === false) throw bad(`"${at}.internet" needs the network's DHCP server (it tells guests the gateway): drop "dhcp": false`);
    }
    return { name: n.name, subnet: n.subnet, dhcp: n.dhcp !== false, ...(typeof n.internet === 'string' ? { internet: n.internet } : {}) };
  });
}

/** Checks a VM's `network`/`ip` fields against the lab's networks; `taken` collects used addresses. */
export function parseVmNetwork(v: Record<string, unknown>, at: string, networks: readonly LabNetwork[], taken: Set<string>): LabVmNetwork | undefined {
  if (v.network === undefined) {
    if (v.ip !== undefined) throw bad(`"${at}.ip" needs "${at}.network"`);
    return undefined;
  }
  const net = networks.find((n) => n.name === v.network);
  if (net === undefined) throw bad(`"${at}.network" names no network of the lab (${JSON.stringify(v.network)}; have: ${networks.map((n) => n.name).join(', ') || 'none'})`);
  const out: LabVmNetwork = { network: net.name };
  if (v.ip !== undefined) {
    if (typeof v.ip !== 'string') throw bad(`"${at}.ip" must be an IPv4 address`);
    const { network, mask } = subnetOf(net.subnet, 'subnet');
    let ip: number;
    try {
      ip = parseIp(v.ip);
    } catch {
      throw bad(`"${at}.ip" must be an IPv4 address, got ${JSON.stringify(v.ip)}`);
    }
    const host = ip & ~mask;
    if (((ip & mask) >>> 0) !== network || host === 0 || host === (~mask >>> 0) || host === 1) {
      throw bad(`"${at}.ip" ${v.ip} is not a usable address of ${net.subnet} (the .1 is the lab's DHCP server)`);
    }
    if (taken.has(`${net.name}/${v.ip}`)) throw bad(`"${at}.ip" ${v.ip} is used twice on ${net.name}`);
    taken.add(`${net.name}/${v.ip}`);
    out.ip = formatIp(ip >>> 0);
  }
  return out;
}

function subnetOf(subnet: string, path: string): { network: number; mask: number; bits: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(subnet);
  const bits = m ? Number(m[2]) : NaN;
  if (!m || bits < 16 || bits > 30) throw bad(`"${path}" must be an IPv4 network with a prefix from /16 to /30, like "10.0.2.0/24"`);
  let base: number;
  try {
    base = parseIp(m[1]);
  } catch {
    throw bad(`"${path}" must be an IPv4 network like "10.0.2.0/24"`);
  }
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return { network: (base & mask) >>> 0, mask, bits };
}
