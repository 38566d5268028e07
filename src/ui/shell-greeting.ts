// What the page types into a guest's console by itself when a VM arrives at its shell, so that the
// user sees a prompt and the guest knows the terminal's size. The lab consoles are serial lines
// (ttyS0 on both engines): no device tells the guest the size, so the shell is told with stty.
//
// Rules that keep it from getting in the way:
// - Nothing is sent once the user has typed into that console since the VM arrived: their typing
//   already brought a prompt, and our bytes must never land inside their command.
// - A command (stty) is typed only where the shell is known to sit at an empty prompt: right after
//   boot (once the prompt is out) and in a template, which is saved at the prompt of a fresh boot.
//   The command ends by erasing its own echo, so the console shows a prompt and nothing of it:
//   after a boot, cursor up over the rows of the echo and clear below (the boot log and the page's
//   notes above stay); in a restored template, whose console was blank, clear the whole screen
//   and the scrollback (the seed's command typed before the greeting would linger there).
//   It is kept under 80 columns: BusyBox's line editor breaks longer lines itself (at 80 columns
//   while the tty has no size yet), which would make the rows of the echo hard to count.
// - Where the shell may hold a half-typed line (saved work, a clone, an import), only Ctrl+L is
//   sent: the shell redraws its prompt and that line, and runs nothing.
// - After the user's own Restore, one Enter: the snapshot was taken from the page at a prompt, and
//   the dim note printed before it must stay on screen (Ctrl+L would clear it).

export type Arrival = 'booted' | 'template' | 'work' | 'clone' | 'import' | 'restore';

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** Ctrl+L: BusyBox ash (and most full-screen programs) redraw the screen. */
export const REDRAW = '\x0c';

/** The shell command that gives the tty the terminal's size and sets COLUMNS and LINES. */
export function sizeCommand(size: TerminalSize): string {
  return `stty rows ${size.rows} cols ${size.cols};export COLUMNS=${size.cols} LINES=${size.rows}`;
}

/**
 * The bytes to send when a VM arrived at its shell, or undefined to send nothing. `size` is the
 * console's fitted size (undefined while the panel has not measured it: wait for it).
 */
export function greeting(arrival: Arrival, size: TerminalSize | undefined, userTyped: boolean): string | undefined {
  if (userTyped) return undefined;
  switch (arrival) {
    case 'booted':
      // A fresh boot's prompt is "/ # " (4 columns) and the echo follows it.
      return size ? selfErasing(sizeCommand(size), size.cols, 4) : undefined;
    case 'template':
      // A restored console is blank: the prompt was printed before the snapshot; the echo starts at column 0.
      // Scrollback too: it holds only what the page typed before (the seed's command).
      return size ? `${sizeCommand(size)};printf '\\33[H\\33[J\\33[3J'\r` : undefined;
    case 'work':
    case 'clone':
    case 'import':
      return REDRAW;
    case 'restore':
      return '\r';
  }
}

/**
 * `command` typed with Enter, followed by a printf that moves the cursor back over the rows its echo
 * took (after a prompt of `promptColumns`) and clears from there: the next prompt takes its place.
 */
export function selfErasing(command: string, cols: number, promptColumns: number): string {
  const line = (up: number) => `${command};printf '\\33[${up}A\\r\\33[J'`;
  // The printf's length depends on the count it holds: settle the count (it converges at once).
  let rows = 1;
  for (let i = 0; i < 3; i++) rows = Math.max(1, Math.ceil((promptColumns + line(rows).length) / Math.max(1, cols)));
  return `${line(rows)}\r`;
}

/** True when the greeting for `arrival` must wait for the console's size. */
export function needsSize(arrival: Arrival): boolean {
  return arrival === 'booted' || arrival === 'template';
}

/** The kernel arguments the page adds so that kernel messages do not bury the shell's prompt. */
export const QUIET_BOOT_ARGS = 'quiet loglevel=3';

/**
 * `cmdline` with QUIET_BOOT_ARGS put first, unless it already sets the console log level. First,
 * because Linux reads early parameters in order: after `earlycon=` the boot console would already
 * have printed the early messages at the default level.
 */
export function quietCmdline(cmdline: string): string {
  if (/(^|\s)(quiet|loglevel=\d)(\s|$)/.test(cmdline)) return cmdline;
  return `${QUIET_BOOT_ARGS} ${cmdline}`.trim();
}

/**
 * Per VM: where its shell arrived, the console's size and whether the user typed since; sends the
 * greeting through `send` as soon as it can, once.
 */
export class ShellGreeter {
  private readonly sizes = new Map<string, TerminalSize>();
  private readonly arrivals = new Map<string, Arrival>();
  private readonly typed = new Set<string>();

  constructor(private readonly send: (vmId: string, bytes: string) => void) {}

  /** The VM is about to arrive (a boot's ready marker): typing from now on cancels the greeting. */
  expect(vmId: string): void {
    this.typed.delete(vmId);
  }

  /** The VM's shell is (again) at its prompt; `fresh` unless expect() already started the watch. */
  arrive(vmId: string, arrival: Arrival, fresh = true): void {
    if (fresh) this.typed.delete(vmId);
    this.arrivals.set(vmId, arrival);
    this.greet(vmId);
  }

  /** The user typed into the VM's console. */
  userTyped(vmId: string): void {
    this.arrivals.delete(vmId);
    this.typed.add(vmId);
  }

  resized(vmId: string, size: TerminalSize): void {
    this.sizes.set(vmId, size);
    this.greet(vmId);
  }

  forget(vmId: string): void {
    this.sizes.delete(vmId);
    this.arrivals.delete(vmId);
    this.typed.delete(vmId);
  }

  private greet(vmId: string): void {
    const arrival = this.arrivals.get(vmId);
    if (!arrival) return;
    const size = this.sizes.get(vmId);
    if (needsSize(arrival) && !size) return;
    this.arrivals.delete(vmId);
    const bytes = greeting(arrival, size, this.typed.has(vmId));
    if (bytes) this.send(vmId, bytes);
  }
}
