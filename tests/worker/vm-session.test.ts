// The page's logic (src/ui/vm-session.ts) without a browser: the manifest comes over HTTP from
// npm start's server, the VM runs in a real node:worker_threads VM host. What is checked is what
// the page shows: the status line's phases and messages, and the console's text.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServer } from '../../scripts/start.js';
import { VmSession, type SessionStatus } from '../../src/ui/vm-session.js';
import { ensureCompiledWorker, repoRoot } from './build-dist.js';

type NodeClient = typeof import('../../src/worker/node-client.js');

async function waitUntil(check: () => boolean, what: string, limitMs = 90_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('VmSession (the page logic) over a Node VM host', () => {
  let server: Server;
  let appRoot: URL;
  let client: NodeClient;

  beforeAll(async () => {
    client = (await import(pathToFileURL(ensureCompiledWorker()).href)) as NodeClient;
    // The repo root stands in for web-dist/: the same repo-relative paths the page fetches.
    server = createAppServer(repoRoot);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    appRoot = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  function session(imageName: string | null) {
    const statuses: SessionStatus[] = [];
    let text = '';
    const decoder = new TextDecoder();
    const connections: Array<ReturnType<NodeClient['startNodeVmHost']>> = [];
    const s = new VmSession({
      appRoot,
      imageName,
      connect: () => {
        const c = client.startNodeVmHost();
        connections.push(c);
        return { host: c.host, onError: c.onError, close: () => void c.close() };
      },
      onStatus: (status) => statuses.push(status),
      onConsole: (data) => (text += decoder.decode(data, { stream: true })),
    });
    return {
      session: s,
      statuses,
      text: () => text,
      close: () => Promise.all(connections.map((c) => c.close())),
    };
  }

  it('goes loading → booting → ready for the default image and relays typed input', async () => {
    const page = session(null);
    try {
      await page.session.run();
      await waitUntil(() => page.session.current.phase === 'ready' || page.session.current.phase === 'failed', 'ready');
      expect(page.session.current.phase).toBe('ready');
      expect(page.statuses).toContainEqual(expect.objectContaining({ phase: 'ready', message: 'x86-busybox is running' }));
      await waitUntil(() => page.session.current.message !== 'x86-busybox is running', 'the boot time');
      expect(page.session.current.message).toMatch(/^x86-busybox is running \(shell ready \d+\.\d s after boot\)$/);
      const phases = page.statuses.map((s) => s.phase).filter((p, i, all) => p !== all[i - 1]);
      expect(phases).toEqual(['loading', 'booting', 'ready']);
      const messages = page.statuses.map((s) => s.message);
      expect(messages).toContain('Loading the image list');
      expect(messages).toContain('Loading kernel (images/x86-busybox/bzImage)');
      expect(messages).toContain('Booting x86-busybox');

      const before = page.text().length;
      page.session.sendInput('uname -m\r');
      // A line of its own; late kernel messages may land anywhere around it.
      await waitUntil(() => page.text().slice(before).split(/\r?\n/).includes('i686'), 'the answer to uname -m');
    } finally {
      await page.close();
    }
  });

  it('fails with a message naming an unknown image', async () => {
    const page = session('no-such-image');
    await page.session.run();
    expect(page.session.current.phase).toBe('failed');
    expect(page.session.current.message).toMatch(
      /^Could not start the VM: no image named "no-such-image" in images\/manifest.json \(known: .*x86-busybox.*\)$/,
    );
  });
});
