// Lab manifests with tasks and networks: what is accepted, and one clear line for what is not.

import { describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { parseLab } from '../../src/hypervisor/lab.js';

const images = [{ name: 'img', engine: 'rv64', kernel: 'k', memoryMiB: 64 }] as unknown as ImageEntry[];
const base = { format: 'tabvisor-lab/1', name: 'l', vms: [{ name: 'a', image: 'img' }, { name: 'b', image: 'img' }] };

function error(extra: Record<string, unknown>): string {
  try {
    parseLab({ ...base, ...extra }, images);
  } catch (e) {
    expect(e).toBeInstanceOf(HypervisorError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('lab tasks in the manifest', () => {
  it('accepts tasks with checks and hints, and a lab without tasks has none', () => {
    const lab = parseLab({ ...base, tasks: [{ id: 't1', title: 'T', vm: 'a', check: 'true', hints: ['h'], instructions: '# x' }] }, images);
    expect(lab.tasks).toEqual([{ id: 't1', title: 'T', vm: 'a', check: 'true', hints: ['h'], instructions: '# x' }]);
    expect(parseLab(base, images).tasks).toEqual([]);
  });

  it('refuses a task naming no VM, a repeated id, a missing check, unknown fields', () => {
    expect(error({ tasks: [{ id: 't', title: 'T', vm: 'zz', check: 'true' }] })).toBe('lab: "tasks[0].vm" names no VM of the lab ("zz"; have: a, b)');
    expect(error({ tasks: [{ id: 't', title: 'T', vm: 'a', check: 'x' }, { id: 't', title: 'U', vm: 'a', check: 'y' }] })).toBe('lab: "tasks[1].id" repeats "t"');
    expect(error({ tasks: [{ id: 't', title: 'T', vm: 'a' }] })).toBe('lab: "tasks[0].check" must be a non-empty string');
    expect(error({ tasks: [{ id: 't', title: 'T', vm: 'a', check: 'x', points: 3 }] })).toMatch(/^lab: unknown field "tasks\[0\]\.points"/);
    expect(error({ tasks: [{ id: 't', title: 'T', vm: 'a', check: 'x'.repeat(70000) }] })).toMatch(/longer than 65536 bytes/);
  });
});

describe('lab networks in the manifest', () => {
  it('puts VMs on a network, with DHCP by default and fixed addresses checked against the subnet', () => {
    const lab = parseLab({
      ...base,
      networks: [{ name: 'lan', subnet: '10.0.2.0/24' }],
      vms: [{ name: 'a', image: 'img', network: 'lan', ip: '10.0.2.15' }, { name: 'b', image: 'img', network: 'lan' }],
    }, images);
    expect(lab.networks).toEqual([{ name: 'lan', subnet: '10.0.2.0/24', dhcp: true }]);
    expect(lab.vms.map((v) => v.net)).toEqual([{ network: 'lan', ip: '10.0.2.15' }, { network: 'lan' }]);
  });

  it('refuses bad subnets, unknown networks, addresses outside the subnet or used twice', () => {
    const nets = { networks: [{ name: 'lan', subnet: '10.0.2.0/24' }] };
    expect(error({ networks: [{ name: 'lan', subnet: '10.0.0.0/8' }] })).toMatch(/prefix from \/16 to \/30/);
    expect(error({ ...nets, vms: [{ name: 'a', image: 'img', network: 'wan' }] })).toBe('lab: "vms[0].network" names no network of the lab ("wan"; have: lan)');
    expect(error({ ...nets, vms: [{ name: 'a', image: 'img', network: 'lan', ip: '10.0.3.5' }] })).toMatch(/not a usable address of 10.0.2.0\/24/);
    expect(error({ ...nets, vms: [{ name: 'a', image: 'img', network: 'lan', ip: '10.0.2.1' }] })).toMatch(/not a usable address/);
    expect(error({ ...nets, vms: [{ name: 'a', image: 'img', network: 'lan', ip: '10.0.2.9' }, { name: 'b', image: 'img', network: 'lan', ip: '10.0.2.9' }] })).toMatch(/used twice/);
    expect(error({ vms: [{ name: 'a', image: 'img', ip: '10.0.2.9' }] })).toBe('lab: "vms[0].ip" needs "vms[0].network"');
    expect(error({ networks: [{ name: 'lan', subnet: '10.0.2.0/24' }, { name: 'lan', subnet: '10.0.3.0/24' }] })).toBe('lab: "networks[1].name" repeats "lan"');
  });

  it('takes "internet" as a ws:// or wss:// relay URL; none by default', () => {
    const lab = parseLab({ ...base, networks: [{ name: 'lan', subnet: '10.0.2.0/24', internet: 'wss://relay.example/wisp/' }, { name: 'b', subnet: '10.0.3.0/24' }] }, images);
    expect(lab.networks).toEqual([
      { name: 'lan', subnet: '10.0.2.0/24', dhcp: true, internet: 'wss://relay.example/wisp/' },
      { name: 'b', subnet: '10.0.3.0/24', dhcp: true },
    ]);
    expect(error({ networks: [{ name: 'lan', subnet: '10.0.2.0/24', internet: 'https://relay.example/' }] }))
      .toBe('lab: "networks[0].internet": a relay URL starts with ws:// or wss:// (got "https://relay.example/")');
    expect(error({ networks: [{ name: 'lan', subnet: '10.0.2.0/24', internet: true }] })).toBe('lab: "networks[0].internet": a relay URL is a string');
    expect(error({ networks: [{ name: 'lan', subnet: '10.0.2.0/24', internet: 'ws://r/', dhcp: false }] })).toMatch(/^lab: "networks\[0\].internet" needs the network's DHCP server/);
  });
});

describe('"disks" in the manifest', () => {
  it('takes true or false and refuses anything else with one line', () => {
    expect(parseLab({ ...base, disks: false }, images).disks).toBe(false);
    expect(parseLab(base, images).disks).toBeUndefined();
    expect(error({ disks: 'no' })).toBe('lab: "disks" must be true or false');
  });
});
