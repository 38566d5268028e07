// The live-migration conversation between a sending and a receiving VM host, over any channel
// (a MessagePort between two workers, a TCP socket between two processes). The sender asks, the
// receiver answers each message; every refusal is one line and leaves the sender's VM running.
//
//   hello  {engine, format, memoryMiB, state, disk?}   -> ok | refused (engine, format, memory
//          budget; a disk whose files the receiver does not have)
//   pages  {indices, data}  (many, round after round)  -> ok
//   final  {state}  (sent while the source is paused)  -> ok once the target has loaded it
//   commit  -> ok once the target runs (and, with a disk, has opened its files and found them as
//              the final state left them); the source then lets its VM go
//   abort   (the sender gave up: the target drops what it received)

import type { EngineKind } from '../engines/engine.js';
import { PAGE_BYTES, type PageSet } from '../engines/live-state.js';

/** Version of this conversation; a receiver refuses another one. */
export const MIGRATION_FORMAT = 1;

export type MigrationMessage =
  | { t: 'hello'; engine: EngineKind; format: number; memoryMiB: number; name?: string; state: Uint8Array; disk?: HandedOverDiskFiles }
  | { t: 'pages'; indices: Uint32Array; data: Uint8Array }
  | { t: 'final'; state: Uint8Array }
  | { t: 'commit' }
  | { t: 'abort'; message: string };

/**
 * A persistent disk the receiver opens itself (two `tabvisor run` processes on one machine): the
 * files' absolute paths and the sender's pid (it holds the overlay until the move is committed).
 */
export interface HandedOverDiskFiles {
  base: string;
  overlay: string;
  pid: number;
}

export type MigrationReply = { t: 'ok' } | { t: 'refused'; message: string };

/** One side of a message channel: send, and the next message that arrives. */
export interface MigrationChannel<Out, In> {
  send(message: Out): void;
  next(): Promise<In>;
  close(): void;
}

export class MigrationRefused extends Error {
  override name = 'MigrationRefused';
}

/** Sends a message and waits for the answer; a refusal throws MigrationRefused with the receiver's words. */
export async function ask(channel: MigrationChannel<MigrationMessage, MigrationReply>, message: MigrationMessage): Promise<void> {
  channel.send(message);
  const reply = await channel.next();
  if (reply.t === 'refused') throw new MigrationRefused(reply.message);
  if (reply.t !== 'ok') throw new MigrationRefused('the receiver answered something this build does not understand');
}

/** A queue of arriving messages, for channels that push (MessagePort, socket). */
export class Inbox<T> {
  private readonly items: T[] = [];
  private waiters: Array<{ resolve: (v: T) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;

  push(item: T): void {
    const w = this.waiters.shift();
    if (w) w.resolve(item);
    else this.items.push(item);
  }

  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  next(): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
}

/** A MessagePort as a channel (between two workers; the page's and Node's ports alike). */
export function portChannel<Out, In>(port: MessagePort): MigrationChannel<Out, In> {
  const inbox = new Inbox<In>();
  port.onmessage = (event: MessageEvent) => inbox.push(event.data as In);
  return {
    send: (message) => {
      // Only arrays that own their whole buffer are transferred; a view into a bigger one (the
      // sender's page list) is copied, so the sender's array stays usable.
      const m = message as unknown as Partial<Record<'state' | 'data' | 'indices', Uint8Array | Uint32Array>>;
      const transfer = [m.state, m.data, m.indices]
        .filter((x): x is Uint8Array | Uint32Array => x !== undefined && x.byteOffset === 0 && x.byteLength === x.buffer.byteLength)
        .map((x) => x.buffer as ArrayBuffer);
      port.postMessage(message, transfer);
    },
    next: () => inbox.next(),
    close: () => port.close(),
  };
}

/** Refuses a malformed page set (hostile peer) before it reaches an engine. */
export function checkPageMessage(m: { indices: unknown; data: unknown }, ramBytes: number): PageSet {
  const { indices, data } = m;
  if (!(indices instanceof Uint32Array) || !(data instanceof Uint8Array) || data.length !== indices.length * PAGE_BYTES) {
    throw new MigrationRefused('a page message is malformed');
  }
  const count = Math.floor(ramBytes / PAGE_BYTES);
  for (let i = 0; i < indices.length; i++) {
    if (indices[i]! >= count) throw new MigrationRefused(`a page message names page ${indices[i]}, beyond the ${count} pages of RAM`);
  }
  return { indices, data };
}
