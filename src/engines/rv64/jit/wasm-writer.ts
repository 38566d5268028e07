// A small WebAssembly binary writer: just what the JIT emits (WebAssembly core spec 1.0,
// chapter 5 "Binary format"). Byte-level, no dependencies; modules are built in one pass.

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
/** Block type of a block/loop/if without a result. */
export const VOID = 0x40;

/** Opcodes the JIT uses. */
export const Op = {
  unreachable: 0x00, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, brTable: 0x0e,
  return: 0x0f, call: 0x10, returnCallIndirect: 0x13, drop: 0x1a, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, i64Load: 0x29, i64Load8S: 0x30, i64Load8U: 0x31, i64Load16S: 0x32, i64Load16U: 0x33,
  i64Load32S: 0x34, i64Load32U: 0x35, i64Store: 0x37, i64Store8: 0x3c, i64Store16: 0x3d, i64Store32: 0x3e,
  i32Const: 0x41, i64Const: 0x42,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtU: 0x49,
  i64Eqz: 0x50, i64Eq: 0x51, i64Ne: 0x52, i64LtS: 0x53, i64LtU: 0x54, i64GtS: 0x55, i64GtU: 0x56,
  i64LeS: 0x57, i64LeU: 0x58, i64GeS: 0x59, i64GeU: 0x5a,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32DivS: 0x6d, i32DivU: 0x6e, i32RemS: 0x6f, i32RemU: 0x70,
  i32And: 0x71, i32Or: 0x72, i32Xor: 0x73, i32Shl: 0x74, i32ShrS: 0x75, i32ShrU: 0x76,
  i64Add: 0x7c, i64Sub: 0x7d, i64Mul: 0x7e, i64DivS: 0x7f, i64DivU: 0x80, i64RemS: 0x81, i64RemU: 0x82,
  i64And: 0x83, i64Or: 0x84, i64Xor: 0x85, i64Shl: 0x86, i64ShrS: 0x87, i64ShrU: 0x88,
  i32WrapI64: 0xa7, i64ExtendI32S: 0xac, i64ExtendI32U: 0xad,
  i64Extend8S: 0xc2, i64Extend16S: 0xc3, i64Extend32S: 0xc4,
} as const;

/** A growable byte buffer with LEB128 helpers. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;

  byte(b: number): this {
    if (this.length === this.buf.length) {
      const n = new Uint8Array(this.buf.length * 2);
      n.set(this.buf);
      this.buf = n;
    }
    this.buf[this.length++] = b & 0xff;
    return this;
  }

  bytes(b: ArrayLike<number>): this {
    if (this.length + b.length > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.length + b.length) size *= 2;
      const n = new Uint8Array(size);
      n.set(this.buf.subarray(0, this.length));
      this.buf = n;
    }
    if (b instanceof Uint8Array) this.buf.set(b, this.length);
    else for (let i = 0; i < b.length; i++) this.buf[this.length + i] = b[i]! & 0xff;
    this.length += b.length;
    return this;
  }

  u32(v: number): this {
    let x = v >>> 0;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x !== 0) b |= 0x80;
      this.byte(b);
    } while (x !== 0);
    return this;
  }

  /** Signed LEB128 of a 32-bit value. */
  s32(v: number): this {
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) { this.byte(b); return this; }
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of a 64-bit value. */
  s64(v: bigint): this {
    let x = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) { this.byte(b); return this; }
      this.byte(b | 0x80);
    }
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export interface FuncType { params: number[]; results: number[] }
export interface FuncImport { module: string; name: string; type: number }
export interface FuncBody { type: number; locals: number[]; code: Uint8Array; export?: string }

/** Builds a module: function types, function imports, one imported memory, functions and their exports. */
export class ModuleWriter {
  readonly types: FuncType[] = [];
  readonly imports: FuncImport[] = [];
  readonly funcs: FuncBody[] = [];
  memoryImport: { module: string; name: string } | undefined;
  /** An imported funcref table, and functions the module places into it at instantiation. */
  tableImport: { module: string; name: string } | undefined;
  readonly elements: { offset: number; funcs: number[] } = { offset: 0, funcs: [] };

  type(params: number[], results: number[]): number {
    const key = `${params.join(',')}:${results.join(',')}`;
    const i = this.types.findIndex((t) => `${t.params.join(',')}:${t.results.join(',')}` === key);
    if (i >= 0) return i;
    this.types.push({ params, results });
    return this.types.length - 1;
  }

  /** Function index of an import (imports come first in the index space). */
  importFunc(module: string, name: string, type: number): number {
    this.imports.push({ module, name, type });
    return this.imports.length - 1;
  }

  /** Function index the next added function will get (valid once all imports are declared). */
  nextFuncIndex(): number {
    return this.imports.length + this.funcs.length;
  }

  addFunc(f: FuncBody): number {
    this.funcs.push(f);
    return this.imports.length + this.funcs.length - 1;
  }

  private section(out: ByteWriter, id: number, body: ByteWriter): void {
    out.byte(id).u32(body.length).bytes(body.result());
  }

  bytes(): Uint8Array {
    const out = new ByteWriter().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const ts = new ByteWriter().u32(this.types.length);
    for (const t of this.types) {
      ts.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
    }
    this.section(out, 1, ts);
    const is = new ByteWriter().u32(this.imports.length + (this.memoryImport ? 1 : 0) + (this.tableImport ? 1 : 0));
    for (const im of this.imports) is.name(im.module).name(im.name).byte(0x00).u32(im.type);
    if (this.memoryImport) is.name(this.memoryImport.module).name(this.memoryImport.name).byte(0x02).byte(0x00).u32(1);
    if (this.tableImport) is.name(this.tableImport.module).name(this.tableImport.name).byte(0x01).byte(0x70).byte(0x00).u32(0);
    this.section(out, 2, is);
    const fs = new ByteWriter().u32(this.funcs.length);
    for (const f of this.funcs) fs.u32(f.type);
    this.section(out, 3, fs);
    const exported = this.funcs.map((f, i) => ({ f, i })).filter((x) => x.f.export !== undefined);
    const es = new ByteWriter().u32(exported.length);
    for (const { f, i } of exported) es.name(f.export!).byte(0x00).u32(this.imports.length + i);
    this.section(out, 7, es);
    if (this.elements.funcs.length > 0) {
      // One active segment: table 0, offset i32.const, the function indices.
      const el = new ByteWriter().u32(1).byte(0x00).byte(Op.i32Const).s32(this.elements.offset).byte(Op.end);
      el.u32(this.elements.funcs.length);
      for (const f of this.elements.funcs) el.u32(f);
      this.section(out, 9, el);
    }
    const cs = new ByteWriter().u32(this.funcs.length);
    for (const f of this.funcs) {
      const body = new ByteWriter();
      // Locals compressed into runs of one type.
      const runs: Array<[number, number]> = [];
      for (const t of f.locals) {
        const last = runs[runs.length - 1];
        if (last && last[1] === t) last[0]++;
        else runs.push([1, t]);
      }
      body.u32(runs.length);
      for (const [n, t] of runs) body.u32(n).byte(t);
      body.bytes(f.code).byte(Op.end);
      cs.u32(body.length).bytes(body.result());
    }
    this.section(out, 10, cs);
    return out.result();
  }
}
