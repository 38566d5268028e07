// Collects a host's events and delivers them to subscribers in batches. A guest writes its console
// a byte at a time; one message per byte would flood the channel between threads, so bytes that
// arrive in the same turn of the event loop travel together, in order with the other events.
import type { VmEvent, VmEventListener } from './protocol.js';

export class EventOutbox {
  private readonly listeners = new Map<number, VmEventListener>();
  private nextId = 1;
  private queue: VmEvent[] = [];
  /** Console bytes of the VM whose console event ends the queue, not yet copied into it. */
  private pendingConsole: { vmId: string; chunks: Uint8Array[]; length: number } | null = null;
  private scheduled = false;

  subscribe(listener: VmEventListener): number {
    const id = this.nextId++;
    this.listeners.set(id, listener);
    return id;
  }

  unsubscribe(id: number): boolean {
    return this.listeners.delete(id);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  post(event: VmEvent): void {
    if (this.listeners.size === 0) return;
    if (event.kind === 'console') {
      if (this.pendingConsole && this.pendingConsole.vmId !== event.vmId) this.sealConsole();
      // Copy: the engine may reuse its buffer after the listener returns.
      const copy = event.data.slice();
      if (!this.pendingConsole) this.pendingConsole = { vmId: event.vmId, chunks: [], length: 0 };
      this.pendingConsole.chunks.push(copy);
      this.pendingConsole.length += copy.length;
    } else {
      this.sealConsole();
      this.queue.push(event);
    }
    this.schedule();
  }

  /** Delivers everything queued now (also used before answering a call that must see prior output). */
  flush(): void {
    this.scheduled = false;
    this.sealConsole();
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    for (const [id, listener] of this.listeners) {
      try {
        const result = listener(batch);
        if (result && typeof (result as Promise<void>).catch === 'function') {
          // A client that went away (closed tab, released proxy) stops receiving events.
          (result as Promise<void>).catch(() => this.listeners.delete(id));
        }
      } catch {
        this.listeners.delete(id);
      }
    }
  }

  private sealConsole(): void {
    const p = this.pendingConsole;
    if (!p) return;
    this.pendingConsole = null;
    const data = new Uint8Array(p.length);
    let at = 0;
    for (const c of p.chunks) {
      data.set(c, at);
      at += c.length;
    }
    this.queue.push({ kind: 'console', vmId: p.vmId, data });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.flush(), 0);
  }
}
