// Labs as files, in a real browser: `npm start`'s server, Debian's Chromium (headless) through
// playwright-core, real guests (riscv64-busybox on our core, x86-busybox on v86) in Web Workers,
// and a student clicking and typing. One browser and one page for the whole file; each check
// builds on the previous one. Covered: the tasks panel (safe Markdown, Check with FAIL: lines,
// hints), ?seed= reaching /etc/lab-seed, Hand in downloaded and graded by `tabvisor grade`, reset
// of one VM and of the lab, labs from a file (picker and drop), from another origin with CORS, the
// one-line errors that list the built-in labs, and idle VMs that pause and resume on a key.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, chromiumMissing } from './support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, startServer } from './support/app-server.js';

const skipReason = chromiumMissing;
const BOOT = { timeout: 180_000 };
// Generous: the test machine is shared by several busy builds at once.
const ANSWER = { timeout: 60_000 };
const TEST_TIMEOUT = 400_000;
const SHOTS = join(repoRoot, '.cache/e2e-screenshots');

const panel = (page: Page, vm: string) => page.locator(`tv-vm-panel[data-name="${vm}"]`);
const task = (page: Page, id: string) => page.locator(`tv-tasks-panel li.task[data-task="${id}"]`);
const screen = (page: Page, vm: string) => page.evaluate((name) => document.querySelector('tv-app')?.consoleText(name) ?? '', vm);
const lineText = (line: ReturnType<Page['locator']>) => line.evaluate((el) => [...el.querySelectorAll('span')].map((s) => s.textContent?.trim()).join(' '));
const labLine = (page: Page) => lineText(page.locator('tv-status-line.lab .line'));
const stateOf = (page: Page, vm: string) => lineText(panel(page, vm).locator('tv-status-line.state .line'));
const taskState = (page: Page, id: string) => task(page, id).locator('.state').textContent();

/** The text of an element and of the shadow roots below it (tv-markdown draws in its shadow root). */
const deepText = (locator: ReturnType<Page['locator']>) =>
  locator.evaluate((root) => {
    const text = (node: Node): string =>
      node instanceof Element && node.shadowRoot ? text(node.shadowRoot) : node.nodeType === Node.TEXT_NODE ? (node.textContent ?? '') : [...node.childNodes].map(text).join('');
    return text(root);
  });

async function notice(page: Page): Promise<string> {
  const bar = page.locator('tv-app .notice');
  return (await bar.count()) ? ((await bar.textContent()) ?? '') : '';
}

async function labReady(page: Page): Promise<void> {
  await expect.poll(() => labLine(page), BOOT).toMatch(/lab ready|failed/i);
}

/** The lines of `text` after the last line that contains `marker`. */
function linesAfter(text: string, marker: string): string[] {
  const lines = text.split('\n').map((l) => l.trimEnd());
  const at = lines.findLastIndex((line) => line.includes(marker));
  return at < 0 ? [] : lines.slice(at + 1);
}

/**
 * Types `command` into a VM's console and waits until `answer` is a line of its own after it. A
 * console that is still busy with the page's own first commands (seed, size) may swallow the first
 * try, so it types again up to three times.
 */
async function run(page: Page, vm: string, command: string, answer: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await panel(page, vm).locator('tv-vm-console').click();
    await page.keyboard.type(command);
    await page.keyboard.press('Enter');
    try {
      await expect.poll(async () => linesAfter(await screen(page, vm), command), { timeout: attempt < 3 ? 20_000 : 60_000 }).toContain(answer);
      return;
    } catch (error) {
      if (attempt >= 3) {
        const tail = (await screen(page, vm)).split('\n').slice(-12).join('\n');
        throw new Error(`${vm} did not answer ${JSON.stringify(command)} with ${JSON.stringify(answer)}; its console ends:\n${tail}`, { cause: error });
      }
    }
  }
}

