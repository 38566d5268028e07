// Snapshot, restore, clone and migration of busy RV64 and x86 guests IN THE PAGE (issue 9): real
// Chromium (playwright-core), `npm start`'s server, the page's own hypervisor and Web Worker hosts.
// Each guest runs a shell loop counting into /tmp and holds a 1 MiB file of random bytes; it
// proves continuity: the counter keeps counting after each operation, the file is there after
// (same md5), and a file written after a snapshot is gone once it is restored. rv64 moves with
// pre-copy, x86 (v86, no dirty-page tracking) stop-and-copy; the report says which.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './support/app-server.js';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, chromiumMissing } from './support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const skipReason = chromiumMissing;
const BOOT = { timeout: 180_000 };

let commands = 0;
/** Runs a shell command on a VM's console through the page's hypervisor; returns its output. */
async function sh(page: Page, vm: string, command: string): Promise<string> {
  const n = ++commands;
  return page.evaluate(async ({ vm, command, n }) => {
    const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
    const begin = `__begin${n}__`;
    const end = `__end${n}__`;
    const from = hv.consoleOffset(vm);
    await hv.sendConsole(vm, `echo __begin""${n}__; ${command}; echo __end""${n}__\n`);
    const endAt = await hv.waitForConsole(vm, end, { from, timeoutMs: 60_000 });
    const text = hv.consoleText(vm, from).slice(0, endAt - from - end.length);
    return text.slice(text.lastIndexOf(begin) + begin.length).replace(/\r/g, '').trim();
  }, { vm, command, n });
}

/** The guest's counter grows between two reads a second apart. */
async function expectCounting(page: Page, vm: string): Promise<void> {
  const text = await sh(page, vm, 'a=$(cat /tmp/count); sleep 1; echo $a $(cat /tmp/count)');
  const m = /^(\d+) (\d+)$/.exec(text);
  expect(m, `counter of ${vm}: ${JSON.stringify(text)}`).not.toBeNull();
  expect(Number(m![2]), `counter of ${vm}: ${text}`).toBeGreaterThan(Number(m![1]));
}

const md5 = async (page: Page, vm: string): Promise<string> => (await sh(page, vm, 'md5sum /tmp/blob')).split(' ')[0]!;

describe.skipIf(skipReason !== null)(`snapshot, restore, clone and migrate in the page${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: ChildProcess | undefined;
  let context: BrowserContext;
  let page: Page;
  let userDataDir = '';

  beforeAll(async () => {
    let url: string;
    ({ url, server } = await startServer());
    userDataDir = mkdtempSync(join(tmpdir(), 'tabvisor-chromium-'));
    context = await launchChromium(userDataDir);
    page = await context.newPage();
    await page.goto(url);
    // The default lab loads first (its VMs share the budget and the workers).
    const end = Date.now() + BOOT.timeout;
    let line = '';
    while (!/lab ready|failed/i.test(line)) {
      if (Date.now() > end) throw new Error(`the lab did not load: ${line}`);
      await page.waitForTimeout(500);
      line = (await page.locator('tv-status-line.lab .line').textContent()) ?? '';
    }
    if (/failed/i.test(line)) throw new Error(`the lab failed to load: ${line}`);
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGTERM');
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  for (const g of [
    { engine: 'rv64', image: 'riscv64-busybox', memoryMiB: 64, mode: 'pre-copy' },
    { engine: 'x86', image: 'x86-busybox', memoryMiB: undefined, mode: 'stop-and-copy' },
  ] as const) {
    it(`${g.engine}: the guest counts on and keeps its file through snapshot, restore, clone and migrate`, async () => {
      const vm = `live-${g.engine}`;
      await page.evaluate(async ({ vm, image, memoryMiB }) => {
        const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
        await hv.create({ image, name: vm, ...(memoryMiB ? { memoryMiB } : {}) });
        await hv.start(vm);
        await hv.waitUntilReady(vm, 170_000);
      }, { vm, image: g.image, memoryMiB: g.memoryMiB });
      await sh(page, vm, 'dmesg -n 1');
      await sh(page, vm, 'dd if=/dev/urandom of=/tmp/blob bs=4096 count=256 2>/dev/null');
      const sum = await md5(page, vm);
      expect(sum).toMatch(/^[0-9a-f]{32}$/);
      await sh(page, vm, '(i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; done) >/dev/null 2>&1 & true');
      await sh(page, vm, 'sleep 1');
      await expectCounting(page, vm);

      // snapshot while it runs, change things, restore: back to the snapshot, counting on
      await page.evaluate(async (vm) => {
        const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
        (window as unknown as { snap: Uint8Array }).snap = await hv.snapshot(vm);
      }, vm);
      await sh(page, vm, 'echo after > /tmp/after; rm /tmp/blob');
      const state = await page.evaluate(async (vm) => {
        const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
        await hv.restore(vm, (window as unknown as { snap: Uint8Array }).snap);
        return hv.get(vm).state;
      }, vm);
      expect(state).toBe('running');
      expect(await sh(page, vm, 'cat /tmp/after 2>&1')).toMatch(/No such file/);
      expect(await md5(page, vm)).toBe(sum);
      await expectCounting(page, vm);

      // clone: its own copy, counting on its own
      const copy = `${vm}-copy`;
      await page.evaluate(async ({ vm, copy }) => {
        const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
        await hv.clone(vm, { name: copy });
      }, { vm, copy });
      expect(await md5(page, copy)).toBe(sum);
      await expectCounting(page, copy);
      await sh(page, copy, 'echo clone-only > /tmp/who');
      expect(await sh(page, vm, 'cat /tmp/who 2>&1')).toMatch(/No such file/);
      await page.evaluate(async (copy) => {
        const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
        await hv.stop(copy);
        await hv.delete(copy);
      }, copy);

      // migrate to another worker of the page
      const report = await page.evaluate(async (vm) => {
        const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
        const from = hv.get(vm).host;
        const r = await hv.migrate(vm);
        return { from, to: r.toHost, mode: r.mode, host: hv.get(vm).host, state: hv.get(vm).state };
      }, vm);
      expect(report.mode).toBe(g.mode);
      expect(report.to).not.toBe(report.from);
      expect(report).toMatchObject({ host: report.to, state: 'running' });
      expect(await md5(page, vm)).toBe(sum);
      await expectCounting(page, vm);
      await page.evaluate(async (vm) => {
        const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
        await hv.stop(vm);
        await hv.delete(vm);
      }, vm);
    }, 400_000);
  }
});
