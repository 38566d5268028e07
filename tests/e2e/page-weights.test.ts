// Weights typed in the page's New VM dialog reach the Web Worker that runs the VMs: the page
// starts its workers through the same launcher as every host (startBrowserVmHost), and every host
// takes weights. Before, the page's hosts never said they time-slice and the weight was silently
// dropped: two busy VMs with weights 3 and 1 in one worker retired instructions about 1:1.
// Real Chromium (playwright-core), `npm start`'s server, riscv64-busybox on our core. The check is
// on instructions retired (what the scheduler shares), with a wide margin; no timing assertion.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './support/app-server.js';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, chromiumMissing } from './support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const skipReason = chromiumMissing;
const BOOT = { timeout: 180_000 };
const ANSWER = { timeout: 30_000 };

const panel = (page: Page, vm: string) => page.locator(`tv-vm-panel[data-name="${vm}"]`);
const screen = (page: Page, vm: string) => page.evaluate((name) => document.querySelector('tv-app')?.consoleText(name) ?? '', vm);

/** What the page's hypervisor knows of a VM: its summary and its instructions retired so far. */
function vmFacts(page: Page, vm: string): Promise<{ weight: number; host: number | undefined; instructions: number }> {
  return page.evaluate(async (name) => {
    const hv = document.querySelector('tv-app')!.lab!.hypervisor!;
    const summary = hv.get(name);
    return { weight: summary.weight, host: summary.host, instructions: (await hv.stats(name)).instructions };
  }, vm);
}

/** Fills the New VM dialog as a person would and submits it. */
async function newVm(page: Page, name: string, weight: string): Promise<void> {
  await page.locator('#new-vm').click();
  const dialog = page.locator('tv-create-dialog');
  await dialog.locator('select').selectOption('riscv64-busybox');
  await dialog.locator('#name').fill(name);
  await dialog.locator('#memory').fill('64');
  await dialog.locator('#weight').fill(weight);
  await dialog.locator('button[type="submit"]').click();
  await expect.poll(() => dialog.locator('dialog').getAttribute('open'), ANSWER).toBeNull();
}

describe.skipIf(skipReason !== null)(`weights from the page's New VM dialog${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
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
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGTERM');
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('two busy VMs made with weights 3 and 1 in one worker retire instructions about 3:1', async () => {
    await expect.poll(() => page.locator('tv-status-line.lab .line').textContent(), BOOT).toMatch(/lab ready|failed/i);
    await newVm(page, 'heavy', '3');
    await newVm(page, 'light', '1');
    for (const vm of ['heavy', 'light']) {
      await expect.poll(async () => (await screen(page, vm)).includes('tabvisor-guest-ready'), BOOT).toBe(true);
    }
    // Weights share one worker's thread: put both VMs in the same worker (the pool spreads them).
    const heavyHost = (await vmFacts(page, 'heavy')).host;
    if ((await vmFacts(page, 'light')).host !== heavyHost) {
      await page.evaluate((toHost) => document.querySelector('tv-app')!.lab!.hypervisor!.migrate('light', { toHost }), heavyHost!);
    }
    expect(await panel(page, 'light').locator('.meta').textContent()).toContain(`worker ${heavyHost! + 1}`);
    for (const vm of ['heavy', 'light']) {
      await panel(page, vm).locator('tv-vm-console').click();
      await page.keyboard.type('echo spin-$((2+2)); (while :; do :; done) &');
      await page.keyboard.press('Enter');
      await expect.poll(() => screen(page, vm), ANSWER).toContain('spin-4');
    }
    expect((await vmFacts(page, 'heavy')).weight).toBe(3);
    const before = [await vmFacts(page, 'heavy'), await vmFacts(page, 'light')];
    await page.waitForTimeout(5000);
    const after = [await vmFacts(page, 'heavy'), await vmFacts(page, 'light')];
    const heavy = after[0]!.instructions - before[0]!.instructions;
    const light = after[1]!.instructions - before[1]!.instructions;
    console.log(`page weights 3:1: ${(heavy / 1e6).toFixed(1)} M vs ${(light / 1e6).toFixed(1)} M instructions (ratio ${(heavy / light).toFixed(2)})`);
    expect(light).toBeGreaterThan(1e6);
    expect(heavy / light).toBeGreaterThan(1.5);
  }, 400_000);
});
