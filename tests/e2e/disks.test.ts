// Persistent disks in the page, in Debian's Chromium: each lab VM's /root is an overlay in OPFS
// written by its worker. A file written and synced in both guests is there after the browser was
// killed (SIGKILL, no clean shutdown, at a random moment of a loop in both guests that writes and
// syncs numbered files) and started again on the same profile, and so is every numbered file
// whose sync the page saw acknowledged; a second tab of the
// lab gets a clear message and no disks; the storage line shows quota use. "Saved disks" lists
// every disk the browser keeps and deletes those of labs no tab has open.
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, startServer } from './support/app-server.js';

const BOOT = { timeout: 240_000 };
const ANSWER = { timeout: 90_000 };
const TEST_TIMEOUT = 600_000;
const SHOTS = join(repoRoot, '.cache/e2e-screenshots');

const panel = (page: Page, vm: string) => page.locator(`tv-vm-panel[data-name="${vm}"]`);
const screen = (page: Page, vm: string): Promise<string> =>
  page.evaluate((name) => document.querySelector('tv-app')?.consoleText(name) ?? '', vm);
const labLine = (page: Page) => page.locator('tv-status-line.lab .line').evaluate((el) => el.textContent ?? '');
const storageLine = (page: Page) => page.locator('tv-storage').evaluate((el) => el.shadowRoot?.textContent?.trim() ?? '');

/** Waits for the shell's prompt, types a command and waits until `answer` is a line of its own after it. */
async function run(page: Page, vm: string, command: string, answer: string): Promise<void> {
  const lastLine = async () => (await screen(page, vm)).split('\n').map((l) => l.trimEnd()).filter((l) => l !== '').at(-1) ?? '';
  await expect.poll(lastLine, BOOT).toBe('/ #');
  await panel(page, vm).locator('tv-vm-console').click();
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
  try {
    await expect.poll(async () => {
      const lines = (await screen(page, vm)).split('\n');
      const at = lines.findLastIndex((l) => l.includes(command));
      return at < 0 ? [] : lines.slice(at + 1).map((l) => l.trimEnd());
    }, ANSWER).toContain(answer);
  } catch (error) {
    const tail = (await screen(page, vm)).split('\n').slice(-15).join('\n');
    throw new Error(`${vm} did not answer ${JSON.stringify(command)} with ${JSON.stringify(answer)}; its console ends:\n${tail}`, { cause: error });
  }
}

/** Looks for /root/n1 .. /root/n<n> in the guest (raw console, no line wrapping); its output. */
function missingFiles(page: Page, vm: string, n: number): Promise<string> {
  return page.evaluate(async ({ vm, n }) => {
    const lab = document.querySelector('tv-app')!.lab!;
    const hv = lab.hypervisor!;
    const id = lab.view.vms.find((v) => v.name === vm)!.id!;
    const from = hv.consoleOffset(id);
    await hv.sendConsole(id, `i=1; while [ $i -le ${n} ]; do [ "$(cat /root/n$i)" = n$i ] || echo "LO""ST-n$i"; i=$((i+1)); done; echo "files-che""cked"\r`);
    await hv.waitForConsole(id, 'files-checked', { from, timeoutMs: 60_000 });
    return hv.consoleText(id, from);
  }, { vm, n });
}

function launch(profile: string): Promise<BrowserContext> {
  return launchChromium(profile, { viewport: { width: 1280, height: 800 } });
}

/** The pids of the Chromium processes that use `profile` (this test's own browser, found by its profile folder). */
function browserPids(profile: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(`--user-data-dir=${profile}`);
    } catch {
      return false;
    }
  });
}

async function openLab(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await expect.poll(() => labLine(page), BOOT).toMatch(/lab ready|failed/i);
  return page;
}

