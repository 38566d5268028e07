// A minimal flattened device tree (DTB) writer (devicetree spec 0.4, chapter 5): header, memory
// reservation map, structure block, strings block. Version 17, big-endian throughout.

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_END = 9;
const HEADER_SIZE = 40;

export type FdtValue = Uint8Array | string | string[] | number | number[] | null;

/** Builds a DTB. Nodes nest with beginNode/endNode; property values are encoded as the spec says. */
export class FdtWriter {
  private struct: number[] = [];
  private strings: number[] = [];
  private stringOffsets = new Map<string, number>();
  private depth = 0;
  private reservations: [bigint, bigint][] = [];
  private phandles = 0;

  /** Adds a /memreserve/ entry. */
  reserve(address: bigint, size: bigint): void {
    this.reservations.push([address, size]);
  }

  /** Hands out the next phandle (1, 2, ...). */
  allocPhandle(): number {
    return ++this.phandles;
  }

  private u32(v: number): void {
    this.struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }

  private bytes(b: ArrayLike<number>): void {
    for (let i = 0; i < b.length; i++) this.struct.push(b[i]);
    while (this.struct.length % 4) this.struct.push(0);
  }

  beginNode(name: string): void {
    if (name.length > 0 && !/^[A-Za-z0-9,._+-]+(@[A-Za-z0-9,._+-]+)?$/.test(name)) throw new Error(`bad node name ${name}`);
    this.u32(FDT_BEGIN_NODE);
    this.bytes([...new TextEncoder().encode(name), 0]);
    this.depth++;
  }

  endNode(): void {
    if (this.depth === 0) throw new Error('endNode without beginNode');
    this.u32(FDT_END_NODE);
    this.depth--;
  }

  private nameOffset(name: string): number {
    let off = this.stringOffsets.get(name);
    if (off === undefined) {
      off = this.strings.length;
      this.strings.push(...new TextEncoder().encode(name), 0);
      this.stringOffsets.set(name, off);
    }
    return off;
  }

  /**
   * A property. Encoding by type: null -> empty; string -> NUL-terminated; string[] -> string list;
   * number / number[] -> u32 cells; Uint8Array -> raw bytes.
   */
  prop(name: string, value: FdtValue): void {
    if (this.depth === 0) throw new Error('property outside a node');
    let data: number[];
    if (value === null) data = [];
    else if (typeof value === 'string') data = [...new TextEncoder().encode(value), 0];
    else if (typeof value === 'number') data = cells([value]);
    else if (value instanceof Uint8Array) data = [...value];
    else if (value.length > 0 && typeof value[0] === 'string') data = (value as string[]).flatMap((s) => [...new TextEncoder().encode(s), 0]);
    else data = cells(value as number[]);
    this.u32(FDT_PROP);
    this.u32(data.length);
    this.u32(this.nameOffset(name));
    this.bytes(data);
  }

  /** Finishes the tree and returns the DTB bytes. */
  finish(bootCpuId = 0): Uint8Array {
    if (this.depth !== 0) throw new Error('unbalanced nodes');
    const struct = [...this.struct];
    struct.push(0, 0, 0, FDT_END);
    const rsvOffset = HEADER_SIZE; // 8-byte aligned
    const rsvSize = 16 * (this.reservations.length + 1);
    const structOffset = rsvOffset + rsvSize;
    const stringsOffset = structOffset + struct.length;
    const total = stringsOffset + this.strings.length;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    v.setUint32(0, FDT_MAGIC);
    v.setUint32(4, total);
    v.setUint32(8, structOffset);
    v.setUint32(12, stringsOffset);
    v.setUint32(16, rsvOffset);
    v.setUint32(20, 17); // version
    v.setUint32(24, 16); // last compatible version
    v.setUint32(28, bootCpuId);
    v.setUint32(32, this.strings.length);
    v.setUint32(36, struct.length);
    this.reservations.forEach(([a, s], i) => {
      v.setBigUint64(rsvOffset + 16 * i, a);
      v.setBigUint64(rsvOffset + 16 * i + 8, s);
    });
    out.set(struct, structOffset);
    out.set(this.strings, stringsOffset);
    return out;
  }
}

function cells(values: number[]): number[] {
  const out: number[] = [];
  for (const c of values) {
    if (!Number.isInteger(c) || c < 0 || c > 0xffff_ffff) throw new RangeError(`cell value ${c} is not a u32`);
    out.push((c >>> 24) & 0xff, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff);
  }
  return out;
}

/** A 64-bit value as two cells (#address-cells = #size-cells = 2). */
export function cells64(v: bigint | number): number[] {
  const b = BigInt(v);
  return [Number((b >> 32n) & 0xffff_ffffn), Number(b & 0xffff_ffffn)];
}
