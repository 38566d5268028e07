// The `--migrate-listen` side refuses a sender's disk it cannot take over, with one line, before
// it builds anything (a sender on another machine, a moved or deleted file), and waits for the
// next sender. No guest runs: a scripted sender speaks the conversation over loopback TCP.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeAssetLoader } from '../../src/engines/assets-node.js';
import { receiveMigration } from '../../src/cli/migrate.js';
import { MIGRATION_FORMAT, type MigrationMessage, type MigrationReply } from '../../src/snapshot/migration-stream.js';
import { socketChannel } from '../../src/snapshot/socket-channel.js';
import { freePort } from './run-tabvisor.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tv-migrate-refusal-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function helloReply(port: number, disk: { base: string; overlay: string; pid: number }): Promise<MigrationReply> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const channel = socketChannel<MigrationMessage, MigrationReply>(socket, 1024);
  channel.send({ t: 'hello', engine: 'rv64', format: MIGRATION_FORMAT, memoryMiB: 64, state: new Uint8Array(16), disk });
  const reply = await channel.next();
  socket.destroy();
  return reply;
}

describe('--migrate-listen and a sender disk it cannot take over', () => {
  it('refuses a missing overlay, a missing base and a relative path with one line each, and keeps listening', async () => {
    const base = join(dir, 'base.img');
    writeFileSync(base, new Uint8Array(4096));
    const port = await freePort();
    let listening!: () => void;
    const ready = new Promise<void>((r) => { listening = r; });
    const received = receiveMigration(port, { maxMemoryMiB: 128, assets: new NodeAssetLoader(), onListening: () => listening() });
    received.catch(() => undefined);
    await ready;
    const gone = join(dir, 'gone.tvoverlay');
    expect(await helloReply(port, { base, overlay: gone, pid: process.pid })).toEqual({
      t: 'refused', message: `the sender's disk overlay ${gone} is not on this machine`,
    });
    expect(await helloReply(port, { base: join(dir, 'no-base.img'), overlay: gone, pid: process.pid })).toEqual({
      t: 'refused', message: `the sender's disk ${join(dir, 'no-base.img')} is not on this machine`,
    });
    expect(await helloReply(port, { base: 'base.img', overlay: gone, pid: process.pid })).toEqual({
      t: 'refused', message: 'the sender named a disk that is not an absolute path',
    });
  });
});
