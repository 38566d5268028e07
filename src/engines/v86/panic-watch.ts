// An x86 Linux guest that panics spins forever (panic=0) with the CPU still running, so v86 never
// stops on its own. The last line panic() prints is "---[ end Kernel panic - not syncing: WHY ]---".
// This finds that line; the engine calls it a crash once the guest then runs on without printing
// anything more (a shell that only echoed the words prints its prompt next).

const END_MARK = '---[ end Kernel panic - not syncing: ';
const CLOSE_MARK = ' ]---';
/** The tail kept between bytes: enough for the end line of any panic reason. */
const MAX_TAIL = 512;

export class PanicWatch {
  private tail = '';

  /** Feeds one console byte; returns the panic reason once the end line is complete. */
  byte(b: number): string | undefined {
    if (b === 0x0a) {
      const line = this.tail;
      this.tail = '';
      const at = line.indexOf(END_MARK);
      if (at < 0) return undefined;
      const rest = line.slice(at + END_MARK.length).replace(/\r$/, '');
      const close = rest.lastIndexOf(CLOSE_MARK);
      return close >= 0 ? rest.slice(0, close) : rest;
    }
    if (this.tail.length < MAX_TAIL) this.tail += String.fromCharCode(b);
    return undefined;
  }
}
