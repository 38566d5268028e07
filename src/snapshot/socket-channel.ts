// The migration conversation (migration-stream.ts) over a TCP socket between two processes.
// Frame: u32 length of a JSON header, the header ({ ...fields, bins: [[name, kind, length]] }),
// then each binary field's bytes. Every length is checked against limits before anything is
// allocated: a hostile peer gets a refusal, not a crash or a huge allocation.

import type { Socket } from 'node:net';
import { Inbox, MigrationRefused, type MigrationChannel } from './migration-stream.js';

const MAX_HEADER_BYTES = 64 * 1024;

type BinKind = 'u8' | 'u32';

export function socketChannel<Out extends object, In>(socket: Socket, maxBinaryBytes: number): MigrationChannel<Out, In> {
  const inbox = new Inbox<In>();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let need: { header?: Record<string, unknown> & { bins: Array<[string, BinKind, number]> } } = {};
  const take = (n: number): Buffer => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    pending = rest.length > 0 ? [rest] : [];
    pendingBytes = rest.length;
    return out;
  };
  const fail = (message: string): void => {
    inbox.fail(new MigrationRefused(message));
    socket.destroy();
  };
  const parse = (): void => {
    for (;;) {
      if (!need.header) {
        if (pendingBytes < 4) return;
        const len = take(4).readUInt32LE(0);
        if (len > MAX_HEADER_BYTES) return fail(`the peer sent a ${len}-byte message header (at most ${MAX_HEADER_BYTES})`);
        if (pendingBytes < len) {
          // put the length back until the header is complete
          pending.unshift(Buffer.from(new Uint32Array([len]).buffer));
          pendingBytes += 4;
          return;
        }
        let header: unknown;
        try {
          header = JSON.parse(take(len).toString('utf8'));
        } catch {
          return fail('the peer sent a malformed message header');
        }
        const h = header as { bins?: unknown };
        if (typeof header !== 'object' || header === null || !Array.isArray(h.bins) ||
            !h.bins.every((b: unknown) => Array.isArray(b) && typeof b[0] === 'string' && (b[1] === 'u8' || b[1] === 'u32') &&
              Number.isSafeInteger(b[2]) && (b[2] as number) >= 0 && (b[1] === 'u8' || (b[2] as number) % 4 === 0))) {
          return fail('the peer sent a malformed message header');
        }
        const total = (h.bins as Array<[string, BinKind, number]>).reduce((n, b) => n + b[2], 0);
        if (total > maxBinaryBytes) return fail(`the peer sent a message of ${total} bytes, more than the ${maxBinaryBytes} this side takes`);
        need = { header: header as unknown as NonNullable<typeof need.header> };
      }
      const header = need.header!;
      const total = header.bins.reduce((n, b) => n + b[2], 0);
      if (pendingBytes < total) return;
      const body = take(total);
      const message: Record<string, unknown> = { ...header };
      delete message.bins;
      let at = 0;
      for (const [name, kind, length] of header.bins) {
        const bytes = new Uint8Array(length);
        bytes.set(body.subarray(at, at + length));
        at += length;
        message[name] = kind === 'u32' ? new Uint32Array(bytes.buffer) : bytes;
      }
      need = {};
      inbox.push(message as In);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    parse();
  });
  socket.on('error', (e) => inbox.fail(new MigrationRefused(`the connection failed: ${e.message}`)));
  socket.on('close', () => inbox.fail(new MigrationRefused('the peer closed the connection')));
  return {
    send: (message) => {
      const fields: Record<string, unknown> = {};
      const bins: Array<[string, BinKind, number]> = [];
      const parts: Uint8Array[] = [];
      for (const [k, v] of Object.entries(message)) {
        if (v instanceof Uint8Array || v instanceof Uint32Array) {
          bins.push([k, v instanceof Uint32Array ? 'u32' : 'u8', v.byteLength]);
          parts.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        } else {
          fields[k] = v;
        }
      }
      const header = Buffer.from(JSON.stringify({ ...fields, bins }), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(header.length, 0);
      socket.write(len);
      socket.write(header);
      for (const p of parts) socket.write(p);
    },
    next: () => inbox.next(),
    close: () => socket.end(),
  };
}
