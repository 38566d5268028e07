// A guest console as a growing string, with waits on it; shared by the QEMU and v86 guests.

export class ConsoleText {
  out = '';
  private waiters: Array<() => void> = [];
  private commands = 0;

  constructor(private readonly write: (text: string) => void) {}

  /** Appends console output. */
  add(text: string): void {
    this.out += text;
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `pattern` appears after offset `from`; rejects after `ms` with the console so far. */
  waitFor(pattern: RegExp, from: number, ms: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.out.slice(from).match(pattern);
        if (!m) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`no ${pattern} within ${ms} ms; console:\n${this.out.slice(-2000)}`));
      }, ms);
      this.waiters.push(check);
      check();
    });
  }

  send(line: string): void {
    this.write(line + '\n');
  }

  /** Runs a shell command and returns its output (CR removed, trimmed), between two markers. */
  async sh(command: string, ms = 60_000): Promise<string> {
    const n = ++this.commands;
    const from = this.out.length;
    // The quotes keep the echoed command line from matching the markers.
    this.send(`echo __b""${n}__; ${command}; echo __e""${n}__`);
    const m = await this.waitFor(new RegExp(`__b${n}__\\r?\\n([\\s\\S]*?)__e${n}__`), from, ms);
    return m[1].replace(/\r/g, '').trim();
  }

  /** Waits for the ready marker and the first prompt after it. */
  async untilShell(marker: string, ms: number): Promise<void> {
    await this.waitFor(new RegExp(`^${marker}\\r?$`, 'm'), 0, ms);
    await this.waitFor(/\/ # /, this.out.indexOf(marker), 30_000);
  }
}
