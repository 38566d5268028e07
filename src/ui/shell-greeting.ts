// What the page types into a guest's console by itself when a VM arrives at its shell, so that the
// user sees a prompt and the guest knows the terminal's size. The lab consoles are serial lines
// (ttyS0 on both engines): no device tells the guest the size, so the shell is told with stty.
//
// Rules that keep it from getting in the way:
// - Nothing is sent once the user has typed into that console since the VM arrived: their typing
//   already brought a prompt, and our bytes must never land inside their command.
// - A command (stty) is typed only where the shell is known to sit at an empty prompt: right after
//   boot and in a template, which is saved at the prompt of a fresh boot. It is followed by
//   Ctrl+L, which clears the screen and redraws the prompt, so the console shows just a prompt.
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
  return `stty rows ${size.rows} cols ${size.cols}; export COLUMNS=${size.cols} LINES=${size.rows}`;
}

/**
 * The bytes to send when a VM arrived at its shell, or undefined to send nothing. `size` is the
 * console's fitted size (undefined while the panel has not measured it: wait for it).
 */
export function greeting(arrival: Arrival, size: TerminalSize | undefined, userTyped: boolean): string | undefined {
  if (userTyped) return undefined;
  switch (arrival) {
    case 'booted':
    case 'template':
      return size ? `${sizeCommand(size)}\r${REDRAW}` : undefined;
    case 'work':
    case 'clone':
    case 'import':
      return REDRAW;
    case 'restore':
      return '\r';
  }
}

/** True when the greeting for `arrival` must wait for the console's size. */
export function needsSize(arrival: Arrival): boolean {
  return arrival === 'booted' || arrival === 'template';
}

/** The kernel arguments the page adds so that kernel messages do not bury the shell's prompt. */
export const QUIET_BOOT_ARGS = 'quiet loglevel=3';

/** `cmdline` with QUIET_BOOT_ARGS added, unless it already sets the console log level. */
export function quietCmdline(cmdline: string): string {
  if (/(^|\s)(quiet|loglevel=\d)(\s|$)/.test(cmdline)) return cmdline;
  return `${cmdline} ${QUIET_BOOT_ARGS}`.trim();
}
