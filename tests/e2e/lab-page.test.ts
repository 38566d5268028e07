// The page in a real browser: `npm start`'s server, Debian's Chromium (headless) through
// playwright-core, the default lab (riscv64-busybox on our core, x86-busybox on v86) in the
// Hypervisor with Web Worker hosts, and a user clicking and typing. One browser and one page for
// the whole file: each check builds on the state the previous one left, as a student's session does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const isRoot = process.getuid?.() === 0;
const skipReason = !existsSync(CHROMIUM) && !isRoot ? `${CHROMIUM} is missing (run scripts/setup-system.sh test as root)` : null;
const BOOT = { timeout: 120_000 };
const ANSWER = { timeout: 30_000 };

/** Starts `node scripts/start.js` (builds when stale) on a free port; resolves with its URL. */
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

/** What a VM's terminal shows (xterm's buffer, through <tv-app>). */
function screen(page: Page, vm: string): Promise<string> {
  return page.evaluate((name) => document.querySelector('tv-app')?.consoleText(name) ?? '', vm);
}

const panel = (page: Page, vm: string) => page.locator(`tv-vm-panel[data-name="${vm}"]`);
/** A status line as a person reads it: the badge, then the message. */
const lineText = (line: ReturnType<Page['locator']>) => line.evaluate((el) => [...el.querySelectorAll('span')].map((s) => s.textContent?.trim()).join(' '));
const stateOf = (page: Page, vm: string) => lineText(panel(page, vm).locator('tv-status-line.state .line'));
const labLine = (page: Page) => lineText(page.locator('tv-status-line.lab .line'));

