// The key bar under a console on touch and narrow screens: keys a phone keyboard lacks. Ctrl is
// sticky: it applies to the next key typed on the keyboard (Ctrl, then c = interrupt).

export interface BarKey {
  id: string;
  label: string;
  /** What the key sends to the guest; none for Ctrl, which modifies the next key. */
  data?: string;
  /** Name for screen readers. */
  title: string;
}

export const BAR_KEYS: readonly BarKey[] = [
  { id: 'ctrl', label: 'Ctrl', title: 'Control: applies to the next key you type' },
  { id: 'esc', label: 'Esc', data: '\x1b', title: 'Escape' },
  { id: 'tab', label: 'Tab', data: '\t', title: 'Tab (completes names in the shell)' },
  { id: 'left', label: '←', data: '\x1b[D', title: 'Left arrow' },
  { id: 'up', label: '↑', data: '\x1b[A', title: 'Up arrow (previous command)' },
  { id: 'down', label: '↓', data: '\x1b[B', title: 'Down arrow (next command)' },
  { id: 'right', label: '→', data: '\x1b[C', title: 'Right arrow' },
];

/**
 * What a key typed while Ctrl is held down on the bar sends: a letter or one of @[\]^_ becomes its
 * control character (Ctrl+C = 0x03); anything else is sent as typed.
 */
export function withCtrl(data: string): string {
  if (data.length !== 1) return data;
  const code = data.toUpperCase().charCodeAt(0);
  if (code >= 0x40 && code <= 0x5f) return String.fromCharCode(code - 0x40);
  if (data === '?') return '\x7f';
  return data;
}
