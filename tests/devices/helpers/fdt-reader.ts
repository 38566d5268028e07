// A minimal DTB reader for tests: flattens a tree into path -> { property -> bytes }.

export type FdtTree = Map<string, Map<string, Uint8Array>>;

export function readFdt(dtb: Uint8Array): FdtTree {
  const v = new DataView(dtb.buffer, dtb.byteOffset, dtb.byteLength);
  if (v.getUint32(0) !== 0xd00dfeed) throw new Error('not a DTB');
  const structOff = v.getUint32(8);
  const stringsOff = v.getUint32(12);
  const cstr = (off: number): [string, number] => {
    let end = off;
    while (dtb[end] !== 0) end++;
    return [new TextDecoder().decode(dtb.subarray(off, end)), end + 1];
  };
  const tree: FdtTree = new Map();
  const path: string[] = [];
  let p = structOff;
  for (;;) {
    const tok = v.getUint32(p);
    p += 4;
    if (tok === 1) {
      const [name, next] = cstr(p);
      p = (next + 3) & ~3;
      path.push(name);
      tree.set(path.length === 1 ? '/' : path.slice(1).map((n) => '/' + n).join(''), new Map());
    } else if (tok === 2) {
      path.pop();
    } else if (tok === 3) {
      const len = v.getUint32(p);
      const nameOff = v.getUint32(p + 4);
      const data = dtb.slice(p + 8, p + 8 + len);
      p = (p + 8 + len + 3) & ~3;
      const key = path.length === 1 ? '/' : path.slice(1).map((n) => '/' + n).join('');
      tree.get(key)!.set(cstr(stringsOff + nameOff)[0], data);
    } else if (tok === 4) {
      continue;
    } else if (tok === 9) {
      return tree;
    } else {
      throw new Error(`bad token ${tok}`);
    }
  }
}

export function propString(tree: FdtTree, node: string, prop: string): string | undefined {
  const d = tree.get(node)?.get(prop);
  return d === undefined ? undefined : new TextDecoder().decode(d.subarray(0, d.length - 1));
}

export function propCells(tree: FdtTree, node: string, prop: string): number[] | undefined {
  const d = tree.get(node)?.get(prop);
  if (d === undefined) return undefined;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  return Array.from({ length: d.length / 4 }, (_, i) => v.getUint32(4 * i));
}
