// A lab with internet in the page: Debian's Chromium (headless, playwright-core) opens `?lab=URL`
// for a one-VM lab whose network has `internet` set to the loopback WISP relay
// (scripts/wisp-relay.mjs); the page's own WebSocket reaches it, and the riscv64 guest fetches a
// file from a host HTTP server by name with wget, sha256 equal.
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, chromiumMissing } from './support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './support/app-server.js';
// @ts-expect-error plain JS module
import { startWispRelay } from '../../scripts/wisp-relay.mjs';

const skipReason = chromiumMissing;
const BOOT = { timeout: 180_000 };
const ANSWER = { timeout: 90_000 };
const FILE = randomBytes(300 * 1024);
const SHA = createHash('sha256').update(FILE).digest('hex');

const panel = (page: Page, vm: string) => page.locator(`tv-vm-panel[data-name="${vm}"]`);
const screen = (page: Page, vm: string) => page.evaluate((name) => document.querySelector('tv-app')?.consoleText(name) ?? '', vm);
const lineText = (line: ReturnType<Page['locator']>) => line.evaluate((el) => [...el.querySelectorAll('span')].map((s) => s.textContent?.trim()).join(' '));
const labLine = (page: Page) => lineText(page.locator('tv-status-line.lab .line'));

describe.skipIf(skipReason !== null)(`a lab with internet in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: ChildProcess | undefined;
  let origin: Server | undefined;
  let relay: Awaited<ReturnType<typeof startWispRelay>> | undefined;
  let url = '';
  let labUrl = '';
  let context: BrowserContext;
  let page: Page;
  let userDataDir = '';

  beforeAll(async () => {
    ({ url, server } = await startServer());
    relay = await startWispRelay({ names: { 'files.test': '203.0.113.5' } });
    let filePort = 0;
    origin = createServer((req, res) => {
      if (req.url === '/lab.json') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
        res.end(JSON.stringify({
          format: 'tabvisor-lab/1', name: 'online', title: 'Online',
          networks: [{ name: 'lan', subnet: '10.0.9.0/24', internet: relay!.url }],
          vms: [{ name: 'solo', image: 'riscv64-busybox', network: 'lan' }],
        }));
      } else if (req.url === '/file.bin') {
        res.writeHead(200, { 'content-length': FILE.length });
        res.end(FILE);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => origin!.listen(0, '127.0.0.1', () => r()));
    filePort = (origin.address() as AddressInfo).port;
    labUrl = `http://127.0.0.1:${filePort}/lab.json`;
    userDataDir = mkdtempSync(join(tmpdir(), 'tabvisor-chromium-'));
    context = await launchChromium(userDataDir, { viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGTERM');
    origin?.close();
    await relay?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  }, 120_000);

  it('the guest fetches a host file by name through the page\'s WebSocket to the relay, intact', { timeout: 400_000 }, async () => {
    await page.goto(`${url}?lab=${encodeURIComponent(labUrl)}`);
    await expect.poll(() => labLine(page), BOOT).toMatch(/lab ready|failed/i);
    expect(await labLine(page)).toContain('Lab online: 1 of 1 VMs running');
    const port = new URL(labUrl).port;
    const command = `wget -q -O - http://files.test:${port}/file.bin | sha256sum`;
    // The first line may be taken by the page's own first commands: type again, up to three times.
    for (let attempt = 1; ; attempt++) {
      await panel(page, 'solo').locator('tv-vm-console').click();
      await page.keyboard.type(command);
      await page.keyboard.press('Enter');
      try {
        await expect.poll(() => screen(page, 'solo'), attempt < 3 ? { timeout: 30_000 } : ANSWER).toContain(SHA);
        break;
      } catch (error) {
        if (attempt >= 3) throw new Error(`no checksum; the console ends:\n${(await screen(page, 'solo')).split('\n').slice(-12).join('\n')}`, { cause: error });
      }
    }
    expect(relay!.stats.targets).toContain(`tcp:203.0.113.5:${port}`);
    expect(relay!.stats.dnsQueries).toBeGreaterThan(0);
  });
});
