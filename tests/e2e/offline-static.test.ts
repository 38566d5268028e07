// The built app (web-dist/, `npm run build`) on the plainest static host: a server that sends a
// Content-Type and nothing else (no COOP/COEP, so the page is not cross-origin isolated). The
// 3-VM lab `trio` starts from the build's templates and every console answers; after that first
// visit the service worker has the app and the templates, so with the browser offline and the
// server down a reload opens the lab again; a new build replaces the cached one.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './support/app-server.js';
import { startPlainStaticServer, type PlainStaticServer } from './support/plain-static-server.js';

const CHROMIUM = '/usr/bin/chromium';
const built = join(repoRoot, 'web-dist');
const skipReason = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (run scripts/setup-system.sh test as root)`
  : !existsSync(join(built, 'sw.js'))
    ? 'web-dist/ has no sw.js: run npm run build first'
    : null;
const LAB = 'trio';
const TEST_TIMEOUT = 300_000;

/** The build id in a built app's sw.js. */
const buildIdOf = (dir: string): string => /self\.TABVISOR_BUILD = \{"build":"([0-9a-f]+)"/.exec(readFileSync(join(dir, 'sw.js'), 'utf8'))![1]!;

/** The files a built app's sw.js precaches. */
const precached = (dir: string): string[] => (JSON.parse(/self\.TABVISOR_BUILD = (\{.*\});/.exec(readFileSync(join(dir, 'sw.js'), 'utf8'))![1]!) as { precache: string[] }).precache;

/** Waits for the lab to be ready, then types a command into every console and waits for every answer. */
async function everyConsoleAnswers(page: Page): Promise<{ name: string; message: string }[]> {
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.querySelector('tv-app')?.lab?.view.phase ?? ''), undefined, { timeout: 180_000 });
  const vms = await page.evaluate(() => {
    const lab = document.querySelector('tv-app')!.lab!;
    for (const vm of lab.view.vms) if (vm.id) lab.sendConsole(vm.id, 'echo answer-$((20+22))\r');
    return lab.view.vms.map((vm) => ({ name: vm.name, message: vm.message, running: Boolean(vm.id) }));
  });
  expect(vms.filter((vm) => vm.running).map((vm) => vm.name), JSON.stringify(vms)).toEqual(['rv-a', 'rv-b', 'x86']);
  try {
    await page.waitForFunction(
      (names) => names.every((name) => document.querySelector('tv-app')!.consoleText(name).split('\n').some((line) => line.trim() === 'answer-42')),
      vms.map((vm) => vm.name),
      { timeout: 120_000 },
    );
  } catch (e) {
    // Say which console did not answer, and what it shows.
    const tails = await page.evaluate((names) => {
      const lab = document.querySelector('tv-app')!.lab!;
      return names.map((name) => {
        const vm = lab.view.vms.find((v) => v.name === name);
        const raw = vm?.id && lab.hypervisor?.has(vm.id) ? lab.hypervisor.consoleText(vm.id) : '';
        return `--- ${name}:\n${document.querySelector('tv-app')!.consoleText(name).slice(-600)}\n(console bytes: ${JSON.stringify(raw.slice(-800))})`;
      });
    }, vms.map((vm) => vm.name));
    throw new Error(`${(e as Error).message}\n${tails.join('\n')}`);
  }
  return vms;
}

/**
 * The build of the active service worker, once one controls the page (`undefined` while none
 * answers: one being replaced drops messages).
 */
function activeBuild(page: Page): Promise<string | undefined> {
  return page.evaluate(async () => {
    const sw = navigator.serviceWorker;
    const within = <T>(p: Promise<T>): Promise<T | undefined> => Promise.race([p, new Promise<undefined>((resolve) => setTimeout(resolve, 5000))]);
    const active = (await within(sw.ready))?.active;
    if (!active) return undefined;
    if (!sw.controller) await within(new Promise((resolve) => sw.addEventListener('controllerchange', resolve, { once: true })));
    const channel = new MessageChannel();
    const answer = new Promise<string | undefined>((resolve) => {
      channel.port1.onmessage = (e) => resolve((e.data as { build: string }).build);
      setTimeout(() => resolve(undefined), 5000);
    });
    active?.postMessage({ type: 'tabvisor-build' }, [channel.port2]);
    return answer;
  });
}

/** The service worker registration as the page sees it, for failure messages. */
function swState(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration();
    return `registration ${JSON.stringify(r ? { installing: r.installing?.state, waiting: r.waiting?.state, active: r.active?.state } : null)}, controller ${Boolean(navigator.serviceWorker.controller)}`;
  });
}

/** Cache names and the files the app's cache holds, relative to the app. */
function cacheContents(page: Page): Promise<{ names: string[]; files: string[] }> {
  return page.evaluate(async () => {
    const names = (await caches.keys()).filter((n) => n.startsWith('tabvisor-'));
    const files = names.length === 1 ? (await (await caches.open(names[0]!)).keys()).map((r) => new URL(r.url).pathname.slice(1)) : [];
    return { names, files };
  });
}

describe.skipIf(skipReason !== null)(`the build on a plain static host, offline after the first visit${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let app: string;
  let server: PlainStaticServer;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // A copy: the last check rebuilds its service worker.
    app = mkdtempSync(join(tmpdir(), 'tabvisor-static-'));
    cpSync(built, app, { recursive: true });
    server = await startPlainStaticServer(app);
    profile = mkdtempSync(join(tmpdir(), 'tabvisor-offline-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    for (const dir of [profile, app]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('first visit: not cross-origin isolated, 3 VMs restored from the build\'s templates, every console answers', async () => {
    // The service worker's first install loses a file the page itself does not load (another
    // lab's chunk) to a cut connection: the page must install it again (test below).
    server.failOnce.add(`/${precached(app).find((path) => /^assets\/default-[\w-]+\.js$/.test(path))}`);
    await page.goto(`${server.url}?lab=${LAB}`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    const vms = await everyConsoleAnswers(page);
    for (const vm of vms) expect(vm.message).toMatch(/^restored from template /);
  }, TEST_TIMEOUT);

  it('the service worker takes over (its first install, cut off, tried again) and caches the app, the engines and the lab\'s templates', async () => {
    await expect.poll(() => activeBuild(page), { timeout: 60_000 }).toBe(buildIdOf(app)).catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message}\n${await swState(page)}`);
    });
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${server.url}sw.js`);
    expect(server.failOnce.size, 'the cut-off file was asked for').toBe(0);
    await expect.poll(async () => (await cacheContents(page)).files.sort(), { timeout: 120_000 }).toEqual(
      expect.arrayContaining(['index.html', 'build/rv64.wasm', 'node_modules/v86/build/v86.wasm', 'templates/index.json', ...JSON.parse(readFileSync(join(app, 'templates/index.json'), 'utf8')).templates.map((k: string) => `templates/${k}.tvsnap`)]),
    );
  }, TEST_TIMEOUT);

  it('offline (browser offline, server down): a reload opens the lab and every console answers', async () => {
    await context.setOffline(true);
    server.down = true;
    const asked = server.requests.length;
    try {
      await page.reload();
      const vms = await everyConsoleAnswers(page);
      for (const vm of vms) expect(vm.message).toMatch(/^restored from template /);
      // Only the browser's own update check of sw.js tries the network (and is cut off).
      expect(server.requests.slice(asked).filter((path) => path !== '/sw.js')).toEqual([]);
    } finally {
      await context.setOffline(false);
      server.down = false;
    }
  }, TEST_TIMEOUT);

  it('a new build replaces the cached one, even when its first install is cut off: new service worker, one cache, the new page on the next load', async () => {
    const oldBuild = buildIdOf(app);
    writeFileSync(join(app, 'index.html'), readFileSync(join(app, 'index.html'), 'utf8').replace('</body>', '<!-- rebuilt for the test -->\n</body>'));
    const sw = spawnSync(process.execPath, [join(repoRoot, 'scripts/build-sw.mjs'), '--dir', app], { encoding: 'utf8' });
    expect(sw.status, sw.stderr).toBe(0);
    const newBuild = buildIdOf(app);
    expect(newBuild).not.toBe(oldBuild);
    // The first install of the new build loses a file (connection cut): it is tried again.
    server.failOnce.add('/templates/index.json');
    await page.reload(); // still the old page (from the old cache); the browser finds the new sw.js
    const asked = (): string => `asked ${server.requests.filter((path) => path === '/sw.js' || path === '/templates/index.json').join(' ')}`;
    // The new worker takes over at once when the old one is idle. Chromium waits while the old
    // worker has events in flight, which a page with three VMs on a loaded machine can keep up for
    // minutes; then it takes over on the next visit, once no page of the old build is open.
    const tookOver = await expect.poll(() => activeBuild(page), { timeout: 90_000 }).toBe(newBuild).then(() => true, () => false);
    if (!tookOver) {
      console.log(`the new build did not take over while the old page was open (${await swState(page)}): closing it, visiting again`);
      await page.close();
      page = await context.newPage();
      await page.goto(`${server.url}?lab=${LAB}`);
    }
    try {
      await expect.poll(() => activeBuild(page), { timeout: 120_000 }).toBe(newBuild);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await swState(page)}; ${asked()}`);
    }
    await expect.poll(async () => (await cacheContents(page)).names, { timeout: 60_000 }).toEqual([`tabvisor-${newBuild}`]);
    expect(server.failOnce.size, 'the cut-off file was asked for').toBe(0);
    await page.reload();
    expect(await page.content()).toContain('rebuilt for the test');
    await everyConsoleAnswers(page);
  }, TEST_TIMEOUT);
});
