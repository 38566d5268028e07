// A terminal's answer to the shell's cursor query, with a line typed right behind it, on a real
// x86 guest (Debian's busybox-static asks `ESC [ 6 n` after every prompt). BusyBox 1.35 dropped
// the first ten characters of such a line (`echo answer-42` ran as `r-42`): the page's terminal
// answers the query at the very moment a test, a paste or a quick typist sends a line. The
// worker gives the guest the report alone and the line only once the guest has read the report
// and run on (src/worker/console-pacer.ts); spacing them on the page's clock was not enough when
// the worker or the guest was starved of CPU (both then arrived at once).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const x86 = manifest.images.find((i) => i.name === 'x86-busybox')!;
const ASK = '\x1b[6n';

let hv: Hypervisor;

beforeAll(async () => {
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 2 * x86.memoryMiB * MiB, poolSize: 1, hosts: nodeWorkerHosts() });
  await hv.create({ image: x86.name, name: 'x' });
  await hv.start('x');
  await untilShell(hv, 'x', 120_000);
}, 180_000);

afterAll(async () => {
  await hv?.shutdown();
});

/** Waits for the shell's cursor query after a fresh prompt, then sends what `send` sends; returns the console after it. */
async function answerAndType(n: number, send: () => Promise<void>): Promise<string> {
  const asked = hv.consoleOffset('x');
  await hv.sendConsole('x', '\r');
  await hv.waitForConsole('x', ASK, { from: asked, timeoutMs: 20_000 });
  const from = hv.consoleOffset('x');
  await send();
  await hv.waitForConsole('x', `answer-${n}\r\n`, { from, timeoutMs: 20_000 }).catch(() => undefined);
  return hv.consoleText('x', from);
}

describe('a cursor report followed at once by a typed line (x86 BusyBox)', () => {
  it('two sends, the line right after the report: the whole line runs', async () => {
    const out = await answerAndType(42, async () => {
      await hv.sendConsole('x', '\x1b[1;5R');
      await hv.sendConsole('x', 'echo answer-$((20+22))\r');
    });
    expect(out).toContain('answer-42\r\n');
    expect(out).not.toContain('not found');
  }, 60_000);

  it('one piece holding the report and the line (a terminal read in one go): the whole line runs', async () => {
    const out = await answerAndType(43, () => hv.sendConsole('x', '\x1b[1;5Recho answer-$((20+23))\r'));
    expect(out).toContain('answer-43\r\n');
    expect(out).not.toContain('not found');
  }, 60_000);
});
