// QEMU virt's "sifive,test" finisher at 0x10_0000, targeted by Linux's syscon-poweroff/syscon-reboot
// and by OpenSBI's system reset: a write of 0x5555 powers off, 0x7777 reboots, 0x3333 | code << 16
// powers off with a failure code. 16-bit writes count (OpenSBI's sifive_test driver uses writew; QEMU
// accepts 2..4 bytes), and so do 32- and 64-bit ones. Other values are ignored; reads return 0.

import type { MmioDevice } from './bus.js';
import { low32 } from './mmio-bus.js';

export const SYSCON_SIZE = 0x1000;
export const SYSCON_POWEROFF = 0x5555;
export const SYSCON_REBOOT = 0x7777;
export const SYSCON_FAIL = 0x3333;

export interface SysConHandlers {
  poweroff(): void;
  reboot(): void;
  /** Power off reporting failure; `code` is the upper 16 bits the guest wrote. */
  fail(code: number): void;
}

export class SysCon implements MmioDevice {
  readonly size = SYSCON_SIZE;

  constructor(private readonly handlers: SysConHandlers) {}

  read(): number {
    return 0;
  }

  write(offset: number, size: number, value: number | bigint): void {
    if (offset !== 0 || size < 2) return;
    const v = low32(value);
    switch (v & 0xffff) {
      case SYSCON_POWEROFF:
        this.handlers.poweroff();
        break;
      case SYSCON_REBOOT:
        this.handlers.reboot();
        break;
      case SYSCON_FAIL:
        this.handlers.fail(v >>> 16);
        break;
    }
  }

  saveState(): { version: 1 } {
    return { version: 1 };
  }

  loadState(s: object): void {
    if ((s as { version?: unknown }).version !== 1) throw new Error('SysCon: unsupported state version');
  }
}