describe.skipIf(!existsSync(CHROMIUM))('persistent disks in the page (Chromium)', () => {
  let server: ChildProcess | undefined;
  let url = '';
  let profile = '';
  let context: BrowserContext | undefined;
  let lastPage: Page | undefined;

  beforeAll(async () => {
    ({ url, server } = await startServer());
    profile = mkdtempSync(join(tmpdir(), 'tabvisor-disks-chromium-'));
  }, TEST_TIMEOUT);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    server?.kill('SIGTERM');
    if (profile) rmSync(profile, { recursive: true, force: true });
  }, TEST_TIMEOUT);

  it('a synced file in /root survives a killed browser, on both guests; a second tab gets a clear message', async () => {
    context = await launch(profile);
    const page = await openLab(context, url);
    expect(await labLine(page)).toMatch(/lab ready/i);
    await expect.poll(() => storageLine(page), ANSWER).toMatch(/^Disks: saved here · [\d.]+ [MG]iB of [\d.]+ [MG]iB used/);
    for (const vm of ['riscv', 'x86']) {
      await run(page, vm, 'grep -c " /root ext4 " /proc/mounts', '1');
      await run(page, vm, `echo kept-in-${vm} > /root/note; sync; echo synced-$((6*7))`, 'synced-42');
    }

    // A second tab of the same lab: told plainly, and its VMs get no disk.
    const second = await openLab(context, url);
    await expect.poll(() => storageLine(second), ANSWER).toMatch(/this lab is open in another tab, which keeps its disks/);
    await run(second, 'riscv', 'grep -c " /root " /proc/mounts', '0');
    await second.close();

    // Both guests write and sync numbered files in a loop; the browser dies at a random moment of it.
    for (const vm of ['riscv', 'x86']) {
      await page.evaluate((name) => {
        const lab = document.querySelector('tv-app')!.lab!;
        const id = lab.view.vms.find((v) => v.name === name)!.id!;
        lab.sendConsole(id, 'i=0; while :; do i=$((i+1)); echo n$i > /root/n$i; sync; echo synced-n$i; done\r');
      }, vm);
    }
    const ackedOn = async (vm: string) => Math.max(0, ...[...(await screen(page, vm)).matchAll(/^synced-n(\d+)\s*$/gm)].map((m) => Number(m[1])));
    for (const vm of ['riscv', 'x86']) await expect.poll(() => ackedOn(vm), ANSWER).toBeGreaterThanOrEqual(2);
    const killAfterMs = Math.floor(Math.random() * 2000);
    await page.waitForTimeout(killAfterMs);
    // What the page had seen acknowledged just before the kill (the guests may have gone further).
    const acked = { riscv: await ackedOn('riscv'), x86: await ackedOn('x86') };
    console.log(`disks: browser killed ${killAfterMs} ms into the loop; synced files seen: riscv ${acked.riscv}, x86 ${acked.x86}`);

    // No clean shutdown: every process of this browser is killed.
    const pids = browserPids(profile);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
    }
    await context.close().catch(() => undefined);
    context = undefined;
    await expect.poll(() => browserPids(profile).length, ANSWER).toBe(0);

    context = await launch(profile);
    const again = await openLab(context, url);
    for (const vm of ['riscv', 'x86']) {
      await run(again, vm, 'cat /root/note', `kept-in-${vm}`);
      const out = await missingFiles(again, vm, acked[vm as 'riscv' | 'x86']);
      expect(out.match(/LOST-n\d+/g) ?? [], `${vm}: files whose sync was acknowledged are missing`).toEqual([]);
    }
    await expect.poll(() => storageLine(again), ANSWER).toMatch(/^Disks: saved here/);
    lastPage = again;
  }, TEST_TIMEOUT);

  it('"Saved disks" lists every disk kept here; one of a lab no tab has open is deleted, one of an open lab is kept', async () => {
    expect(lastPage, 'the first test left its page').toBeDefined();
    const p = lastPage!;
    // Left by an old course, and by a lab open in another tab (that tab holds the lab's lock).
    await p.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvisor-disks', { create: true });
      for (const [name, size] of [['old-course.vm1.tvoverlay', 65536], ['busy.lab.vm.tvoverlay', 4096]] as const) {
        const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
        await w.write(new Uint8Array(size));
        await w.close();
      }
    });
    const other = await context!.newPage();
    await other.goto(new URL('images/manifest.json', url).href);
    await other.evaluate(() => void navigator.locks.request('tabvisor-disks:busy.lab', () => new Promise(() => {})));

    const storage = p.locator('tv-storage');
    await storage.locator('summary').click();
    const item = (key: string) => storage.locator(`li[data-key="${key}"]`);
    await expect.poll(() => storage.locator('li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-key'))), ANSWER)
      .toEqual(['busy.lab.vm', 'default.riscv', 'default.x86', 'old-course.vm1']);
    expect(await item('default.riscv').textContent()).toContain("this lab's (Reset lab empties it)");
    expect(await item('busy.lab.vm').textContent()).toContain('its lab is open in another tab');
    expect(await item('busy.lab.vm').locator('button').count()).toBe(0);
    expect(await item('old-course.vm1').textContent()).toMatch(/old-course\.vm1 · 64 KiB/);
    mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: join(SHOTS, 'saved-disks.png') });

    p.once('dialog', (dialog) => void dialog.accept());
    await item('old-course.vm1').locator('button', { hasText: 'Delete' }).click();
    await expect.poll(() => storage.locator('[role=status]').textContent(), ANSWER).toBe('old-course.vm1 deleted.');
    await expect.poll(() => item('old-course.vm1').count(), ANSWER).toBe(0);
    const left = await p.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvisor-disks');
      const names: string[] = [];
      for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
      return names.sort();
    });
    expect(left).toEqual(['busy.lab.vm.tvoverlay', 'default.riscv.tvoverlay', 'default.x86.tvoverlay']);
    await other.close();
    // The lab's own disks are untouched.
    await run(p, 'riscv', 'cat /root/note', 'kept-in-riscv');
  }, TEST_TIMEOUT);
});
