// The WISP client against the loopback test relay (scripts/wisp-relay.mjs): TCP streams with
// flow control, refusals, DNS over a UDP stream, and the relay going away.

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { checkRelayUrl, WispClient, type WebSocketFactory } from '../../src/devices/backends/wisp-client.js';
import { CloseReason, decodePacket, encodeConnect } from '../../src/devices/backends/wisp-frames.js';
// @ts-expect-error plain JS module
import { startWispRelay } from '../../scripts/wisp-relay.mjs';

const factory: WebSocketFactory = (url) => new WebSocket(url) as never;

let relay: Awaited<ReturnType<typeof startWispRelay>>;
let echo: Server;
let echoPort: number;
let freePort: number;

beforeAll(async () => {
  relay = await startWispRelay({ names: { 'files.test': '203.0.113.7' }, buffer: 8 });
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as { port: number }).port;
  const tmp = createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', () => r()));
  freePort = (tmp.address() as { port: number }).port;
  await new Promise((r) => tmp.close(r));
});

afterAll(async () => {
  await relay.close();
  echo.close();
});

function collect(client: WispClient, type: 'tcp' | 'udp', host: string, port: number) {
  const got: Uint8Array[] = [];
  let closed: number | undefined;
  let onEnd: () => void = () => undefined;
  const ended = new Promise<void>((r) => (onEnd = r));
  const stream = client.open(type, host, port, {
    data: (b) => got.push(b),
    close: (reason) => {
      closed = reason;
      onEnd();
    },
  });
  return { stream, got, bytes: () => Buffer.concat(got), closed: () => closed, ended };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('WISP frames', () => {
  it('encodes CONNECT with a little-endian port and the host name, and decodes it back', () => {
    const p = encodeConnect(0x01020304, 1, 8080, 'files.test');
    expect([...p.subarray(0, 8)]).toEqual([1, 4, 3, 2, 1, 1, 0x90, 0x1f]);
    expect(decodePacket(p)).toEqual({ type: 1, stream: 0x01020304, streamType: 1, port: 8080, host: 'files.test' });
    expect(decodePacket(Uint8Array.of(2, 0, 0))).toMatch(/shorter than a WISP header/);
    expect(decodePacket(Uint8Array.of(9, 0, 0, 0, 0))).toMatch(/unknown WISP packet type 9/);
  });

  it('takes ws:// and wss:// relay URLs only', () => {
    expect(checkRelayUrl('wss://relay.example/')).toBeUndefined();
    expect(checkRelayUrl('ws://127.0.0.1:9000/wisp/')).toBeUndefined();
    expect(checkRelayUrl('http://relay.example/')).toMatch(/starts with ws:\/\/ or wss:\/\//);
    expect(checkRelayUrl('relay')).toMatch(/not a URL/);
  });
});

describe('WispClient', () => {
  it('carries 2 MiB each way on a TCP stream within the relay\'s CONTINUE credit', async () => {
    const client = new WispClient(relay.url, factory);
    const s = collect(client, 'tcp', 'example.org', echoPort); // opened before the socket is up
    await client.ready;
    const data = randomBytes(2 << 20);
    for (let at = 0; at < data.length; at += 1460) s.stream.send(data.subarray(at, at + 1460));
    expect(s.stream.credit).toBeLessThanOrEqual(8);
    await until(() => s.bytes().length >= data.length);
    expect(createHash('sha256').update(s.bytes()).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(relay.stats.targets).toContain(`tcp:example.org:${echoPort}`);
    s.stream.close();
    client.close();
  });

  it('ends a stream to a port nobody listens on with "refused"', async () => {
    const client = new WispClient(relay.url, factory);
    const s = collect(client, 'tcp', '198.51.100.1', freePort);
    await s.ended;
    expect(s.closed()).toBe(CloseReason.refused);
    client.close();
  });

  it('asks DNS over a UDP stream', async () => {
    const client = new WispClient(relay.url, factory);
    const s = collect(client, 'udp', '1.1.1.1', 53);
    const q = Buffer.from('1234010000010000000000000566696c657304746573740000010001', 'hex'); // "files.test" A
    s.stream.send(q);
    await until(() => s.got.length > 0);
    const a = Buffer.from(s.got[0]);
    expect(a.readUInt16BE(0)).toBe(0x1234);
    expect([...a.subarray(a.length - 4)]).toEqual([203, 0, 113, 7]);
    client.close();
  });

  it('rejects ready with one line when no relay listens, and ends streams opened meanwhile', async () => {
    const client = new WispClient(`ws://127.0.0.1:${freePort}/`, factory);
    const s = collect(client, 'tcp', 'example.org', 80);
    await expect(client.ready).rejects.toThrow(new RegExp(`^cannot reach the relay ws://127\\.0\\.0\\.1:${freePort}/: ECONNREFUSED$`));
    await s.ended;
    expect(s.closed()).toBe(CloseReason.networkError);
  });

  it('ends every stream when the relay drops the connection', async () => {
    const client = new WispClient(relay.url, factory);
    let message = '';
    client.onClose = (m) => (message = m);
    const s = collect(client, 'tcp', 'example.org', echoPort);
    await client.ready;
    relay.dropConnections();
    await s.ended;
    expect(s.closed()).toBe(CloseReason.networkError);
    expect(message).toMatch(/closed the connection/);
  });
});
