// The page in a real browser: `npm start`'s server, Debian's Chromium (headless) through
// playwright-core, the default lab (riscv64-busybox on our core, x86-busybox on v86) in the
// Hypervisor with Web Worker hosts, and a user clicking and typing. One browser and one page for
// the whole file: each check builds on the state the previous one left, as a student's session does.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './support/app-server.js';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const isRoot = process.getuid?.() === 0;
const skipReason = !existsSync(CHROMIUM) && !isRoot ? `${CHROMIUM} is missing (run scripts/setup-system.sh test as root)` : null;
const BOOT = { timeout: 120_000 };
// Generous: the test machine may be shared by several busy builds at once.
const ANSWER = { timeout: 60_000 };
/** Per test: each boots or restores VMs and waits for several answers. */
const TEST_TIMEOUT = 300_000;

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
  try {
    await expect.poll(async () => linesAfter(await screen(page, vm), command), ANSWER).toContain(answer);
  } catch (error) {
    // Say what the console showed: a lost keystroke and a slow guest look alike otherwise.
    const tail = (await screen(page, vm)).split('\n').slice(-12).join('\n');
    throw new Error(`${vm} did not answer ${JSON.stringify(command)} with ${JSON.stringify(answer)}; its console ends:\n${tail}`, { cause: error });
  }
}

const SHOTS = join(repoRoot, '.cache/e2e-screenshots');

/**
 * How many bright pixels the screen shows in one cell of a VM's console: the character at `col`
 * of the visible row whose text is exactly `rowText`. Read from a real screenshot, decoded by the
 * browser itself.
 */
async function brightPixelsOfCell(page: Page, vm: string, rowText: string, col: number): Promise<number> {
  const rect = await page.evaluate(
    ({ name, text, c }) => {
      const el = document.querySelector('tv-app')!.shadowRoot!.querySelector(`tv-vm-panel[data-name="${name}"]`)!.shadowRoot!.querySelector('tv-vm-console')!;
      const row = el.visibleRowOf(text);
      return row < 0 ? null : el.cellRect(row, c);
    },
    { name: vm, text: rowText, c: col },
  );
  if (!rect) throw new Error(`no visible row "${rowText}" in ${vm}'s console`);
  const png = await page.screenshot({ clip: { x: Math.floor(rect.x), y: Math.floor(rect.y), width: Math.ceil(rect.width), height: Math.ceil(rect.height) } });
  return page.evaluate(async (base64) => {
    const bitmap = await createImageBitmap(await (await fetch(`data:image/png;base64,${base64}`)).blob());
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = canvas.getContext('2d')!;
    g.drawImage(bitmap, 0, 0);
    const { data } = g.getImageData(0, 0, bitmap.width, bitmap.height);
    let bright = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i]! + data[i + 1]! + data[i + 2]! > 3 * 128) bright++;
    return bright;
  }, png.toString('base64'));
}

