// v86's NE2000 keeps received frames in a 32 KiB card memory whose receive ring holds about eight
// full-size frames; a frame that finds the ring full is dropped. Frames from the switch arrive in
// bursts (one sendNet call per turn), so most of a burst was lost and TCP into an x86 guest
// crawled on retransmissions. The pacer holds frames until the ring has room for the next one,
// like the queue of a real NIC's link partner, and is flushed after every v86 tick.
//
// Two things v86's card does not do as the chip does, and the pacer makes up for:
// - The 8390 never lets its write page (CURR) reach the boundary page (BNRY): that is its
//   overflow. v86 takes a frame that fills the ring up to BNRY exactly, after which CURR == BNRY
//   reads as an empty ring and the next frame overwrites unread ones (Linux counts an rx error and
//   drops the ring). The pacer leaves one page free.
// - A frame that lands while the driver finishes its receive pass (after it read CURR, before it
//   acknowledged the receive interrupt) is left in the ring with no interrupt pending. Linux reads
//   it when the next frame's interrupt comes; with the ring full and the pacer holding the next
//   frame, none comes, and the guest never reads again (a TCP stream into it stalled for good).
//   The chip would raise its overflow interrupt then; the pacer raises the receive interrupt.

/** The NE2000 registers v86 keeps (its src/ne2k.js) that say how full the receive ring is. */
export interface Ne2kRing {
  cr: number;
  curpg: number;
  boundary: number;
  pstart: number;
  pstop: number;
  /** Interrupt status; bit 0 is "frame received". */
  isr?: number;
  /** Sets bits in isr and raises the card's IRQ if imr lets them through. */
  do_interrupt?(mask: number): void;
}

const ISR_RX = 1;

/** True when the card can store a frame of `length` bytes now and still keep CURR short of BNRY. */
export function ringHasRoom(card: Ne2kRing, length: number): boolean {
  if (card.cr & 1) return true; // the card is stopped: it drops frames, holding them helps nobody
  if (card.boundary === 0) return true; // not set up yet (v86 stores frames anyway)
  const needed = 1 + ((Math.max(60, length) + 4) >> 8);
  // v86's own count: pages from CURR up to BNRY (all of the ring when they are equal).
  const available = card.boundary > card.curpg
    ? card.boundary - card.curpg
    : card.pstop - card.curpg + card.boundary - card.pstart;
  return available > needed;
}

export class Ne2kPacer {
  private queue: Uint8Array[] = [];
  /** Frames dropped because the queue was full. */
  dropped = 0;
  /** Receive interrupts raised for frames left unread in a full ring. */
  nudges = 0;

  constructor(
    private readonly card: () => Ne2kRing | undefined,
    private readonly deliver: (frame: Uint8Array) => void,
    private readonly maxQueued = 512,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  push(frame: Uint8Array): void {
    if (this.queue.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    this.queue.push(frame);
    this.flush();
  }

  /** Hands the card as many queued frames as its ring takes now. */
  flush(): void {
    while (this.queue.length > 0) {
      const card = this.card();
      if (card && !ringHasRoom(card, this.queue[0]!.length)) {
        // The ring is full, so it holds frames the guest has not read: make sure it is told.
        if (card.isr !== undefined && !(card.isr & ISR_RX) && card.do_interrupt) {
          this.nudges++;
          card.do_interrupt(ISR_RX);
        }
        return;
      }
      this.deliver(this.queue.shift()!);
    }
  }
}
