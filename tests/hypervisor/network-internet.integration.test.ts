// A lab with two networks on worker_threads hosts: "lan" has `internet` (a WISP relay on
// loopback, scripts/wisp-relay.mjs, which maps every address to 127.0.0.1 and answers DNS for
// files.test), "closed" has none. The riscv64 VM on lan fetches a host file by name with wget
// (sha256 compared); the one on closed has no default route and cannot reach the same address.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { loadLab, parseLab } from '../../src/hypervisor/lab.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { untilShell } from './support/guest-shell.js';
import { guest, guestAddress } from './support/guest-net.js';
// @ts-expect-error plain JS module
import { startWispRelay } from '../../scripts/wisp-relay.mjs';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };
const FILE = randomBytes(MiB);
const SHA = createHash('sha256').update(FILE).digest('hex');
let hv: Hypervisor;
let relay: Awaited<ReturnType<typeof startWispRelay>>;
let http: Server;
let port: number;

beforeAll(async () => {
  relay = await startWispRelay({ names: { 'files.test': '203.0.113.5' } });
  http = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': FILE.length });
    res.end(FILE);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  port = (http.address() as { port: number }).port;
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({
    images: manifest.images, memoryBudgetBytes: 512 * MiB, poolSize: 2, hosts: nodeWorkerHosts(),
    webSocket: (url) => new WebSocket(url) as never,
  });
  const lab = parseLab({
    format: 'tabvisor-lab/1', name: 'inet', title: 'Internet',
    networks: [{ name: 'lan', subnet: '10.0.3.0/24', internet: relay.url }, { name: 'closed', subnet: '10.0.4.0/24' }],
    vms: [{ name: 'out', image: 'riscv64-busybox', network: 'lan' }, { name: 'in', image: 'riscv64-busybox', network: 'closed' }],
  }, manifest.images);
  const report = await loadLab(hv, lab);
  expect(report.vms.map((v) => [v.name, v.status])).toEqual([['out', 'booted'], ['in', 'booted']]);
  await Promise.all([untilShell(hv, 'out', 180_000), untilShell(hv, 'in', 180_000)]);
  await Promise.all([guestAddress(hv, 'out'), guestAddress(hv, 'in')]);
}, 400_000);

afterAll(async () => {
  await hv?.shutdown();
  await relay?.close();
  http?.close();
});

describe('a lab network with internet through a WISP relay', () => {
  it('fetches 1 MiB from a host server by name, intact', { timeout: 180_000 }, async () => {
    const out = await guest(hv, 'out', `wget -q -O - http://files.test:${port}/big | sha256sum | cut -d" " -f1`, 120_000);
    expect(out).toBe(SHA);
    const net = hv.listNetworks().find((n) => n.name === 'inet.lan');
    expect(net?.internet).toMatchObject({ relay: relay.url, state: 'up' });
    expect(net?.internet?.bytesIn).toBeGreaterThan(MiB);
  });

  it('a network without internet has no route out', { timeout: 120_000 }, async () => {
    expect(await guest(hv, 'in', 'ip route | grep -c default; true')).toBe('0');
    const out = await guest(hv, 'in', `wget -q -T 5 -O /dev/null http://203.0.113.5:${port}/big 2>&1; echo "exit=$?"`);
    expect(out).toMatch(/Network is unreachable/);
    expect(out).toMatch(/exit=1$/);
    expect(hv.listNetworks().find((n) => n.name === 'inet.closed')?.internet).toBeUndefined();
  });
});