/** The last non-empty line of a VM's console. */
async function lastLine(page: Page, vm: string): Promise<string> {
  const lines = (await screen(page, vm)).split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

/** The notice bar's text, or '' when there is none. */
async function notice(page: Page): Promise<string> {
  const bar = page.locator('tv-app .notice');
  return (await bar.count()) ? ((await bar.textContent()) ?? '') : '';
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
  const failedRequests: string[] = [];
  const dialogs: string[] = [];
  /** The answer to the next confirm() dialog. */
  let confirmAnswer = true;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      const setup = spawnSync('bash', [join(repoRoot, 'scripts/setup-system.sh'), 'test'], { stdio: 'inherit' });
      if (setup.status !== 0 || !existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing and setup-system.sh could not install it`);
    }
    ({ url, server } = await startServer());
    // A fresh profile: no templates in OPFS yet; the first load takes the build's templates.
    userDataDir = mkdtempSync(join(tmpdir(), 'tabvisor-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
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
    page.on('response', (response) => {
      if (response.status() >= 400) failedRequests.push(`${response.status()} ${response.url()}`);
    });
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      if (dialog.type() === 'confirm' && !confirmAnswer) void dialog.dismiss();
      else void dialog.accept();
    });
    mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGTERM');
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  }, TEST_TIMEOUT);

  it('opens the default lab: quiet boot, prompt last, the shell knows the size, underscores show, each console answers', async () => {
    await page.goto(url);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await labReady(page);
    expect(await labLine(page)).toContain('Lab default: 2 of 2 VMs running');
    // Each lab VM has a persistent disk (its /root), still empty on a first visit: the VMs restore
    // the build's templates made with an empty disk (the reload below boots them).
    expect(await stateOf(page, 'riscv')).toMatch(/running.*restored from template riscv64-busybox-/i);
    expect(await stateOf(page, 'x86')).toMatch(/running.*restored from template x86-busybox-/i);
    // The page tells a restored shell its size and clears the screen: the prompt is the last thing shown.
    for (const vm of ['riscv', 'x86']) await expect.poll(() => lastLine(page, vm), ANSWER).toBe('/ #');
    await run(page, 'x86', 'grep -o "quiet loglevel=3 console=ttyS0" /proc/cmdline', 'quiet loglevel=3 console=ttyS0');
    await run(page, 'riscv', 'grep -c " /root ext4 " /proc/mounts', '1');
    await run(page, 'riscv', 'uname -m', 'riscv64');
    await run(page, 'x86', 'uname -m', 'i686');
    for (const vm of ['riscv', 'x86']) {
      const size = await page.evaluate((name) => document.querySelector('tv-app')!.shadowRoot!.querySelector(`tv-vm-panel[data-name="${name}"]`)!.shadowRoot!.querySelector('tv-vm-console')!.size, vm);
      await run(page, vm, 'stty size; echo cols=$COLUMNS', `${size!.rows} ${size!.cols}`);
      await expect.poll(async () => linesAfter(await screen(page, vm), 'stty size; echo cols=$COLUMNS'), ANSWER).toContain(`cols=${size!.cols}`);
    }
    // An underscore is drawn: its cell has bright pixels (a clipped one leaves the cell blank).
    await run(page, 'riscv', 'echo a_b; echo a.b', 'a_b');
    expect(await brightPixelsOfCell(page, 'riscv', 'a_b', 1)).toBeGreaterThanOrEqual(4);
    expect(await brightPixelsOfCell(page, 'riscv', 'a.b', 1)).toBeGreaterThanOrEqual(2);
    // Live figures: after a few samples the memory figure shows the guest's RAM.
    await expect.poll(() => panel(page, 'riscv').locator('tv-sparkline[label="Memory"] .value').textContent(), ANSWER).toContain('128 MiB');
    // Figures of changing width do not move what follows them.
    const positions = new Set<number>();
    for (let i = 0; i < 4; i++) {
      positions.add((await panel(page, 'x86').locator('tv-sparkline[label="Memory"]').boundingBox())!.x);
      await page.waitForTimeout(1100);
    }
    expect(positions.size).toBe(1);
    // No request of the page fails (the favicon included); a busy port says how to pick another.
    expect(failedRequests).toEqual([]);
    expect(await page.evaluate(async () => [(await fetch('/favicon.ico')).status, (await fetch('/favicon.svg')).status])).toEqual([200, 200]);
    const busy = spawnSync(process.execPath, [join(repoRoot, 'scripts/start.js')], { cwd: repoRoot, env: { ...process.env, PORT: new URL(url).port }, encoding: 'utf8' });
    expect(busy.status).toBe(1);
    expect(busy.stderr.trim()).toMatch(/^start: cannot serve on port \d+: port \d+ is in use .*pick another with PORT, e\.g\. PORT=\d+ npm start/);
    await page.screenshot({ path: join(SHOTS, 'lab-1280x800.png') });
  }, TEST_TIMEOUT);

  it('works from the keyboard alone, has a screen-reader mode, and at 390x844 nothing scrolls sideways', async () => {
    // Tab from the top of the page reaches the first console's terminal; focused buttons show it.
    await page.locator('#keep-work').focus();
    const focused = () => page.evaluate(() => {
      let el: Element | null = document.activeElement;
      const path: string[] = [];
      while (el?.shadowRoot?.activeElement) {
        path.push(el.tagName.toLowerCase());
        el = el.shadowRoot.activeElement;
      }
      const style = el ? getComputedStyle(el) : null;
      return { path: [...path, `${el?.tagName.toLowerCase()}${el?.id ? `#${el.id}` : ''}${el?.getAttribute('data-action') ? `[${el.getAttribute('data-action')}]` : ''}`].join(' > '), outline: style?.outlineStyle };
    });
    const seen: string[] = [];
    for (let i = 0; i < 40 && !seen.some((p) => p.includes('tv-vm-console > textarea')); i++) {
      await page.keyboard.press('Tab');
      const f = await focused();
      seen.push(f.path);
      if (f.path.endsWith('button[pause]')) expect(f.outline).toBe('solid');
    }
    expect(seen.some((p) => p.endsWith('button[pause]'))).toBe(true);
    expect(seen.findIndex((p) => p.includes('tv-vm-console > textarea'))).toBeGreaterThan(seen.findIndex((p) => p.endsWith('button[export]')));
    await page.keyboard.type('echo keys-$((1+1))');
    await page.keyboard.press('Enter');
    await expect.poll(async () => linesAfter(await screen(page, 'riscv'), 'echo keys-'), ANSWER).toContain('keys-2');

    await page.locator('#screen-reader').check();
    const tree = panel(page, 'riscv').locator('.xterm-accessibility-tree');
    await expect.poll(() => tree.textContent(), ANSWER).toContain('keys-2');
    await page.locator('#screen-reader').uncheck();
    await expect.poll(() => tree.count(), ANSWER).toBe(0);

    const consolesAtEnd = () => page.evaluate(() => [...document.querySelector('tv-app')!.shadowRoot!.querySelectorAll('tv-vm-panel')].map((p) => p.shadowRoot!.querySelector('tv-vm-console')!.atEnd));
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth), ANSWER).toBeLessThanOrEqual(390);
      // A reflow to the narrow width keeps each console showing its last line.
      await expect.poll(consolesAtEnd, ANSWER).toEqual([true, true]);
      for (const vm of ['riscv', 'x86']) {
        for (const part of ['button[data-action="delete"]', 'button[data-action="export"]', 'tv-sparkline[label="Memory"]', 'tv-vm-console', 'button[data-key="right"]']) {
          const box = (await panel(page, vm).locator(part).boundingBox())!;
          expect(box.x + box.width, `${vm} ${part}`).toBeLessThanOrEqual(390);
        }
      }
      // The key bar: Ctrl then c interrupts; the up arrow brings the last command back.
      await type(page, 'riscv', 'sleep 30');
      const ctrl = panel(page, 'riscv').locator('button[data-key="ctrl"]');
      await ctrl.click();
      await expect.poll(() => ctrl.getAttribute('aria-pressed'), ANSWER).toBe('true');
      await page.keyboard.type('c');
      await expect.poll(() => ctrl.getAttribute('aria-pressed'), ANSWER).toBe('false');
      await run(page, 'riscv', 'echo after-$((6*7))', 'after-42');
      await panel(page, 'riscv').locator('button[data-key="up"]').click();
      await page.keyboard.press('Enter');
      await expect.poll(async () => (await screen(page, 'riscv')).split('\n').filter((l) => l === 'after-42').length, ANSWER).toBe(2);
      await page.screenshot({ path: join(SHOTS, 'lab-390x844.png'), fullPage: true });
    } finally {
      // The next checks expect the wide window, whatever happened here.
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    await expect.poll(consolesAtEnd, ANSWER).toEqual([true, true]);

    // Shift+PageUp scrolls back and the view stays there while the guest is quiet; typing follows again.
    const riscvAtEnd = () => page.evaluate(() => document.querySelector('tv-app')!.shadowRoot!.querySelector('tv-vm-panel[data-name="riscv"]')!.shadowRoot!.querySelector('tv-vm-console')!.atEnd);
    await run(page, 'riscv', 'seq 1 150; echo seq-$((50*3))', 'seq-150');
    await expect.poll(riscvAtEnd, ANSWER).toBe(true);
    await page.keyboard.press('Shift+PageUp');
    await expect.poll(riscvAtEnd, ANSWER).toBe(false);
    await page.waitForTimeout(1500);
    expect(await riscvAtEnd()).toBe(false);
    await page.keyboard.type('echo back-$((1+2))');
    await page.keyboard.press('Enter');
    await expect.poll(riscvAtEnd, ANSWER).toBe(true);
  }, TEST_TIMEOUT);

  it('pastes with Ctrl+Shift+V, copies with Ctrl+Shift+C, and refits the console when the window shrinks', async () => {
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((40+2))'));
    await panel(page, 'x86').locator('tv-vm-console').click();
    await page.keyboard.press('Control+Shift+V');
    await expect.poll(() => screen(page, 'x86'), ANSWER).toContain('echo pasted-$((40+2))');
    await page.keyboard.press('Enter');
    await expect.poll(async () => linesAfter(await screen(page, 'x86'), 'echo pasted-'), ANSWER).toContain('pasted-42');

    // Select the answer on the screen with the mouse, as a person would, and copy it.
    const where = await page.evaluate(() => {
      const el = document.querySelector('tv-app')!.shadowRoot!.querySelector('tv-vm-panel[data-name="x86"]')!.shadowRoot!.querySelector('tv-vm-console')!;
      const row = el.visibleRowOf('pasted-42');
      return { row, first: el.cellRect(Math.max(row, 0), 0)!, last: el.cellRect(Math.max(row, 0), 8)!, text: el.bufferText().slice(-200) };
    });
    expect(where.row, `'pasted-42' is not on the visible screen; the end of the console is:\n${where.text}`).toBeGreaterThanOrEqual(0);
    const y = where.first.y + where.first.height / 2;
    await page.mouse.move(where.first.x + 1, y);
    await page.mouse.down();
    await page.mouse.move(where.last.x + where.last.width - 1, y, { steps: 5 });
    await page.mouse.up();
    await page.keyboard.press('Control+Shift+C');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), ANSWER).toBe('pasted-42');

    const cols = () => page.evaluate(() => document.querySelector('tv-app')!.shadowRoot!.querySelector('tv-vm-panel')!.shadowRoot!.querySelector('tv-vm-console')!.size?.cols ?? 0);
    const wide = await cols();
    // Narrower window: one panel per row, so each console gets wider and holds more columns.
    await page.setViewportSize({ width: 900, height: 800 });
    await expect.poll(cols, ANSWER).toBeGreaterThan(wide);
    await page.setViewportSize({ width: 1280, height: 800 });
    await expect.poll(cols, ANSWER).toBe(wide);
  }, TEST_TIMEOUT);

  it('snapshot, change a file, restore: the original file is back, and the console says so with a fresh prompt', async () => {
    await run(page, 'riscv', 'echo snap-one > /tmp/f; cat /tmp/f', 'snap-one');
    await panel(page, 'riscv').locator('button[data-action="snapshot"]').click();
    await expect.poll(() => notice(page), ANSWER).toContain('Snapshot of riscv taken');
    await run(page, 'riscv', 'echo snap-two > /tmp/f; cat /tmp/f', 'snap-two');
    await panel(page, 'riscv').locator('button[data-action="restore"]').click();
    await expect.poll(() => notice(page), ANSWER).toContain('riscv restored to its snapshot');
    const lastTwo = async () => (await screen(page, 'riscv')).split('\n').map((l) => l.trimEnd()).filter((l) => l !== '').slice(-2);
    await expect.poll(lastTwo, ANSWER).toEqual([expect.stringMatching(/^\[restored snapshot \d\d:\d\d:\d\d\]$/), '/ #']);
    await run(page, 'riscv', 'cat /tmp/f', 'snap-one');
  }, TEST_TIMEOUT);

  it('clones a VM: the clone shows its prompt by itself, and both answer', async () => {
    await panel(page, 'riscv').locator('button[data-action="clone"]').click();
    await expect.poll(() => stateOf(page, 'riscv-clone-1'), ANSWER).toMatch(/running.*a clone of riscv/i);
    await expect.poll(() => lastLine(page, 'riscv-clone-1'), ANSWER).toBe('/ #');
    await run(page, 'riscv-clone-1', 'cat /tmp/f; uname -m', 'riscv64');
    expect(linesAfter(await screen(page, 'riscv-clone-1'), 'cat /tmp/f; uname -m')).toContain('snap-one');
    await run(page, 'riscv', 'echo original-$((2+3))', 'original-5');
  }, TEST_TIMEOUT);

  it('pauses and resumes: the console notes both, and input typed while paused is answered after Resume', async () => {
    await panel(page, 'x86').locator('button[data-action="pause"]').click();
    await expect.poll(() => stateOf(page, 'x86'), ANSWER).toMatch(/^paused/i);
    await expect.poll(() => lastLine(page, 'x86'), ANSWER).toMatch(/^\[paused \d\d:\d\d:\d\d: what you type waits for Resume\]$/);
    expect(await panel(page, 'x86').locator('button[data-action="resume"]').getAttribute('aria-disabled')).toBe('false');
    await type(page, 'x86', 'echo held-$((2*3))');
    await panel(page, 'x86').locator('button[data-action="resume"]').click();
    await expect.poll(() => stateOf(page, 'x86'), ANSWER).toMatch(/^running/i);
    await expect.poll(async () => linesAfter(await screen(page, 'x86'), 'echo held-'), ANSWER).toContain('held-6').catch(async (error: unknown) => {
      // Say what the console showed (and what reached the guest): a lost keystroke and a slow guest look alike otherwise.
      const raw = await page.evaluate(() => {
        const lab = document.querySelector('tv-app')!.lab!;
        const id = lab.view.vms.find((v) => v.name === 'x86')?.id;
        return id && lab.hypervisor?.has(id) ? lab.hypervisor.consoleText(id).slice(-600) : '';
      });
      throw new Error(`x86 did not answer the line typed while paused; its console ends:\n${(await screen(page, 'x86')).split('\n').slice(-12).join('\n')}\n(bytes: ${JSON.stringify(raw)})`, { cause: error });
    });
    expect(await screen(page, 'x86')).toMatch(/\[resumed \d\d:\d\d:\d\d\]/);
  }, TEST_TIMEOUT);

  it('the riscv guest holds memory in its balloon when asked and gives freed memory back; x86 has no balloon', async () => {
    expect(await panel(page, 'x86').locator('details.balloon-box').count()).toBe(0);
    const box = panel(page, 'riscv').locator('details.balloon-box');
    await box.locator('summary').click();
    await box.locator('input[name="balloon"]').fill('999');
    await box.locator('button[type="submit"]').click();
    await expect.poll(() => notice(page), ANSWER).toMatch(/a balloon of 999 MiB is not between 0 and \d+ MiB/);
    await box.locator('input[name="balloon"]').fill('32');
    await box.locator('button[type="submit"]').click();
    await expect.poll(() => box.locator('.balloon').textContent(), ANSWER).toBe('32 MiB');
    await box.locator('input[name="balloon"]').fill('0');
    await box.locator('button[type="submit"]').click();
    await expect.poll(() => box.locator('.balloon').textContent(), ANSWER).toBe('0 MiB');
    await box.locator('button[data-action="reclaim"]').click();
    await expect.poll(() => notice(page), ANSWER).toMatch(/riscv gave its freed memory back: it holds \d+ of its \d+ MiB/);
    await run(page, 'riscv', 'echo after-reclaim-$((2+3))', 'after-reclaim-5');
  }, TEST_TIMEOUT);

  it('buttons that cannot be used look it and say why; weight and cap are shown and changed within range', async () => {
    const del = panel(page, 'riscv').locator('button[data-action="delete"]');
    const pause = panel(page, 'riscv').locator('button[data-action="pause"]');
    expect(await del.getAttribute('aria-disabled')).toBe('true');
    expect(await del.isDisabled()).toBe(true);
    const colour = (b: typeof del) => b.evaluate((el) => getComputedStyle(el).color);
    expect(await colour(del)).not.toBe(await colour(pause));
    await del.click({ force: true });
    await expect.poll(() => notice(page), ANSWER).toContain('Delete is possible when the VM is created, stopped or crashed; riscv is running');

    const schedule = panel(page, 'riscv').locator('details.schedule');
    expect(await schedule.locator('summary').textContent()).toMatch(/Weight 1 · no CPU cap/);
    await schedule.locator('summary').click();
    await schedule.locator('input[name="weight"]').fill('1e9');
    await schedule.locator('button[type="submit"]').click();
    await expect.poll(() => notice(page), ANSWER).toContain('Weight must be a number from 0.1 to 100 (got 1000000000)');
    await schedule.locator('input[name="weight"]').fill('2');
    await schedule.locator('input[name="cap"]').fill('50');
    await schedule.locator('button[type="submit"]').click();
    await expect.poll(() => schedule.locator('summary').textContent(), ANSWER).toMatch(/Weight 2 · CPU cap 50%/);
    // The success replaced the old error.
    expect(await page.locator('tv-app .notice.error').count()).toBe(0);
    expect(await page.evaluate(() => { const vm = document.querySelector('tv-app')!.lab!.hypervisor!.get('riscv'); return [vm.weight, vm.capPercent]; })).toEqual([2, 50]);
    await schedule.locator('input[name="weight"]').fill('1');
    await schedule.locator('input[name="cap"]').fill('');
    await schedule.locator('button[type="submit"]').click();
    await expect.poll(() => schedule.locator('summary').textContent(), ANSWER).toMatch(/Weight 1 · no CPU cap/);

    // The memory budget can be set, within what the VMs hold.
    await page.locator('#budget').fill('100');
    await page.locator('.budget button').click();
    await expect.poll(() => notice(page), ANSWER).toMatch(/the memory budget cannot be 100 MiB: the VMs have \d+ MiB reserved/);
    await page.locator('#budget').fill('1024');
    await page.locator('.budget button').click();
    await expect.poll(() => page.locator('tv-app .memory').textContent(), ANSWER).toMatch(/of 1 GiB reserved/);
    await page.locator('#budget').fill('768');
    await page.locator('.budget button').click();
    await expect.poll(() => page.locator('tv-app .memory').textContent(), ANSWER).toMatch(/of 768 MiB reserved/);
  }, TEST_TIMEOUT);

  it('exports a snapshot file and imports it as a new VM named after the VM', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), panel(page, 'riscv').locator('button[data-action="export"]').click()]);
    expect(download.suggestedFilename()).toMatch(/^riscv-.*\.tvsnap$/);
    const file = join(userDataDir, download.suggestedFilename());
    await download.saveAs(file);
    expect(statSync(file).size).toBeGreaterThan(1000);
    await page.locator('#import input[type="file"]').setInputFiles(file);
    await expect.poll(() => notice(page), ANSWER).toContain('as riscv-copy-1');
    await expect.poll(() => lastLine(page, 'riscv-copy-1'), ANSWER).toBe('/ #');
    await run(page, 'riscv-copy-1', 'cat /tmp/f; echo imported-$((4+4))', 'imported-8');
  }, TEST_TIMEOUT);

  it('shows a refusal in the New VM dialog only, creates one that fits, and the lab line follows deletes', async () => {
    await page.locator('#new-vm').click();
    const dialog = page.locator('tv-create-dialog');
    await dialog.locator('select').selectOption('riscv64-busybox');
    await dialog.locator('#name').fill('big');
    await dialog.locator('#weight').fill('1000');
    await dialog.locator('button[type="submit"]').click();
    await expect.poll(() => dialog.locator('.error').textContent(), ANSWER).toBe('Weight must be a number from 0.1 to 100 (got 1000)');
    await dialog.locator('#weight').fill('');
    await dialog.locator('#memory').fill('4096');
    await dialog.locator('button[type="submit"]').click();
    await expect.poll(() => dialog.locator('.error').textContent(), ANSWER).toMatch(/cannot create VM 'big': it asks for 4 GiB but only \d+ MiB of the 768 MiB budget is free/);
    expect(await notice(page)).not.toContain('cannot create VM');
    await page.screenshot({ path: join(SHOTS, 'lab-refusal.png') });
    await dialog.locator('#memory').fill('128');
    await dialog.locator('button[type="submit"]').click();
    await expect.poll(() => dialog.locator('dialog').getAttribute('open'), ANSWER).toBeNull();
    await expect.poll(() => lastLine(page, 'big'), BOOT).toBe('/ #');
    await run(page, 'big', 'echo big-$((6+6))', 'big-12');
    await panel(page, 'big').locator('button[data-action="stop"]').click();
    await expect.poll(() => stateOf(page, 'big'), ANSWER).toMatch(/^stopped/i);
    expect(await screen(page, 'big')).toMatch(/\[stopped \d\d:\d\d:\d\d\]/);
    await panel(page, 'big').locator('button[data-action="delete"]').click();
    await expect.poll(() => panel(page, 'big').count(), ANSWER).toBe(0);
    // A lab VM deleted: the lab line says so.
    await panel(page, 'x86').locator('button[data-action="stop"]').click();
    await expect.poll(() => labLine(page), ANSWER).toContain('Lab default: 1 of 2 VMs running (x86 stopped)');
    await panel(page, 'x86').locator('button[data-action="delete"]').click();
    await expect.poll(() => labLine(page), ANSWER).toContain('Lab default: 1 of 2 VMs running (x86 deleted)');
  }, TEST_TIMEOUT);

  it('a reload asks first (work would be lost), then boots the lab again quietly with a prompt in each console', async () => {
    const before = dialogs.length;
    await page.reload();
    expect(dialogs.slice(before).map((d) => d.split(':')[0])).toEqual(['beforeunload']);
    await labReady(page);
    // Their disks hold what the first visit wrote (the template's own mount, at least): they boot.
    expect(await stateOf(page, 'riscv')).toMatch(/booted from its image with its disk/);
    expect(await stateOf(page, 'x86')).toMatch(/booted from its image with its disk/);
    expect(await page.locator('tv-vm-panel').count()).toBe(2);
    // The page tells a booted shell its size and clears the screen: the prompt is the last thing shown.
    for (const vm of ['riscv', 'x86']) await expect.poll(() => lastLine(page, vm), ANSWER).toBe('/ #');
    // Not even the early boot console (riscv's earlycon) printed kernel messages.
    expect(await screen(page, 'riscv')).not.toMatch(/Machine model|printk: console|Run \/init/);
    await run(page, 'riscv', 'grep -o "quiet loglevel=3" /proc/cmdline', 'quiet loglevel=3');
    await run(page, 'riscv', 'cat /tmp/f', 'cat: can\'t open \'/tmp/f\': No such file or directory');
    await run(page, 'x86', 'uname -m', 'i686');
  }, TEST_TIMEOUT);

  it('with "keep my work" on, a file survives a reload, the consoles show a prompt, and turning it off asks first', async () => {
    const work = page.locator('tv-app .work');
    await page.locator('#keep-work').check();
    await expect.poll(() => work.textContent(), ANSWER).toMatch(/^Work saved at .*riscv, x86/);
    const before = await work.textContent();
    await run(page, 'riscv', 'echo kept-$((5*5)) > /tmp/k; cat /tmp/k', 'kept-25');
    // Saved a moment after the typing stops; the line says when.
    await expect.poll(async () => { const now = await work.textContent(); return now !== before && /^Work saved at/.test(now ?? ''); }, ANSWER).toBe(true);
    const dialogsBefore = dialogs.length;
    await page.reload();
    await labReady(page);
    expect(dialogs.slice(dialogsBefore)).toEqual([]); // everything was saved: nothing to warn about
    expect(await page.locator('#keep-work').isChecked()).toBe(true);
    expect(await stateOf(page, 'riscv')).toContain('restored the saved work');
    // The restored consoles are not blank: the shell redrew its prompt.
    for (const vm of ['riscv', 'x86']) await expect.poll(() => lastLine(page, vm), ANSWER).toBe('/ #');
    await run(page, 'riscv', 'cat /tmp/k', 'kept-25');

    confirmAnswer = false;
    await page.locator('#keep-work').click(); // (uncheck() would insist that the box changed)
    await expect.poll(() => dialogs[dialogs.length - 1], ANSWER).toMatch(/^confirm: Delete your saved work\?/);
    expect(await page.locator('#keep-work').isChecked()).toBe(true);
    confirmAnswer = true;
    await page.locator('#keep-work').uncheck();
    await expect.poll(() => work.textContent(), ANSWER).toContain('A reload starts the lab clean');
  }, TEST_TIMEOUT);

  it('a VM whose worker dies shows as crashed while the other VM still answers; the lab line says so', async () => {
    const workerOf = async (vm: string) => /worker (\d+)/.exec((await panel(page, vm).locator('.meta').textContent()) ?? '')?.[1];
    expect(await workerOf('x86')).not.toBe(await workerOf('riscv'));
    // A real crash: the Web Worker running x86 is terminated mid-run.
    await page.evaluate(() => document.querySelector('tv-app')!.lab!.terminateWorkerOf('x86'));
    await expect.poll(() => stateOf(page, 'x86'), ANSWER).toMatch(/^crashed.*the worker was terminated/i);
    await expect.poll(() => labLine(page), ANSWER).toContain('Lab default: 1 of 2 VMs running (x86 crashed)');
    await run(page, 'riscv', 'echo alive-$((3+4))', 'alive-7');
    expect(await panel(page, 'x86').locator('button[data-action="reset"]').isEnabled()).toBe(true);
    expect(await panel(page, 'x86').locator('button[data-action="pause"]').isDisabled()).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'lab-crash.png') });
    expect(pageErrors).toEqual([]);
  }, TEST_TIMEOUT);

  it('says plainly when the lab does not exist, and which labs there are', async () => {
    const other = await context.newPage();
    await other.goto(`${url}?lab=no-such-lab`);
    await expect.poll(() => labLine(other), ANSWER).toMatch(/failed.*no lab named "no-such-lab".*; labs here: (?:[\w.-]+, )*default(?:, [\w.-]+)*$/i);
    await other.close();
  });
});
