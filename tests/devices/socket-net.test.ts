// Two NIC back ends over a loopback TCP connection (QEMU's socket netdev framing).

import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SocketNetBackend } from '../../src/devices/backends/socket-net.js';

function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => (cond() ? resolve() : Date.now() > end ? reject(new Error('condition not met')) : setTimeout(tick, 5));
    tick();
  });
}

describe('SocketNetBackend', () => {
  it('carries frames both ways, split and joined across TCP segments', async () => {
    const a = await SocketNetBackend.listen(0);
    const b = await SocketNetBackend.connect(a.port!);
    const gotA: Uint8Array[] = [];
    const gotB: Uint8Array[] = [];
    a.connect((f) => gotA.push(f));
    b.connect((f) => gotB.push(f));
    await until(() => a.connected);
    const frames = Array.from({ length: 50 }, (_, i) => Uint8Array.from({ length: 60 + i * 29 }, (_, k) => (k + i) & 255));
    for (const f of frames) b.send(f);
    a.send(frames[3]);
    await until(() => gotA.length === 50 && gotB.length === 1);
    expect(gotA).toEqual(frames);
    expect(gotB[0]).toEqual(frames[3]);
    a.close();
    b.close();
  });

  it('drops frames with no peer, refuses a second peer, and hangs up on a bad length', async () => {
    const a = await SocketNetBackend.listen(0);
    a.send(new Uint8Array(60));
    expect(a.dropped).toBe(1);
    const b = await SocketNetBackend.connect(a.port!);
    await until(() => a.connected);
    const third = createConnection({ port: a.port!, host: '127.0.0.1' });
    await new Promise((r) => third.on('close', r));
    // A peer that sends a length of 3 is not speaking the protocol: the link goes down.
    const status: boolean[] = [];
    a.onStatus = (up) => status.push(up);
    (b as unknown as { socket: import('node:net').Socket }).socket.write(Buffer.from([0, 0, 0, 3, 1, 2, 3]));
    await until(() => !a.connected);
    expect(status).toEqual([false]);
    await expect(SocketNetBackend.connect(1, '127.0.0.1')).rejects.toThrow(/cannot connect to 127.0.0.1:1/);
    a.close();
    b.close();
  });
});
