// The first page in a real browser: `npm start`'s server, Debian's Chromium (headless) through
// playwright-core, the x86-busybox VM booting in a Web Worker, and a user typing in its console.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const isRoot = process.getuid?.() === 0;
const skipReason = !existsSync(CHROMIUM) && !isRoot ? `${CHROMIUM} is missing (run scripts/setup-system.sh test as root)` : null;

/** Starts `node scripts/start.js` on a free port; resolves with the URL it prints. */
function startServer(): Promise<{ url: string; server: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const server = spawn(process.execPath, [join(repoRoot, 'scripts/start.js')], {
      cwd: repoRoot,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /http:\/\/localhost:(\d+)\//.exec(output);
      if (match) resolve({ url: `http://localhost:${match[1]}/`, server });
    };
    server.stdout!.on('data', onData);
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.on('exit', (code) => reject(new Error(`scripts/start.js exited (${code}) before serving:\n${output}`)));
  });
}

/** The lines of `text` after the last line that contains `marker`. */
function linesAfter(text: string, marker: string): string[] {
  const lines = text.split('\n');
  const at = lines.findLastIndex((line) => line.includes(marker));
  return at < 0 ? [] : lines.slice(at + 1);
}

/** The text of the terminal, read from xterm's buffer through <tv-app>. */
function consoleText(page: Page): Promise<string> {
  return page.evaluate(() => document.querySelector('tv-app')?.consoleText() ?? '');
}

describe.skipIf(skipReason !== null)(`the first page in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: ChildProcess | undefined;
  let url = '';
  let context: BrowserContext;
  let userDataDir = '';
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      const setup = spawnSync('bash', [join(repoRoot, 'scripts/setup-system.sh'), 'test'], { stdio: 'inherit' });
      if (setup.status !== 0 || !existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing and setup-system.sh could not install it`);
    }
    ({ url, server } = await startServer());
    userDataDir = mkdtempSync(join(tmpdir(), 'tabvisor-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 720 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  });

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGTERM');
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('boots x86-busybox to a shell, runs uname -m typed by the user, and is cross-origin isolated', async () => {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(url);

    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await expect.poll(() => page.locator('tv-app header').textContent(), { timeout: 30_000 }).toContain('x86-busybox');

    // Booting: the status line says so until the guest's shell is up.
    await page.waitForFunction(
      () => {
        const app = document.querySelector('tv-app');
        return app?.phase === 'failed' || (app?.phase === 'ready' && /^\/ #/m.test(app.consoleText()));
      },
      undefined,
      { timeout: 110_000, polling: 200 },
    );
    const status = await page.locator('tv-status-line .line').textContent();
    expect(status, `status line: ${status}; page errors: ${pageErrors.join('; ')}`).toContain('Ready');
    expect(status).toContain('x86-busybox is running');
    expect(await consoleText(page)).toContain('tabvisor-guest-ready');

    // The user clicks into the terminal and types, as a person would.
    await page.locator('tv-vm-console').click();
    await page.keyboard.type('uname -m');
    await page.keyboard.press('Enter');
    // The answer is a line of its own after the echoed command. (Late kernel messages may land
    // anywhere on the console, even between the command and its answer.)
    await expect.poll(async () => linesAfter(await consoleText(page), 'uname -m'), { timeout: 30_000 }).toContain('i686');

    mkdirSync(join(repoRoot, '.cache'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, '.cache/e2e-first-page.png') });
    expect(pageErrors).toEqual([]);
  });

  it('pastes with Ctrl+Shift+V and copies the selection with Ctrl+Shift+C', async () => {
    const page = context.pages().at(-1)!;
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((40+2))'));
    await page.locator('tv-vm-console').click();
    await page.keyboard.press('Control+Shift+V');
    // Like a person, look at the pasted line before pressing Enter (the paste is asynchronous).
    await expect.poll(() => consoleText(page), { timeout: 30_000 }).toContain('echo pasted-$((40+2))');
    await page.keyboard.press('Enter');
    await expect.poll(async () => linesAfter(await consoleText(page), 'echo pasted-'), { timeout: 30_000 }).toContain('pasted-42');

    // Drag across the whole terminal to select everything on screen, then copy.
    const box = (await page.locator('tv-vm-console .xterm-screen').boundingBox())!;
    await page.mouse.move(box.x + 2, box.y + 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width - 2, box.y + box.height - 2, { steps: 10 });
    await page.mouse.up();
    await page.keyboard.press('Control+Shift+C');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), { timeout: 10_000 }).toContain('pasted-42');
  });

  it('pauses and resumes the VM with the Pause/Resume button', async () => {
    const page = context.pages().at(-1)!;
    const status = page.locator('tv-status-line .line');
    await page.locator('tv-app button', { hasText: 'Pause' }).click();
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toContain('Paused');
    await page.locator('tv-app button', { hasText: 'Resume' }).click();
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toContain('Ready');
    // Resumed for real: the guest answers again.
    await page.locator('tv-vm-console').click();
    await page.keyboard.type('echo resumed-$((6*7))');
    await page.keyboard.press('Enter');
    await expect.poll(async () => linesAfter(await consoleText(page), 'echo resumed-'), { timeout: 30_000 }).toContain('resumed-42');
  });

  it('shows Stopped when the guest powers off', async () => {
    const page = context.pages().at(-1)!;
    await page.locator('tv-vm-console').click();
    await page.keyboard.type('poweroff -f');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('tv-status-line .line').textContent(), { timeout: 30_000 }).toContain('Stopped');
    expect(await page.locator('tv-status-line .line').textContent()).toContain('powered off');
    expect(await consoleText(page)).toContain('[The VM powered off');
    expect(await page.locator('tv-app button').textContent()).toContain('Pause');
    expect(await page.locator('tv-app button').isDisabled()).toBe(true);
  });

  it('says clearly when the requested image does not exist', async () => {
    const page = await context.newPage();
    await page.goto(`${url}?image=no-such-image`);
    await expect.poll(() => page.locator('tv-status-line .line').textContent(), { timeout: 30_000 }).toContain('Failed');
    expect(await page.locator('tv-status-line .line').textContent()).toContain('no image named "no-such-image"');
    await page.close();
  });
});
