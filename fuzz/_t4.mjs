import { tsLoader } from './lib/load-ts.mjs';
const ts = await tsLoader();
const { Rv64Machine } = await ts.import('src/engines/rv64/machine.ts');
const orig = Rv64Machine.prototype.runSlice;
let n = 0, t0 = performance.now();
Rv64Machine.prototype.runSlice = function (b) { const r = orig.call(this, b); n++; if (true) console.log(n, b, r.instructions, Math.round(performance.now() - t0), 'pc', this.core.pc.toString(16), 'priv', this.core.priv, 'mcause', this.core.readCsr(0x342).toString(16), 'mepc', this.core.readCsr(0x341).toString(16), r.exit ?? ''); return r; };
const { target } = await ts.import('fuzz/targets/devices.ts');
console.log(await target.one(1, Number(process.argv[2])));
await ts.close(); process.exit(0);
