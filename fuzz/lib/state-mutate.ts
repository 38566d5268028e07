// Structure-aware mutations of a decoded engine state (src/engines/rv64/state-codec.ts values):
// hostile numbers and types at chosen fields, and at random leaves anywhere in the tree.

import type { StateValue } from '../../src/engines/rv64/state-codec.js';
import type { Rng } from './rng.js';

type Obj = { [key: string]: StateValue };

export function clone(v: StateValue): StateValue {
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) return v.map(clone);
  if (v !== null && typeof v === 'object') {
    const o: Obj = Object.create(null) as Obj;
    for (const [k, x] of Object.entries(v)) o[k] = clone(x);
    return o;
  }
  return v;
}

export const isObj = (v: StateValue | undefined): v is Obj =>
  v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);

/** A hostile number: edges of every integer width, fractions, NaN, infinities. */
export function hostileNumber(r: Rng): number {
  return r.pick([0, -0, -1, 1, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 32 - 1,
    2 ** 53, 2 ** 53 + 2, 1e300, 4095, 4096, 65535, 65536, 0x8000_0000, r.edgy32(), -r.edgy32()]);
}

/** A value of any type, biased to what breaks readers of the expected type. */
export function hostileValue(r: Rng, like?: StateValue): StateValue {
  const k = r.int(10);
  if (k < 4 && typeof like === 'number') return hostileNumber(r);
  if (k < 4 && typeof like === 'bigint') return r.chance(0.2) ? -r.edgy64() : r.edgy64();
  if (k < 4 && like instanceof Uint8Array) return r.chance(0.5) ? like.subarray(0, r.int(like.length + 1)) : r.bytes(r.pick([0, 1, 7, 8, 4095, 4097]));
  switch (r.int(9)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return hostileNumber(r);
    case 3: return r.edgy64();
    case 4: return r.pick(['', 'x', '0', '-1', '0x10', 'NaN', 'sv57', 'rv64', 'x'.repeat(5000)]);
    case 5: return r.bytes(r.int(64));
    case 6: return [];
    case 7: return Object.create(null) as Obj;
    default: return [hostileNumber(r), null];
  }
}

/** Every path to a node of the tree (object keys and array indices), skipping byte contents. */
export function paths(v: StateValue, at: (string | number)[] = [], out: (string | number)[][] = [], limit = 4000): (string | number)[][] {
  if (out.length >= limit) return out;
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out, limit));
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out, limit);
  return out;
}

export function getAt(root: StateValue, path: (string | number)[]): StateValue | undefined {
  let v: StateValue | undefined = root;
  for (const p of path) {
    if (Array.isArray(v)) v = v[p as number];
    else if (isObj(v)) v = v[p as string];
    else return undefined;
  }
  return v;
}

export function setAt(root: StateValue, path: (string | number)[], value: StateValue | undefined): void {
  const parent = getAt(root, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    if (value === undefined) parent.splice(last as number, 1);
    else parent[last as number] = value;
  } else if (isObj(parent)) {
    if (value === undefined) delete parent[last as string];
    else parent[last as string] = value;
  }
}

/** Replaces, deletes or duplicates a random node under `root` (not the root itself). */
export function mutateRandomLeaf(r: Rng, root: StateValue, under: (string | number)[] = []): string {
  const all = paths(getAt(root, under) ?? null, under).filter((p) => p.length > 0);
  if (all.length === 0) return 'none';
  const p = r.pick(all);
  const old = getAt(root, p);
  const what = r.int(10);
  if (what === 0) setAt(root, p, undefined);
  else if (what === 1 && isObj(getAt(root, p.slice(0, -1)))) setAt(root, [...p.slice(0, -1), `${String(p[p.length - 1])}_x`], old ?? null);
  else setAt(root, p, hostileValue(r, old));
  return p.join('.');
}
