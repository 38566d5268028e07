// Lab manifests (labs/*.json) as a page or the CLI gets them: JSON text, mostly close to a valid
// lab, with wrong types, unknown and prototype-named fields, bad and repeated names, edge numbers,
// huge lists and strings, deep nesting and damaged text. Fed to parseLab (src/hypervisor/lab.ts).
// Outcomes: accepted, refused not-json (JSON.parse), refused bad-lab (HypervisorError 'bad-lab').
// An accepted lab must satisfy the schema (labs/lab.schema.json) and parse again to itself.

import { parseLab, LAB_FORMAT, type Lab } from '../../src/hypervisor/lab.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Rng } from '../lib/rng.js';
import { accepted, defect, refused, type FuzzTarget, type Outcome } from '../lib/target.js';

const image = (name: string, engine: 'rv64' | 'v86'): ImageEntry => ({
  name, arch: engine === 'rv64' ? 'riscv64' : 'i686', engine, kernel: 'k', cmdline: '', memoryMiB: 64, readyMarker: 'r', sha256: {},
});
const IMAGES = [image('riscv64-busybox', 'rv64'), image('x86-busybox', 'v86')];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ODD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' name', 'Name', 'vms '];

function name(r: Rng): string {
  switch (r.int(8)) {
    case 0: return '';
    case 1: return 'a'.repeat(r.pick([63, 64, 65, 1000]));
    case 2: return r.pick(['-x', '.x', 'x y', 'é', 'x/y', '../x', 'x\u0000', 'con', '0', 'x\n']);
    case 3: return String.fromCharCode(...Array.from({ length: r.range(1, 8) }, () => r.int(0x3000)));
    default: return `${r.pick(['vm', 'riscv', 'x86', 'n'])}${r.int(5)}`;
  }
}

function value(r: Rng, depth: number): unknown {
  switch (r.int(depth > 3 ? 6 : 9)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1, 0.5, 100, 100.0001, 2048, 2049, 1e308, -1e308, 2 ** 53, 4294967296, 1e-300]);
    case 3: return name(r);
    case 4: return r.int(4096);
    case 5: return 'x'.repeat(r.pick([0, 1, 10_000]));
    case 6: return Array.from({ length: r.int(4) }, () => value(r, depth + 1));
    case 7: return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(ODD_KEYS), value(r, depth + 1)]));
    default: return deep(r.range(10, 5000));
  }
}

/** A marker that text() turns into [[[[1]]]] nested n deep (too deep for JSON.stringify). */
function deep(n: number): unknown {
  return `@@deep${n}@@`;
}

function vm(r: Rng, i: number): Record<string, unknown> {
  const v: Record<string, unknown> = {
    name: r.chance(0.8) ? `vm${i}` : name(r),
    image: r.chance(0.85) ? r.pick(IMAGES).name : r.pick(['', 'nope', 'riscv64-busybox ', 'RISCV64-BUSYBOX']),
  };
  if (r.chance(0.3)) v.memoryMiB = r.chance(0.6) ? r.pick([16, 32, 64, 128, 256, 2048]) : value(r, 1);
  if (r.chance(0.2)) v.weight = r.chance(0.6) ? r.pick([0.5, 1, 2, 8]) : value(r, 1);
  if (r.chance(0.2)) v.capPercent = r.chance(0.6) ? r.pick([1, 50, 100]) : value(r, 1);
  if (r.chance(0.1)) delete v[r.pick(['name', 'image'])];
  if (r.chance(0.08)) v[r.pick(ODD_KEYS)] = value(r, 1);
  return v;
}

/** A list of VMs; long lists are plain ones with one odd entry somewhere (bounded text size). */
function vms(r: Rng, count: number): unknown[] {
  if (count <= 4) return Array.from({ length: count }, (_, i) => (r.chance(0.97) ? vm(r, i) : value(r, 1)));
  const list: unknown[] = Array.from({ length: count }, (_, i) => ({ name: `vm${i}`, image: IMAGES[i % 2]!.name }));
  list[r.int(count)] = r.chance(0.5) ? vm(r, r.int(count)) : value(r, 1);
  return list;
}