/** A lab of one riscv VM, as a teacher would write it. */
function oneVmLab(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'tabvisor-lab/1',
    name,
    title: `Lab ${name}`,
    vms: [{ name: 'solo', image: 'riscv64-busybox' }],
    tasks: [{ id: 'touch', title: 'Make /tmp/x', vm: 'solo', check: "[ -e /tmp/x ] || { echo 'FAIL: there is no /tmp/x'; exit 1; }" }],
    ...extra,
  };
}

/** Another origin (127.0.0.1 instead of localhost) serving labs, with and without CORS. */
function startLabOrigin(): Promise<{ origin: string; server: Server }> {
  const routes: Record<string, { status: number; cors: boolean; body: string }> = {
    '/cors/lab.json': { status: 200, cors: true, body: JSON.stringify(oneVmLab('from-afar', { idlePauseSeconds: 10 })) },
    '/cors/bad.json': { status: 200, cors: true, body: JSON.stringify({ ...oneVmLab('bad'), colour: 'red' }) },
    '/cors/broken.json': { status: 200, cors: true, body: '{ "format": ' },
    '/plain/lab.json': { status: 200, cors: false, body: JSON.stringify(oneVmLab('no-cors')) },
  };
  const server = createServer((request, response) => {
    const route = routes[request.url ?? ''] ?? { status: 404, cors: true, body: 'not found' };
    response.writeHead(route.status, { 'Content-Type': 'application/json', ...(route.cors ? { 'Access-Control-Allow-Origin': '*' } : {}) });
    response.end(route.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

/** `node bin/tabvisor.js ARGS` to its end. */
function tabvisor(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/tabvisor.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

describe.skipIf(skipReason !== null)(`labs as files in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: ChildProcess | undefined;
  let labOrigin: { origin: string; server: Server } | undefined;
  let url = '';
  let context: BrowserContext;
  let page: Page;
  let userDataDir = '';
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    ({ url, server } = await startServer());
    labOrigin = await startLabOrigin();
    userDataDir = mkdtempSync(join(tmpdir(), 'tabvisor-chromium-'));
    context = await launchChromium(userDataDir, { viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // Confirm resets, and let navigations that would lose work go on.
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.accept();
    });
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGTERM');
    labOrigin?.server.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  }, TEST_TIMEOUT);

  it('shows the tasks of the default lab with their instructions, and ?seed= reaches both guests', async () => {
    await page.goto(`${url}?lab=default&seed=alice-42`);
    await labReady(page);
    expect(await labLine(page)).toContain('Lab default: 2 of 2 VMs running');
    expect(await taskState(page, 'hello')).toBe('not checked');
    expect(await taskState(page, 'www')).toBe('not checked');
    // Markdown: `code` and **bold** became elements, the text is the text.
    const instructions = task(page, 'hello').locator('tv-markdown');
    expect(await instructions.locator('code').first().textContent()).toBe('/root/hello.txt');
    expect(await instructions.locator('strong').textContent()).toBe('riscv');
    expect(await task(page, 'www').locator('tv-markdown li').count()).toBe(2);
    expect(await page.locator('tv-tasks-panel .seed code').textContent()).toBe('alice-42');
    await run(page, 'riscv', 'cat /etc/lab-seed', 'alice-42');
    await run(page, 'x86', 'cat /etc/lab-seed', 'alice-42');

    // The tasks and the lab tools fit a phone: nothing scrolls sideways at 390 px.
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'lab-tasks-1280x800.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth), ANSWER).toBeLessThanOrEqual(390);
      for (const part of ['tv-tasks-panel #hand-in', 'tv-tasks-panel li.task[data-task="www"] button.check', 'tv-tasks-panel li.task[data-task="www"]', 'tv-lab-tools #reset-lab', 'tv-lab-tools #idle-form button']) {
        const box = (await page.locator(part).boundingBox())!;
        expect(box.x + box.width, part).toBeLessThanOrEqual(390);
      }
      await page.screenshot({ path: join(SHOTS, 'lab-tasks-390x844.png'), fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  }, TEST_TIMEOUT);

  it('Check runs in the guest: FAIL: lines before the work, passed after; hints come one at a time', async () => {
    await task(page, 'hello').locator('button.check').click();
    await expect.poll(() => taskState(page, 'hello'), ANSWER).toMatch(/^failed/);
    expect(await task(page, 'hello').locator('.failures li').allTextContents()).toEqual(['there is no file /root/hello.txt']);
    const hint = task(page, 'hello').locator('button.hint');
    expect(await hint.textContent()).toContain('Show a hint (1 of 2)');
    await hint.click();
    expect(await task(page, 'hello').locator('.hints li').count()).toBe(1);
    expect(await hint.textContent()).toContain('Show a hint (2 of 2)');
    await hint.click();
    expect(await deepText(task(page, 'hello').locator('.hints li').nth(1))).toContain('echo hello > /root/hello.txt');
    expect(await hint.isDisabled()).toBe(true);

    await run(page, 'riscv', 'echo hello > /root/hello.txt; echo written-$((3*3))', 'written-9');
    await task(page, 'hello').locator('button.check').click();
    await expect.poll(() => taskState(page, 'hello'), ANSWER).toMatch(/^passed/);
    expect(await task(page, 'hello').locator('.failures').count()).toBe(0);
    await task(page, 'www').locator('button.check').click();
    await expect.poll(() => taskState(page, 'www'), ANSWER).toMatch(/^failed/);
    expect(await task(page, 'www').locator('.failures li').allTextContents()).toEqual(['there is no directory /srv/www']);
  }, TEST_TIMEOUT);

  it('Hand in downloads one file that `tabvisor grade` grades by running the checks again', async () => {
    await page.locator('tv-tasks-panel #student').fill('alice');
    const [download] = await Promise.all([page.waitForEvent('download', ANSWER), page.locator('tv-tasks-panel #hand-in').click()]);
    expect(download.suggestedFilename()).toMatch(/^default-alice-.*\.handin\.tar$/);
    const file = join(userDataDir, download.suggestedFilename());
    await download.saveAs(file);
    expect(statSync(file).size).toBeGreaterThan(100_000);
    const listing = spawnSync('tar', ['-tf', file], { encoding: 'utf8' });
    expect(listing.stdout.split('\n').filter(Boolean).map((name) => name.replace(/\/$/, '')).sort()).toEqual(['handin.json', 'log.txt', 'vms', 'vms/riscv.tvsnap', 'vms/x86.tvsnap'].sort());
    const index = JSON.parse(spawnSync('tar', ['-xOf', file, 'handin.json'], { encoding: 'utf8' }).stdout) as { student: string; seed: string; results: Array<{ id: string; passed: boolean }> };
    expect(index).toMatchObject({ student: 'alice', seed: 'alice-42' });
    expect(index.results.map((r) => [r.id, r.passed])).toEqual([['hello', true], ['www', false]]);
    expect(spawnSync('tar', ['-xOf', file, 'log.txt'], { encoding: 'utf8' }).stdout).toMatch(/check hello: passed/);

    const graded = await tabvisor(['grade', file]);
    expect(graded.status, graded.stderr).toBe(0);
    const lines = graded.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^file\s+student\s+hello\s+www\s+passed$/);
    expect(lines[1]).toMatch(/^default-alice-\S+\.handin\.tar\s+alice\s+pass\s+FAIL\s+1\/2$/);
    const csv = await tabvisor(['grade', file, '--csv']);
    expect(csv.stdout.trim().split('\n')[1]).toMatch(/,alice,pass,FAIL,1,2,$/);
  }, TEST_TIMEOUT);

  it('resets one VM to its template (its work gone, its seed back) and then the whole lab', async () => {
    const riscvId = await panel(page, 'riscv').evaluate((el) => (el as unknown as { vm: { id: string } }).vm.id);
    await page.locator('tv-lab-tools button.reset-vm[data-vm="riscv"]').click();
    // riscv has a persistent disk (its /root): no template, its image boots and the disk is emptied.
    await expect.poll(() => notice(page), ANSWER).toContain('riscv is booting its image again');
    expect(dialogs.at(-1)).toMatch(/^confirm: Reset riscv to its template\?/);
    // The same VM (same panel), its machine replaced; the task it had passed is unchecked again.
    expect(await panel(page, 'riscv').evaluate((el) => (el as unknown as { vm: { id: string } }).vm.id)).toBe(riscvId);
    expect(await taskState(page, 'hello')).toBe('not checked');
    await expect.poll(() => stateOf(page, 'riscv'), BOOT).toMatch(/running/i);
    await run(page, 'riscv', 'ls /root/hello.txt || echo gone-$((2+5))', 'gone-7');
    await run(page, 'riscv', 'cat /etc/lab-seed', 'alice-42');

    // Short commands: a line longer than the console wraps, and the answer is looked for after it.
    await run(page, 'x86', 'mkdir -p /srv/www; echo made-$((4*4))', 'made-16');
    await run(page, 'riscv', 'echo mine > /root/keep-me; sync; echo kept-$((5+5))', 'kept-10');
    await page.locator('tv-lab-tools #reset-lab').click();
    await expect.poll(() => notice(page), BOOT).toContain('Lab default was reset');
    expect(await labLine(page)).toContain('Lab default: 2 of 2 VMs running');
    await run(page, 'x86', 'ls /srv/www || echo empty-$((3+3))', 'empty-6');
    await run(page, 'x86', 'cat /etc/lab-seed', 'alice-42');
    // The whole lab's reset empties the disks too (riscv's /root is its persistent disk).
    await run(page, 'riscv', 'ls /root/keep-me || echo gone-$((4+4))', 'gone-8');
  }, TEST_TIMEOUT);

  it('opens a lab from a file (picker, then dropped on the page); its Markdown stays text', async () => {
    const hostile = oneVmLab('from-file', {
      tasks: [{
        id: 'touch',
        title: 'Make /tmp/x <b>now</b>',
        vm: 'solo',
        instructions: 'Run `touch /tmp/x`. <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> [bad](javascript:window.__pwned=3) [good](https://example.org/)',
        check: "[ -e /tmp/x ] || { echo 'FAIL: there is no /tmp/x'; exit 1; }",
      }],
    });
    const labFile = join(userDataDir, 'my-lab.json');
    writeFileSync(labFile, JSON.stringify(hostile));
    await page.locator('tv-lab-tools #lab-file').setInputFiles(labFile);
    await page.waitForURL(/\?lab=file%3Amy-lab\.json|lab=file:my-lab\.json/, ANSWER);
    await labReady(page);
    expect(await labLine(page)).toContain('Lab from-file: 1 of 1 VMs running');
    const markdown = task(page, 'touch').locator('tv-markdown');
    expect(await markdown.locator('img, script, b').count()).toBe(0);
    expect(await deepText(markdown)).toContain('<img src=x onerror="window.__pwned=1"><script>');
    expect(await task(page, 'touch').locator('h3').textContent()).toBe('Make /tmp/x <b>now</b>');
    const links = markdown.locator('a');
    expect(await links.count()).toBe(1);
    expect(await links.getAttribute('href')).toBe('https://example.org/');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    // solo has a persistent disk, so it boots (no template): Check once its shell is up.
    await expect.poll(async () => (await screen(page, 'solo')).split('\n').map((l) => l.trimEnd()).filter((l) => l !== '').at(-1), BOOT).toBe('/ #');
    await task(page, 'touch').locator('button.check').click();
    await expect.poll(() => taskState(page, 'touch'), ANSWER).toMatch(/^failed/);
    await run(page, 'solo', 'touch /tmp/x; echo touched-$((1+1))', 'touched-2');
    await task(page, 'touch').locator('button.check').click();
    await expect.poll(() => taskState(page, 'touch'), ANSWER).toMatch(/^passed/);

    // A .json dropped anywhere on the page opens it.
    const dropped = JSON.stringify(oneVmLab('dropped'));
    await page.evaluate((text) => {
      const data = new DataTransfer();
      data.items.add(new File([text], 'dropped-lab.json', { type: 'application/json' }));
      const app = document.querySelector('tv-app')!;
      app.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      app.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }, dropped);
    await page.waitForURL(/dropped-lab\.json/, ANSWER);
    await labReady(page);
    expect(await labLine(page)).toContain('Lab dropped: 1 of 1 VMs running');
    expect(await page.locator('tv-app h1').textContent()).toContain('Lab dropped');
  }, TEST_TIMEOUT);

  it('?lab=URL from another origin with CORS loads; fetch errors and bad manifests give one line listing the built-in labs', async () => {
    const origin = labOrigin!.origin;
    const failure = async (labUrl: string): Promise<string> => {
      await page.goto(`${url}?lab=${encodeURIComponent(labUrl)}`);
      await expect.poll(() => labLine(page), ANSWER).toMatch(/^failed/i);
      return labLine(page);
    };
    expect(await failure(`${origin}/cors/missing.json`)).toMatch(new RegExp(`Could not open the lab: could not fetch the lab ${origin}/cors/missing.json: HTTP 404 Not Found; labs here: (?:[\\w.-]+, )*default(?:, [\\w.-]+)*$`));
    expect(await failure(`${origin}/plain/lab.json`)).toMatch(/could not fetch the lab .*\/plain\/lab\.json: no answer \(the server is not reachable, or it does not allow CORS from this page\); labs here: (?:[\w.-]+, )*default(?:, [\w.-]+)*$/);
    expect(await failure(`${origin}/cors/bad.json`)).toMatch(/Could not open the lab: .*\/cors\/bad\.json: lab: unknown field "colour" .*; labs here: (?:[\w.-]+, )*default(?:, [\w.-]+)*$/);
    expect(await failure(`${origin}/cors/broken.json`)).toMatch(/\/cors\/broken\.json is not JSON \(.*\); labs here: (?:[\w.-]+, )*default(?:, [\w.-]+)*$/);
    for (const line of [await labLine(page)]) expect(line.split('\n')).toHaveLength(1);

    await page.goto(`${url}?lab=${encodeURIComponent(`${origin}/cors/lab.json`)}`);
    await labReady(page);
    expect(await labLine(page)).toContain('Lab from-afar: 1 of 1 VMs running');
    expect(await page.locator('tv-lab-tools .idle-now').textContent()).toBe("now: 10 s (the lab's setting)");
  }, TEST_TIMEOUT);

  it('an idle VM pauses after the lab\'s idle time and a key typed into its console resumes it', async () => {
    await expect.poll(() => stateOf(page, 'solo'), { timeout: 120_000 }).toMatch(/^paused paused after 10 s without activity; type in its console to resume/);
    await expect.poll(() => screen(page, 'solo'), ANSWER).toContain('idle for 10 s; typing resumes it');
    await panel(page, 'solo').locator('tv-vm-console').click();
    await page.keyboard.type('echo woke-$((20+22))');
    await page.keyboard.press('Enter');
    await expect.poll(() => stateOf(page, 'solo'), ANSWER).toMatch(/^running/);
    try {
      await expect.poll(async () => linesAfter(await screen(page, 'solo'), 'echo woke-'), ANSWER).toContain('woke-42');
    } catch (error) {
      throw new Error(`solo did not run the line typed to wake it; its console ends:\n${(await screen(page, 'solo')).split('\n').slice(-12).join('\n')}`, { cause: error });
    }
    expect(await screen(page, 'solo')).toContain('you typed');

    // The page's own setting wins over the lab's; a value out of range is refused with the range.
    await page.locator('tv-lab-tools #idle-seconds').fill('5');
    await page.locator('tv-lab-tools #idle-form button[type="submit"]').click();
    await expect.poll(() => notice(page), ANSWER).toContain('Idle pause must be a whole number of seconds from 10 to 86400, or 0 for never (got 5)');
    await page.locator('tv-lab-tools #idle-seconds').fill('0');
    await page.locator('tv-lab-tools #idle-form button[type="submit"]').click();
    await expect.poll(() => page.locator('tv-lab-tools .idle-now').textContent(), ANSWER).toBe('now: never (your setting)');
    expect(pageErrors).toEqual([]);
  }, TEST_TIMEOUT);
});
