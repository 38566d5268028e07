// A NIC back end over a TCP stream, as QEMU's `-netdev socket` does it: each Ethernet frame is
// sent as a 4-byte big-endian length and the frame. `tabvisor run --net-listen PORT` on one side
// and `--net-connect HOST:PORT` on the other put two guests on one wire. Node only. Frames sent
// before the peer is there are dropped (like an unplugged cable); a frame length outside
// 14..65535 from the peer ends the connection (it is not speaking this protocol).

import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { NetBackend } from './net.js';

const MAX_FRAME = 65535;
const MIN_FRAME = 14;
/** Bytes queued to the socket at most; past this, frames are dropped (a slow peer cannot grow us). */
const MAX_BUFFERED = 4 << 20;

export class SocketNetBackend implements NetBackend {
  private socket: Socket | undefined;
  private server: Server | undefined;
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private pending: Buffer = Buffer.alloc(0);
  sent = 0;
  received = 0;
  dropped = 0;
  /** Called once when the link is up, and with an error message when it goes down. */
  onStatus: ((up: boolean, message?: string) => void) | undefined;

  /** Waits for one peer on 127.0.0.1:port (0 picks a free port; see `port`). */
  static async listen(port: number, host = '127.0.0.1'): Promise<SocketNetBackend> {
    const b = new SocketNetBackend();
    const server = createServer((socket) => {
      if (b.socket !== undefined) {
        socket.destroy(); // one peer at a time
        return;
      }
      b.attach(socket);
    });
    b.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return b;
  }

  /** Connects to a listening peer; rejects with a one-line message when nobody answers. */
  static async connect(port: number, host = '127.0.0.1'): Promise<SocketNetBackend> {
    const b = new SocketNetBackend();
    await new Promise<void>((resolve, reject) => {
      const socket = createConnection({ port, host }, () => {
        socket.off('error', reject);
        b.attach(socket);
        resolve();
      });
      socket.once('error', (err) => reject(new Error(`cannot connect to ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    });
    return b;
  }

  /** The port a listening back end is bound to. */
  get port(): number | undefined {
    const a = this.server?.address();
    return typeof a === 'object' && a !== null ? a.port : undefined;
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.data(chunk));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.pending = Buffer.alloc(0);
      this.onStatus?.(false, 'peer closed the connection');
    });
    socket.on('error', () => undefined); // 'close' follows
    this.onStatus?.(true);
  }

  private data(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 4) {
      const len = this.pending.readUInt32BE(0);
      if (len < MIN_FRAME || len > MAX_FRAME) {
        this.socket?.destroy();
        return;
      }
      if (this.pending.length < 4 + len) break;
      const frame = new Uint8Array(this.pending.subarray(4, 4 + len));
      this.pending = this.pending.subarray(4 + len);
      this.received++;
      this.receiver?.(frame);
    }
  }

  send(frame: Uint8Array): void {
    const s = this.socket;
    if (s === undefined || frame.length < MIN_FRAME || frame.length > MAX_FRAME || s.writableLength > MAX_BUFFERED) {
      this.dropped++;
      return;
    }
    const head = Buffer.alloc(4);
    head.writeUInt32BE(frame.length, 0);
    s.write(Buffer.concat([head, frame]));
    this.sent++;
  }

  connect(receive: (frame: Uint8Array) => void): void {
    this.receiver = receive;
  }

  close(): void {
    this.socket?.destroy();
    this.server?.close();
    this.socket = undefined;
  }
}