/** Clicks into a VM's console and types a line, as a person would. */
async function type(page: Page, vm: string, line: string): Promise<void> {
  await panel(page, vm).locator('tv-vm-console').click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

/** Types `command` and waits until `answer` is a line of its own after the echoed command. */
async function run(page: Page, vm: string, command: string, answer: string): Promise<void> {
  await type(page, vm, command);
  // Late kernel messages may land anywhere, even between the command and its answer.
  await expect.poll(async () => linesAfter(await screen(page, vm), command), ANSWER).toContain(answer);
}

/** Waits until the lab is loaded: every VM of it booted to its shell or was restored at it. */
async function labReady(page: Page): Promise<void> {
  await expect.poll(() => labLine(page), BOOT).toMatch(/lab ready|failed/i);
}

describe.skipIf(skipReason !== null)(`the lab page in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: ChildProcess | undefined;
  let url = '';
  let context: BrowserContext;
  let page: Page;
  let userDataDir = '';
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      const setup = spawnSync('bash', [join(repoRoot, 'scripts/setup-system.sh'), 'test'], { stdio: 'inherit' });
      if (setup.status !== 0 || !existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing and setup-system.sh could not install it`);
    }
    ({ url, server } = await startServer());
    // A fresh profile: no templates in OPFS yet, so the first load boots and saves them.
    userDataDir = mkdtempSync(join(tmpdir(), 'tabvisor-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
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
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    mkdirSync(join(repoRoot, '.cache'), { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGTERM');
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('opens the default lab: both VMs boot, save templates, and each console answers uname -m', async () => {
    await page.goto(url);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await labReady(page);
    expect(await labLine(page)).toContain('Lab default: 2 of 2 VMs running');
    for (const vm of ['riscv', 'x86']) expect(await screen(page, vm)).toMatch(/tabvisor-guest-ready[\s\S]*\/ #/);
    expect(await stateOf(page, 'riscv')).toMatch(/running.*saved template riscv64-busybox-/i);
    expect(await stateOf(page, 'x86')).toMatch(/running.*saved template x86-busybox-/i);
    await run(page, 'riscv', 'uname -m', 'riscv64');
    await run(page, 'x86', 'uname -m', 'i686');
    // Live figures: after a few samples the memory figure shows the guest's RAM.
    await expect.poll(() => panel(page, 'riscv').locator('tv-sparkline[label="Memory"] .value').textContent(), ANSWER).toContain('128 MiB');
    await page.screenshot({ path: join(repoRoot, '.cache/e2e-lab-page.png') });
  });

  it('pastes with Ctrl+Shift+V, copies with Ctrl+Shift+C, and refits the console when the window shrinks', async () => {
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((40+2))'));
    await panel(page, 'x86').locator('tv-vm-console').click();
    await page.keyboard.press('Control+Shift+V');
    await expect.poll(() => screen(page, 'x86'), ANSWER).toContain('echo pasted-$((40+2))');
    await page.keyboard.press('Enter');
    await expect.poll(async () => linesAfter(await screen(page, 'x86'), 'echo pasted-'), ANSWER).toContain('pasted-42');

    const box = (await panel(page, 'x86').locator('.xterm-screen').boundingBox())!;
    await page.mouse.move(box.x + 2, box.y + 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width - 2, box.y + box.height - 2, { steps: 10 });
    await page.mouse.up();
    await page.keyboard.press('Control+Shift+C');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), ANSWER).toContain('pasted-42');

    const cols = () => page.evaluate(() => document.querySelector('tv-app')!.shadowRoot!.querySelector('tv-vm-panel')!.shadowRoot!.querySelector('tv-vm-console')!.size?.cols ?? 0);
    const wide = await cols();
    // Narrower window: one panel per row, so each console gets wider and holds more columns.
    await page.setViewportSize({ width: 900, height: 900 });
    await expect.poll(cols, ANSWER).toBeGreaterThan(wide);
    await page.setViewportSize({ width: 1280, height: 900 });
    await expect.poll(cols, ANSWER).toBe(wide);
  });

  it('snapshot, change a file, restore: the guest has the original file again', async () => {
    await run(page, 'riscv', 'echo snap-one > /tmp/f; cat /tmp/f', 'snap-one');
    await panel(page, 'riscv').locator('button[data-action="snapshot"]').click();
    await expect.poll(() => page.locator('tv-app .notice').textContent(), ANSWER).toContain('Snapshot of riscv taken');
    await run(page, 'riscv', 'echo snap-two > /tmp/f; cat /tmp/f', 'snap-two');
    await panel(page, 'riscv').locator('button[data-action="restore"]').click();
    await expect.poll(() => page.locator('tv-app .notice').textContent(), ANSWER).toContain('riscv restored to its snapshot');
    await run(page, 'riscv', 'cat /tmp/f', 'snap-one');
  });

  it('clones a VM: the clone and the original both answer', async () => {
    await panel(page, 'riscv').locator('button[data-action="clone"]').click();
    await expect.poll(() => stateOf(page, 'riscv-clone-1'), ANSWER).toMatch(/running.*a clone of riscv/i);
    await run(page, 'riscv-clone-1', 'cat /tmp/f; uname -m', 'riscv64');
    expect(linesAfter(await screen(page, 'riscv-clone-1'), 'cat /tmp/f; uname -m')).toContain('snap-one');
    await run(page, 'riscv', 'echo original-$((2+3))', 'original-5');
  });

  it('pauses and resumes: input typed while paused is answered after Resume', async () => {
    await panel(page, 'x86').locator('button[data-action="pause"]').click();
    await expect.poll(() => stateOf(page, 'x86'), ANSWER).toMatch(/^paused/i);
    expect(await panel(page, 'x86').locator('button[data-action="resume"]').isEnabled()).toBe(true);
    await type(page, 'x86', 'echo held-$((2*3))');
    await panel(page, 'x86').locator('button[data-action="resume"]').click();
    await expect.poll(() => stateOf(page, 'x86'), ANSWER).toMatch(/^running/i);
    await expect.poll(async () => linesAfter(await screen(page, 'x86'), 'echo held-'), ANSWER).toContain('held-6');
  });

  it('exports a snapshot file and imports it as a new VM that answers', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), panel(page, 'riscv').locator('button[data-action="export"]').click()]);
    expect(download.suggestedFilename()).toMatch(/^riscv-.*\.tvsnap$/);
    const file = join(userDataDir, download.suggestedFilename());
    await download.saveAs(file);
    expect(statSync(file).size).toBeGreaterThan(1000);
    await page.locator('#import input[type="file"]').setInputFiles(file);
    await expect.poll(() => page.locator('tv-app .notice').textContent(), ANSWER).toContain('as riscv64-busybox-1');
    await run(page, 'riscv64-busybox-1', 'cat /tmp/f; echo imported-$((4+4))', 'imported-8');
  });

  it('shows the hypervisor refusal when a new VM does not fit in memory, and creates one that does', async () => {
    await page.locator('#new-vm').click();
    const dialog = page.locator('tv-create-dialog');
    await dialog.locator('select').selectOption('riscv64-busybox');
    await dialog.locator('#name').fill('big');
    await dialog.locator('#memory').fill('4096');
    await dialog.locator('button[type="submit"]').click();
    await expect.poll(() => dialog.locator('.error').textContent(), ANSWER).toMatch(/cannot create VM 'big': it asks for 4 GiB but only \d+ MiB of the 768 MiB budget is free/);
    await page.screenshot({ path: join(repoRoot, '.cache/e2e-lab-refusal.png') });
    await dialog.locator('#memory').fill('128');
    await dialog.locator('button[type="submit"]').click();
    await expect.poll(() => dialog.locator('dialog').getAttribute('open'), ANSWER).toBeNull();
    await expect.poll(async () => (await screen(page, 'big')).includes('tabvisor-guest-ready'), BOOT).toBe(true);
    await run(page, 'big', 'echo big-$((6+6))', 'big-12');
    // A refused lifecycle action says why: delete needs a stopped VM.
    await panel(page, 'big').locator('button[data-action="stop"]').click();
    await expect.poll(() => stateOf(page, 'big'), ANSWER).toMatch(/^stopped/i);
    await panel(page, 'big').locator('button[data-action="delete"]').click();
    await expect.poll(() => panel(page, 'big').count(), ANSWER).toBe(0);
  });

  it('a reload resets the lab: clones and imports are gone, the file is gone, VMs come from templates', async () => {
    await page.reload();
    await labReady(page);
    expect(await stateOf(page, 'riscv')).toMatch(/restored from template riscv64-busybox-/);
    expect(await stateOf(page, 'x86')).toMatch(/restored from template x86-busybox-/);
    expect(await page.locator('tv-vm-panel').count()).toBe(2);
    // A restored shell gets a fresh prompt, so the user sees where to type.
    await expect.poll(() => screen(page, 'riscv'), ANSWER).toContain('/ #');
    await run(page, 'riscv', 'cat /tmp/f', 'cat: can\'t open \'/tmp/f\': No such file or directory');
    await run(page, 'x86', 'uname -m', 'i686');
  });

  it('with "keep my work" on, a file survives a reload', async () => {
    const work = page.locator('tv-app .work');
    await page.locator('#keep-work').check();
    await expect.poll(() => work.textContent(), ANSWER).toMatch(/^Work saved at .*riscv, x86/);
    const before = await work.textContent();
    await run(page, 'riscv', 'echo kept-$((5*5)) > /tmp/k; cat /tmp/k', 'kept-25');
    // Saved a moment after the typing stops; the line says when.
    await expect.poll(async () => { const now = await work.textContent(); return now !== before && /^Work saved at/.test(now ?? ''); }, ANSWER).toBe(true);
    await page.reload();
    await labReady(page);
    expect(await page.locator('#keep-work').isChecked()).toBe(true);
    expect(await stateOf(page, 'riscv')).toContain('restored the saved work');
    await run(page, 'riscv', 'cat /tmp/k', 'kept-25');
    await page.locator('#keep-work').uncheck();
    await expect.poll(() => work.textContent(), ANSWER).toContain('A reload starts the lab clean');
  });

  it('a VM whose worker dies shows as crashed while the other VM still answers', async () => {
    const workerOf = async (vm: string) => /worker (\d+)/.exec((await panel(page, vm).locator('.meta').textContent()) ?? '')?.[1];
    expect(await workerOf('x86')).not.toBe(await workerOf('riscv'));
    // A real crash: the Web Worker running x86 is terminated mid-run.
    await page.evaluate(() => document.querySelector('tv-app')!.lab!.terminateWorkerOf('x86'));
    await expect.poll(() => stateOf(page, 'x86'), ANSWER).toMatch(/^crashed.*the worker was terminated/i);
    await run(page, 'riscv', 'echo alive-$((3+4))', 'alive-7');
    expect(await panel(page, 'x86').locator('button[data-action="reset"]').isEnabled()).toBe(true);
    expect(await panel(page, 'x86').locator('button[data-action="pause"]').isDisabled()).toBe(true);
    await page.screenshot({ path: join(repoRoot, '.cache/e2e-lab-crash.png') });
    expect(pageErrors).toEqual([]);
  });

  it('says plainly when the lab does not exist', async () => {
    const other = await context.newPage();
    await other.goto(`${url}?lab=no-such-lab`);
    await expect.poll(() => labLine(other), ANSWER).toMatch(/failed.*no lab named "no-such-lab"/i);
    await other.close();
  });
});
