// `tabvisor run --net-relay URL`: a booted guest reaches a host HTTP server through the loopback
// WISP relay (scripts/wisp-relay.mjs maps every destination to 127.0.0.1 and answers DNS for
// files.test), gets a reset when the relay goes away mid-transfer, and bad or dead relays are
// refused with one line.

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDistBuilt } from './build-dist.js';
import { runTabvisor } from './run-tabvisor.js';
// @ts-expect-error plain JS module
import { startWispRelay } from '../../scripts/wisp-relay.mjs';

const FILE = randomBytes(700 * 1024);
const SHA = createHash('sha256').update(FILE).digest('hex');
let dir: string;
let http: Server;
let httpPort: number;
let relay: Awaited<ReturnType<typeof startWispRelay>>;

beforeAll(async () => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tv-relay-'));
  http = createServer((req, res) => {
    if (req.url !== '/file.bin') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': FILE.length, 'content-type': 'application/octet-stream' });
    res.end(FILE);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  httpPort = (http.address() as { port: number }).port;
  relay = await startWispRelay({ names: { 'files.test': '203.0.113.5' } });
});

afterAll(async () => {
  await relay?.close();
  http?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tabvisor run --net-relay', () => {
  it('a riscv64 guest fetches a file by name and by address, intact; ICMP does not leave, the gateway answers ping', async () => {
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--image', 'riscv64-busybox', '--net-relay', relay.url, '--timeout', '240'],
      // wget's progress bar keeps the console busy: the run ends after 2 s of silence once input is done.
      input: `wget -O - http://files.test:${httpPort}/file.bin | sha256sum\n` +
        `wget -O - http://198.51.100.20:${httpPort}/file.bin | sha256sum\n` +
        // Each command prints within 2 s (a run whose input is done ends after 2 s of silence).
        'ping -c 1 -W 3 10.0.2.1 | grep received\nping -c 1 -W 1 198.51.100.20 | grep received\n' +
        'nslookup nothing.test 2>&1 | grep -i -c "can.t\\|NXDOMAIN" && echo NAME-UNKNOWN\npoweroff -f\n',
      guardMs: 300_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const tail = r.stdout.slice(-3000);
    expect(r.stdout.split(SHA).length - 1, tail).toBe(2);
    expect(r.stdout, tail).toContain('1 packets transmitted, 1 packets received');
    expect(r.stdout, tail).toContain('1 packets transmitted, 0 packets received');
    expect(r.stdout, tail).toContain('NAME-UNKNOWN');
    expect(relay.stats.targets).toContain(`tcp:203.0.113.5:${httpPort}`);
    expect(relay.stats.targets).toContain(`tcp:198.51.100.20:${httpPort}`);
  });

  it('an x86 guest fetches the file intact too', async () => {
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--image', 'x86-busybox', '--net-relay', relay.url, '--timeout', '240'],
      input: `wget -O - http://files.test:${httpPort}/file.bin | sha256sum\npoweroff -f\n`,
      guardMs: 300_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout, r.stdout.slice(-2000)).toContain(SHA);
  });

  it('the relay going away mid-transfer resets the guest\'s connection instead of hanging it', async () => {
    const cutting = await startWispRelay({ names: { 'files.test': '203.0.113.5' }, cutAfterBytes: 200 * 1024 });
    try {
      const r = await runTabvisor({
        cwd: dir,
        args: ['run', '--image', 'riscv64-busybox', '--net-relay', cutting.url, '--timeout', '240'],
        input: `wget -O /tmp/f http://files.test:${httpPort}/file.bin; echo "wget-exit=$?"\npoweroff -f\n`,
        guardMs: 300_000,
      });
      expect(r.code, r.stderr).toBe(0);
      // busybox wget says "connection closed prematurely" for a reset during the body too.
      expect(r.stdout).toMatch(/wget: (connection closed prematurely|.*reset by peer)/i);
      expect(r.stdout).toMatch(/wget-exit=1/);
      expect(r.stdout).not.toContain(SHA);
    } finally {
      await cutting.close();
    }
  });

  it('refuses a URL that is not ws:// or wss://, and a relay nobody runs, with one line each', async () => {
    const bad = await runTabvisor({ cwd: dir, args: ['run', '--image', 'riscv64-busybox', '--net-relay', 'http://127.0.0.1/'], input: '' });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tabvisor: --net-relay: a relay URL starts with ws:\/\/ or wss:\/\//)]);
    const dead = await runTabvisor({ cwd: dir, args: ['run', '--image', 'riscv64-busybox', '--net-relay', 'ws://127.0.0.1:1/'], input: '' });
    expect(dead.code).toBe(2);
    expect(dead.stderr.trim().split('\n')).toEqual(['tabvisor: --net-relay: cannot reach the relay ws://127.0.0.1:1/: ECONNREFUSED']);
    const both = await runTabvisor({ cwd: dir, args: ['run', '--image', 'riscv64-busybox', '--net-relay', relay.url, '--net-listen', '9'], input: '' });
    expect(both.code).toBe(2);
    expect(both.stderr.trim().split('\n')).toEqual(['tabvisor: give either --net-listen or --net-relay, not both']);
  });
});
