// A WISP client: many TCP and UDP streams over one WebSocket to a relay (framing in
// wisp-frames.ts). Streams may be opened before the WebSocket is up; their packets wait. Flow
// control: a TCP stream may have as many DATA packets outstanding as the relay's last CONTINUE
// said (the stream-0 CONTINUE at the start sets every stream's count); what does not fit waits
// in the stream and goes out, merged into larger packets, when the next CONTINUE comes. The relay
// has no way to slow us down in the other direction, so a client that cannot keep up pauses
// reading the WebSocket (Node's `ws` can; a browser WebSocket cannot) — see pauseReceiving.
// The WebSocket comes from a factory: the platform's in a browser, the `ws` package in Node 20.

import { CLOSE, CloseReason, CONNECT, CONTINUE, DATA, decodePacket, encodeClose, encodeConnect, encodeData, STREAM_TCP, STREAM_UDP } from './wisp-frames.js';

/** What we need of a WebSocket (the browser's and `ws`'s both have it). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: { message?: string; error?: unknown }) => void) | null;
  /** `ws` only: stop and restart reading the socket. */
  pause?(): void;
  resume?(): void;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

/** The platform WebSocket (browsers, Node 22+), if there is one. */
export function platformWebSocket(): WebSocketFactory | undefined {
  const WS = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  return WS === undefined ? undefined : (url) => new WS(url);
}

/** A relay URL must be ws:// or wss:// with a host; returns a one-line reason when it is not. */
export function checkRelayUrl(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return `not a URL: ${JSON.stringify(text)} (a relay URL looks like wss://relay.example/)`;
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return `a relay URL starts with ws:// or wss:// (got ${JSON.stringify(text)})`;
  if (u.hostname === '') return `a relay URL needs a host (got ${JSON.stringify(text)})`;
  return undefined;
}

/** Largest DATA packet we send (queued bytes are merged up to this). */
const MAX_DATA = 65536;

export interface StreamHandlers {
  /** Bytes from the far end (one datagram for UDP). */
  data(bytes: Uint8Array): void;
  /** The stream ended: by the relay (its reason), or because the WebSocket went away (networkError). */
  close(reason: number): void;
  /** Queued bytes went out (credit came back). */
  drained?(): void;
}

export class WispStream {
  /** DATA packets the relay still takes before the next CONTINUE (TCP). */
  credit: number;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  closed = false;

  constructor(readonly client: WispClient, readonly id: number, readonly type: 'tcp' | 'udp', readonly handlers: StreamHandlers, credit: number) {
    this.credit = credit;
  }

  /** Bytes waiting for credit. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Sends bytes (TCP: as credit allows, the rest later; UDP: one datagram now). */
  send(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    if (this.type === 'udp') {
      this.client.sendPacket(encodeData(this.id, bytes));
      return;
    }
    this.queue.push(bytes.slice());
    this.queuedBytes += bytes.length;
    this.flush();
  }

  /** Sends what credit allows; called again on CONTINUE and when the WebSocket opens. */
  flush(): void {
    if (!this.client.isOpen || this.closed) return;
    const had = this.queuedBytes;
    while (this.queuedBytes > 0 && this.credit > 0) {
      const size = Math.min(MAX_DATA, this.queuedBytes);
      const out = new Uint8Array(size);
      let at = 0;
      while (at < size) {
        const head = this.queue[0];
        const take = Math.min(head.length, size - at);
        out.set(head.subarray(0, take), at);
        at += take;
        if (take === head.length) this.queue.shift();
        else this.queue[0] = head.subarray(take);
      }
      this.queuedBytes -= size;
      this.credit--;
      this.client.sendPacket(encodeData(this.id, out));
    }
    if (had > 0 && this.queuedBytes < had) this.handlers.drained?.();
  }

  /** Ends the stream from our side (the relay is told; no close() callback follows). */
  close(reason: number = CloseReason.voluntary): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.client.forget(this.id, reason);
  }

  /** From the client: the relay or the connection ended the stream. */
  ended(reason: number): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.handlers.close(reason);
  }
}

export class WispClient {
  private readonly socket: WebSocketLike;
  private readonly streams = new Map<number, WispStream>();
  private nextId = 1;
  /** Packets sent before the WebSocket opened. */
  private early: Uint8Array[] = [];
  /** The relay's starting credit per stream (its stream-0 CONTINUE). */
  private initialCredit = 0;
  private opened = false;
  private hello = false;
  /** Why the connection is gone (undefined while it is up or coming up). */
  failure: string | undefined;
  /** Resolves once the relay said hello (its first CONTINUE); rejects with a one-line message. */
  readonly ready: Promise<void>;
  /** Called once when the connection ends, with a one-line reason. */
  onClose: ((message: string) => void) | undefined;
  bytesIn = 0;
  bytesOut = 0;

