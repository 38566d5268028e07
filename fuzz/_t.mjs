import { tsLoader } from './lib/load-ts.mjs';
const ts = await tsLoader();
const name = process.argv[2]; const n = Number(process.argv[3] ?? 50);
const { target } = await ts.import(`fuzz/targets/${name}.ts`);
const t = performance.now(); const worst = []; const kinds = {};
for (let i = 0; i < n; i++) { const a = performance.now(); let o; try { o = await target.one(1, i); } catch (e) { o = { cls: 'CRASH', kind: String(e).slice(0, 150) }; } const d = performance.now() - a; worst.push([Math.round(d), i, o.kind]); const k = o.cls + ' ' + o.kind; kinds[k] = (kinds[k] ?? 0) + 1; if (o.cls !== 'accepted' && o.cls !== 'refused') console.log(i, o); }
worst.sort((a,b)=>b[0]-a[0]); console.log(Math.round(performance.now()-t), kinds, worst.slice(0,5), Math.round(process.memoryUsage.rss()/2**20));
await ts.close(); process.exit(0);
