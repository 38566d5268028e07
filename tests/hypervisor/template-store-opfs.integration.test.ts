// OpfsTemplateStore in Debian's Chromium (headless, through playwright-core): snapshots kept in
// the origin private file system survive a page reload.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCompiled, repoRoot } from './support/dist.js';

const CHROMIUM = '/usr/bin/chromium';
const dist = join(repoRoot, 'dist');

let server: Server;
let browser: Browser;
let page: Page;
let origin: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return; // the describe below is skipped
  ensureCompiled('hypervisor/template-store-opfs.js');
  // A blank page and dist/ as ES modules, on localhost (a secure context: OPFS is available).
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>opfs</title>');
      return;
    }
    const file = join(dist, path);
    if (!file.startsWith(dist) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe.skipIf(!existsSync(CHROMIUM))('OpfsTemplateStore in Chromium', () => {
  it('stores, lists, reads back and deletes snapshots, and keeps them across a reload', async () => {
    // Plain strings: vitest would rewrite an import() inside a function it compiles.
    const first = await page.evaluate(`(async () => {
      const { OpfsTemplateStore } = await import('/hypervisor/template-store-opfs.js');
      const store = new OpfsTemplateStore('test-templates');
      const bytes = Uint8Array.from({ length: 300000 }, (_, i) => (i * 7) & 255);
      await store.put('x86-busybox-0123456789abcdef', bytes);
      await store.put('work-default-x86', new Uint8Array([1, 2, 3]));
      await store.put('work-default-x86', new Uint8Array([4, 5])); // replaced, not appended
      const back = await store.get('x86-busybox-0123456789abcdef');
      const work = await store.get('work-default-x86');
      return {
        same: back !== undefined && back.length === bytes.length && back.every((b, i) => b === bytes[i]),
        work: work ? [...work] : null,
        missing: (await store.get('nothing-here')) === undefined,
        keys: await store.keys(),
        badKey: await store.get('../escape').then(() => 'accepted', (e) => e.message),
      };
    })()`);
    expect(first).toEqual({
      same: true,
      work: [4, 5],
      missing: true,
      keys: ['work-default-x86', 'x86-busybox-0123456789abcdef'],
      badKey: "bad template key '../escape'",
    });

    await page.reload();
    const second = await page.evaluate(`(async () => {
      const { OpfsTemplateStore } = await import('/hypervisor/template-store-opfs.js');
      const store = new OpfsTemplateStore('test-templates');
      const kept = (await store.get('x86-busybox-0123456789abcdef'))?.length ?? 0;
      await store.delete('work-default-x86');
      await store.delete('work-default-x86'); // deleting twice is fine
      return { kept, keys: await store.keys() };
    })()`);
    expect(second).toEqual({ kept: 300_000, keys: ['x86-busybox-0123456789abcdef'] });
  });
});
