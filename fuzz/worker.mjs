// One fuzz run inside a worker thread (fuzz/run.mjs watches it for hangs and crashes): loads the
// target, runs the inputs and reports progress after each one (a full summary at most every
// 200 ms and at once after any failure, a heartbeat otherwise).
import { parentPort, workerData } from 'node:worker_threads';
import { tsLoader } from './lib/load-ts.mjs';

const { name, seed, from, count, rssAllowanceBytes } = workerData;
const ts = await tsLoader();
try {
  const target = (await ts.import(`fuzz/targets/${name}.ts`)).target;
  const { fuzzLoop } = await ts.import('fuzz/lib/loop.ts');
  parentPort.postMessage({ type: 'ready', hangMs: target.hangMs });
  let last = 0;
  let lastBad = 0;
  const summary = await fuzzLoop(target, {
    seed, from, count,
    ...(rssAllowanceBytes ? { rssAllowanceBytes } : {}),
    onInput: (index, s) => {
      const now = performance.now();
      const bad = s.crashes + s.defects + s.hangs + s.memory;
      if (now - last > 200 || bad !== lastBad) {
        last = now;
        lastBad = bad;
        parentPort.postMessage({ type: 'progress', index, summary: s });
      } else parentPort.postMessage({ type: 'beat', index });
    },
  });
  parentPort.postMessage({ type: 'done', summary });
} finally {
  await ts.close();
}
