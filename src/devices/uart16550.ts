// NS16550A UART as on QEMU virt: byte registers (reg-shift 0) at 0x1000_0000, PLIC source 10.
// The subset Linux's 8250 driver and OpenSBI use. Transmission is instantaneous (no baud timing):
// THR is always empty again by the time the guest looks. Host input waits in an unbounded-by-design
// (but capped) queue and is moved into the 16-byte receive FIFO as the guest drains it, so pasted text
// is never lost to overrun.

import { arrayField, boolField, DeviceStateError, intField, intItem } from './state-fields.js';
import type { IrqLine, MmioDevice } from './bus.js';
import type { ConsoleBackend } from './backends/console.js';
import { ByteQueue } from './byte-queue.js';
import { low32 } from './mmio-bus.js';

const IER_RDI = 0x01; // received data available
const IER_THRI = 0x02; // transmitter holding register empty
const IER_RLSI = 0x04; // receiver line status
const IER_MSI = 0x08; // modem status

const IIR_NONE = 0x01;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_TIMEOUT = 0x0c;
const IIR_FIFO_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_BI = 0x10;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const MSR_DCTS = 0x01;
const MSR_DDSR = 0x02;
const MSR_TERI = 0x04;
const MSR_DDCD = 0x08;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;

const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];
/** Host input beyond this is dropped (a runaway paste must not eat host memory). */
const MAX_PENDING_INPUT = 1 << 20;

export interface Uart16550State {
  version: 1;
  ier: number;
  lcr: number;
  mcr: number;
  msr: number;
  scr: number;
  fcr: number;
  dll: number;
  dlm: number;
  lsrErrors: number;
  thrInterruptPending: boolean;
  rxFifo: number[];
  pendingInput: Uint8Array;
}