  constructor(readonly url: string, factory: WebSocketFactory) {
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => undefined); // a caller that never asked is not an unhandled rejection
    this.readyHooks = { resolve: resolveReady, reject: rejectReady };
    let ws: WebSocketLike;
    try {
      ws = factory(url);
    } catch (e) {
      this.socket = { binaryType: '', readyState: 3, send() {}, close() {}, onopen: null, onmessage: null, onclose: null, onerror: null };
      queueMicrotask(() => this.fail(`cannot open ${url}: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    this.socket = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      this.opened = true;
      for (const p of this.early) this.rawSend(p);
      this.early = [];
    };
    ws.onmessage = (ev) => this.message(ev.data);
    ws.onerror = (ev) => {
      const err = ev.error as NodeJS.ErrnoException | undefined;
      this.lastError = err?.code ?? err?.message ?? ev.message;
    };
    ws.onclose = (ev) => {
      const why = this.lastError ?? (ev.code !== undefined && ev.code !== 1000 && ev.code !== 1005 ? `code ${ev.code}${ev.reason ? ` ${ev.reason}` : ''}` : undefined);
      this.fail(this.hello ? `the relay ${url} closed the connection${why ? ` (${why})` : ''}` : `cannot reach the relay ${url}${why ? `: ${why}` : ''}`);
    };
  }

  private readonly readyHooks: { resolve: () => void; reject: (e: Error) => void };
  private lastError: string | undefined;

  get isOpen(): boolean {
    return this.opened && this.failure === undefined;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Opens a stream to host:port through the relay (may be called before the WebSocket is up). */
  open(type: 'tcp' | 'udp', host: string, port: number, handlers: StreamHandlers): WispStream {
    const id = this.nextId++;
    const stream = new WispStream(this, id, type, handlers, this.initialCredit);
    if (this.failure !== undefined) {
      queueMicrotask(() => stream.ended(CloseReason.networkError));
      return stream;
    }
    this.streams.set(id, stream);
    this.sendPacket(encodeConnect(id, type === 'tcp' ? STREAM_TCP : STREAM_UDP, port, host));
    return stream;
  }

  /** Stops (true) or restarts reading from the relay, where the WebSocket can; says whether it could. */
  pauseReceiving(paused: boolean): boolean {
    if (this.socket.pause === undefined || this.socket.resume === undefined) return false;
    if (paused) this.socket.pause();
    else this.socket.resume();
    return true;
  }

  /** Closes the WebSocket; every open stream ends with networkError. */
  close(): void {
    this.fail('closed');
    try {
      this.socket.close(1000);
    } catch {
      // already closing
    }
  }

  /** @internal */
  sendPacket(p: Uint8Array): void {
    if (this.failure !== undefined) return;
    if (!this.opened) this.early.push(p);
    else this.rawSend(p);
  }

  /** @internal a stream closed from our side */
  forget(id: number, reason: number): void {
    if (this.streams.delete(id)) this.sendPacket(encodeClose(id, reason));
  }

  private rawSend(p: Uint8Array): void {
    this.bytesOut += p.length;
    try {
      this.socket.send(p);
    } catch (e) {
      this.fail(`sending to the relay failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private message(data: unknown): void {
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return this.protocolError('a text message (WISP is binary)');
    this.bytesIn += bytes.length;
    const p = decodePacket(bytes);
    if (typeof p === 'string') return this.protocolError(p);
    if (p.type === CONTINUE) {
      if (p.stream === 0) {
        this.initialCredit = p.remaining;
        if (!this.hello) {
          this.hello = true;
          for (const s of this.streams.values()) s.credit = p.remaining;
          this.readyHooks.resolve();
          for (const s of [...this.streams.values()]) s.flush();
        }
        return;
      }
      const s = this.streams.get(p.stream);
      if (s) {
        s.credit = p.remaining;
        s.flush();
      }
      return;
    }
    if (p.type === DATA) {
      this.streams.get(p.stream)?.handlers.data(p.data.slice());
      return;
    }
    if (p.type === CLOSE) {
      const s = this.streams.get(p.stream);
      if (s) {
        this.streams.delete(p.stream);
        s.ended(p.reason);
      }
      return;
    }
    if (p.type === CONNECT) return this.protocolError('the relay sent a CONNECT packet');
  }

  private protocolError(what: string): void {
    this.fail(`the relay ${this.url} broke the WISP protocol: ${what}`);
    try {
      this.socket.close(1002);
    } catch {
      // already closing
    }
  }

  private fail(message: string): void {
    if (this.failure !== undefined) return;
    this.failure = message;
    this.readyHooks.reject(new Error(message));
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const s of streams) s.ended(CloseReason.networkError);
    this.onClose?.(message);
  }
}