function lab(r: Rng): unknown {
  if (r.chance(0.03)) return value(r, 0);
  const count = r.chance(0.02) ? r.pick([0, 1000, 20_000]) : r.range(1, 4);
  const l: Record<string, unknown> = {
    format: r.chance(0.92) ? LAB_FORMAT : r.pick(['tabvisor-lab/2', '', 'TABVISOR-LAB/1', null, 1]),
    name: r.chance(0.85) ? 'lab1' : name(r),
    vms: r.chance(0.95) ? vms(r, count) : value(r, 0),
  };
  if (r.chance(0.2)) l.title = r.chance(0.7) ? 'Title' : value(r, 1);
  if (r.chance(0.1)) l.description = r.chance(0.7) ? 'd' : value(r, 1);
  if (r.chance(0.1)) l.$schema = './lab.schema.json';
  if (r.chance(0.05)) l[r.pick(ODD_KEYS)] = value(r, 1);
  if (r.chance(0.05)) delete l[r.pick(['format', 'name', 'vms'])];
  if (r.chance(0.08) && Array.isArray(l.vms) && l.vms.length > 1) (l.vms as unknown[])[1] = (l.vms as unknown[])[0];
  return l;
}

/** JSON text, sometimes damaged: a cut, a flipped byte, a duplicated key (JSON keeps the last). */
function text(r: Rng): string {
  let t = (JSON.stringify(lab(r)) ?? 'null').replace(/"@@deep(\d+)@@"/g, (_, n: string) => `${'['.repeat(Number(n))}1${']'.repeat(Number(n))}`);
  if (r.chance(0.05)) t = t.slice(0, r.int(t.length));
  if (r.chance(0.05)) {
    const i = r.int(t.length);
    t = t.slice(0, i) + String.fromCharCode(t.charCodeAt(i) ^ (1 << r.int(7))) + t.slice(i + 1);
  }
  if (r.chance(0.03)) t = t.replace('"name":', '"name":"dup","name":');
  return t;
}

/** What an accepted lab must be (labs/lab.schema.json); undefined when it is. */
function schemaViolation(l: Lab): string | undefined {
  const keys = new Set(['format', 'name', 'title', 'description', 'vms', 'tasks', 'networks']);
  if (Object.keys(l).some((k) => !keys.has(k))) return 'extra lab field';
  if (!Array.isArray(l.tasks) || !Array.isArray(l.networks)) return 'tasks or networks not lists';
  if (l.format !== LAB_FORMAT || !NAME.test(l.name) || !Array.isArray(l.vms) || l.vms.length === 0) return 'lab fields';
  const names = new Set<string>();
  for (const v of l.vms) {
    if (!NAME.test(v.name) || names.has(v.name)) return `vm name ${JSON.stringify(v.name)}`;
    names.add(v.name);
    if (!IMAGES.some((i) => i.name === v.image)) return `image ${JSON.stringify(v.image)}`;
    if (v.memoryMiB !== undefined && !(Number.isInteger(v.memoryMiB) && v.memoryMiB >= 1)) return `memoryMiB ${v.memoryMiB}`;
    if (v.weight !== undefined && !(v.weight >= 0.1 && v.weight <= 1000)) return `weight ${v.weight}`;
    if (v.capPercent !== undefined && !(v.capPercent >= 1 && v.capPercent <= 100)) return `capPercent ${v.capPercent}`;
    if (v.net !== undefined && !l.networks.some((n) => n.name === v.net!.network)) return `network ${JSON.stringify(v.net.network)}`;
  }
  return undefined;
}

export const target: FuzzTarget = {
  name: 'lab',
  about: 'lab manifests (JSON text) into parseLab',
  hangMs: 10_000, // generous: a loaded shared machine stalls GC-heavy inputs for seconds
  rssAllowanceBytes: 256 * 2 ** 20,
  async one(seed, index): Promise<Outcome> {
    const r = new Rng(seed, index);
    const t = text(r);
    let json: unknown;
    try {
      json = JSON.parse(t);
    } catch {
      return refused('not-json');
    }
    let parsed: Lab;
    try {
      parsed = parseLab(json, IMAGES);
    } catch (e) {
      if (e instanceof HypervisorError && e.code === 'bad-lab') {
        if (e.message.includes('\n') || !e.message.startsWith('lab: ')) return defect('bad-message', e.message.slice(0, 200));
        return refused('bad-lab');
      }
      throw e;
    }
    const why = schemaViolation(parsed);
    if (why) return defect('schema', `accepted a lab the schema refuses: ${why}`);
    const again = parseLab(JSON.parse(JSON.stringify(parsed)), IMAGES);
    if (JSON.stringify(again) !== JSON.stringify(parsed)) return defect('not-idempotent', 'parseLab(parseLab(x)) differs');
    return accepted(parsed.vms.length > 1 ? 'several-vms' : 'one-vm');
  },
};