export class Uart16550 implements MmioDevice {
  readonly size = 0x100;
  private ier = 0;
  private lcr = 0;
  private mcr = MCR_OUT2;
  private msr = MSR_DCD | MSR_DSR | MSR_CTS;
  private scr = 0;
  private fcr = 0;
  private dll = 0x0c; // 9600 baud at 1.8432 MHz, a conventional reset value
  private dlm = 0;
  /** OE and BI, cleared by reading LSR. */
  private lsrErrors = 0;
  /** The THRE interrupt is an event: set when THR empties, cleared by reading IIR or writing THR. */
  private thrInterruptPending = false;
  private rxFifo: number[] = [];
  private pendingInput = new ByteQueue(MAX_PENDING_INPUT);
  private irqLevel = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly backend: ConsoleBackend,
  ) {
    backend.connect?.((data) => this.receive(data));
  }

  /** Power-on state (machine reset). Host input not yet read by the guest is kept. */
  reset(): void {
    this.ier = this.lcr = this.scr = this.fcr = this.lsrErrors = 0;
    this.mcr = MCR_OUT2;
    this.msr = MSR_DCD | MSR_DSR | MSR_CTS;
    this.dll = 0x0c;
    this.dlm = 0;
    this.thrInterruptPending = false;
    // Bytes in the FIFO go back in front of the waiting input.
    const waiting = this.pendingInput.toBytes();
    this.pendingInput.clear();
    this.pendingInput.push(Uint8Array.from(this.rxFifo));
    this.pendingInput.push(waiting);
    this.rxFifo = [];
    this.refill();
    this.update();
  }

  /** Host input (keyboard) for the guest. */
  receive(data: Uint8Array): void {
    this.pendingInput.push(data);
    this.refill();
    this.update();
  }

  /** Host input the guest has not read yet (in the FIFO or waiting for room in it). */
  get inputWaiting(): number {
    return this.rxFifo.length + this.pendingInput.length;
  }

  /** The driver enabled receive interrupts: Linux does so when the port is opened, after emptying the receiver. */
  get receiverEnabled(): boolean {
    return (this.ier & IER_RDI) !== 0;
  }

  private get fifoEnabled(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  private get rxCapacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  /** Moves host input into the receive FIFO while it has room (not in loopback: the line is cut). */
  private refill(): void {
    if (this.mcr & MCR_LOOP) return;
    while (this.rxFifo.length < this.rxCapacity && this.pendingInput.length > 0) {
      this.rxFifo.push(this.pendingInput.shift());
    }
  }

  private interruptId(): number {
    if (this.ier & IER_RLSI && this.lsrErrors & LSR_OE) return IIR_RLSI;
    if (this.ier & IER_RDI && this.rxFifo.length > 0) {
      const trigger = this.fifoEnabled ? TRIGGER_LEVELS[this.fcr >> 6] : 1;
      // Below the trigger level real hardware raises a timeout after 4 character times; we have no
      // character clock, so report the timeout at once (drivers treat both alike: read while DR).
      return this.rxFifo.length >= trigger ? IIR_RDI : IIR_TIMEOUT;
    }
    if (this.ier & IER_THRI && this.thrInterruptPending) return IIR_THRI;
    if (this.ier & IER_MSI && this.msr & 0x0f) return IIR_MSI;
    return IIR_NONE;
  }

  private update(): void {
    const level = this.interruptId() !== IIR_NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  private lsr(): number {
    let v = LSR_THRE | LSR_TEMT | this.lsrErrors;
    if (this.rxFifo.length > 0) v |= LSR_DR;
    return v;
  }

  private updateLoopbackMsr(): void {
    const old = this.msr;
    let status: number;
    if (this.mcr & MCR_LOOP) {
      status =
        (this.mcr & MCR_RTS ? MSR_CTS : 0) |
        (this.mcr & MCR_DTR ? MSR_DSR : 0) |
        (this.mcr & MCR_OUT1 ? MSR_RI : 0) |
        (this.mcr & MCR_OUT2 ? MSR_DCD : 0);
    } else {
      status = MSR_DCD | MSR_DSR | MSR_CTS;
    }
    let delta = old & 0x0f;
    const changed = (old ^ status) & 0xf0;
    if (changed & MSR_CTS) delta |= MSR_DCTS;
    if (changed & MSR_DSR) delta |= MSR_DDSR;
    if (changed & MSR_DCD) delta |= MSR_DDCD;
    if (old & MSR_RI && !(status & MSR_RI)) delta |= MSR_TERI; // trailing edge of RI
    this.msr = status | delta;
  }

  read(offset: number, size: number): number {
    if (size !== 1 || offset >= 8) return 0;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0: {
        if (dlab) return this.dll;
        const byte = this.rxFifo.shift() ?? 0;
        this.refill();
        this.update();
        return byte;
      }
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2: {
        const id = this.interruptId();
        if (id === IIR_THRI) this.thrInterruptPending = false;
        const v = id | (this.fifoEnabled ? IIR_FIFO_ENABLED : 0);
        this.update();
        return v;
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const v = this.lsr();
        this.lsrErrors = 0;
        this.update();
        return v;
      }
      case 6: {
        const v = this.msr;
        this.msr &= 0xf0; // reading MSR clears the delta bits
        this.update();
        return v;
      }
      default:
        return this.scr;
    }
  }

  write(offset: number, size: number, value: number | bigint): void {
    if (size !== 1 || offset >= 8) return;
    const v = low32(value) & 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        if (dlab) {
          this.dll = v;
          return;
        }
        this.transmit(v);
        break;
      case 1: {
        if (dlab) {
          this.dlm = v;
          return;
        }
        const old = this.ier;
        this.ier = v & 0x0f;
        // Enabling THRI while THR is empty raises it at once (the 8250 driver's probe relies on this).
        if (!(old & IER_THRI) && this.ier & IER_THRI) this.thrInterruptPending = true;
        break;
      }
      case 2: {
        const enabling = (v & FCR_ENABLE) !== (this.fcr & FCR_ENABLE);
        if (v & FCR_CLEAR_RX || enabling) {
          this.rxFifo = [];
          this.lsrErrors &= ~LSR_OE;
        }
        // Transmit FIFO is always empty; clearing it is a no-op.
        this.fcr = v & 0xc1;
        this.refill();
        break;
      }
      case 3:
        this.lcr = v;
        return;
      case 4:
        this.mcr = v & 0x1f;
        this.updateLoopbackMsr();
        this.refill();
        break;
      case 5:
      case 6:
        return; // LSR and MSR are read-only here (factory test writes ignored)
      default:
        this.scr = v;
        return;
    }
    this.update();
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) {
      if (this.rxFifo.length < this.rxCapacity) this.rxFifo.push(byte);
      else this.lsrErrors |= LSR_OE;
    } else {
      this.backend.write(Uint8Array.of(byte));
    }
    // The byte left at once: THR is empty again, which is a fresh THRE event.
    this.thrInterruptPending = true;
  }

  saveState(): Uart16550State {
    return {
      version: 1,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      msr: this.msr,
      scr: this.scr,
      fcr: this.fcr,
      dll: this.dll,
      dlm: this.dlm,
      lsrErrors: this.lsrErrors,
      thrInterruptPending: this.thrInterruptPending,
      rxFifo: [...this.rxFifo],
      pendingInput: this.pendingInput.toBytes(),
    };
  }

  /** Loads a saved state; every field must be one this UART can hold (else DeviceStateError, nothing changed). */
  loadState(s: object): void {
    const st = s as Partial<Uart16550State> & Record<string, unknown>;
    if (st.version !== 1) throw new Error(`Uart16550: unsupported state version ${String(st.version)}`);
    const who = 'Uart16550';
    const ier = intField(st, 'ier', 0xff, 0x0f, who);
    const lcr = intField(st, 'lcr', 0xff, 0xff, who);
    const mcr = intField(st, 'mcr', 0xff, 0x1f, who);
    const msr = intField(st, 'msr', 0xff, 0xff, who);
    const scr = intField(st, 'scr', 0xff, 0xff, who);
    const fcr = intField(st, 'fcr', 0xff, 0xc1, who);
    const dll = intField(st, 'dll', 0xff, 0xff, who);
    const dlm = intField(st, 'dlm', 0xff, 0xff, who);
    const lsrErrors = intField(st, 'lsrErrors', 0xff, LSR_OE | LSR_BI, who);
    const thr = boolField(st, 'thrInterruptPending', who);
    const rx = arrayField(st, 'rxFifo', undefined, intItem(0xff, 'UART receive FIFO byte'), who);
    if (rx.length > FIFO_SIZE) throw new DeviceStateError(`${who} state: receive FIFO longer than ${FIFO_SIZE}`);
    if (st.pendingInput !== undefined && !(st.pendingInput instanceof Uint8Array)) throw new DeviceStateError(`${who} state: bad pendingInput`);
    this.ier = ier;
    this.lcr = lcr;
    this.mcr = mcr;
    this.msr = msr;
    this.scr = scr;
    this.fcr = fcr;
    this.dll = dll;
    this.dlm = dlm;
    this.lsrErrors = lsrErrors;
    this.thrInterruptPending = thr;
    this.rxFifo = rx;
    this.pendingInput.clear();
    if (st.pendingInput instanceof Uint8Array) this.pendingInput.push(st.pendingInput);
    this.irqLevel = this.interruptId() !== IIR_NONE;
    this.irq.set(this.irqLevel);
  }
}
