// The page's small plain helpers: wording, ranges, the shell greeting, the key bar.
import { describe, expect, it } from 'vitest';
import { withCtrl } from '../../src/ui/key-bar.js';
import { pageWording } from '../../src/ui/page-wording.js';
import { budgetProblem, capProblem, weightProblem } from '../../src/ui/schedule-limits.js';
import { greeting, quietCmdline } from '../../src/ui/shell-greeting.js';

describe('page helpers', () => {
  it('says engine refusals without command-line flags', () => {
    expect(pageWording('v86 places the initrd at 64 MiB, so this 2.0 MiB initrd needs --mem 67M or more')).toBe(
      'v86 places the initrd at 64 MiB, so this 2.0 MiB initrd needs at least 67 MiB of memory (Memory field of New VM)',
    );
    expect(pageWording('v86 needs a BIOS (--firmware, e.g. SeaBIOS bios.bin)')).toBe('v86 needs a BIOS (a firmware file, e.g. SeaBIOS bios.bin)');
    expect(pageWording("cannot delete VM 'x': it is running")).toBe("cannot delete VM 'x': it is running");
  });

  it('names the range of weights, caps and budgets', () => {
    expect(weightProblem(1e9)).toBe('Weight must be a number from 0.1 to 100 (got 1000000000)');
    expect(weightProblem(0)).toContain('from 0.1 to 100');
    expect(weightProblem(Number.NaN)).toContain('(got not a number)');
    expect(weightProblem(0.1)).toBeUndefined();
    expect(capProblem(0.5)).toMatch(/^CPU cap must be a percentage from 1 to 100/);
    expect(capProblem(undefined)).toBeUndefined();
    expect(budgetProblem(100.5)).toContain('whole number of MiB from 64 to 4096');
    expect(budgetProblem(1024)).toBeUndefined();
  });

  it('greets a shell only where it cannot split the user\'s command', () => {
    const size = { cols: 80, rows: 24 };
    expect(greeting('template', size, false)).toBe("stty rows 24 cols 80;export COLUMNS=80 LINES=24;printf '\\33[H\\33[J\\33[3J'\r");
    // After a boot the echo follows "/ # ": 4 + 70 characters take 2 rows of 40 columns, 1 of 80.
    expect(greeting('booted', { cols: 40, rows: 20 }, false)).toBe("stty rows 20 cols 40;export COLUMNS=40 LINES=20;printf '\\33[2A\\r\\33[J'\r");
    expect(greeting('booted', size, false)).toContain("printf '\\33[1A\\r\\33[J'");
    expect(`/ # ${greeting('booted', { cols: 999, rows: 999 }, false)}`.length).toBeLessThan(80);
    expect(greeting('booted', undefined, false)).toBeUndefined();
    expect(greeting('work', size, false)).toBe('\x0c');
    expect(greeting('restore', size, false)).toBe('\r');
    for (const arrival of ['booted', 'template', 'work', 'clone', 'import', 'restore'] as const) expect(greeting(arrival, size, true)).toBeUndefined();
  });

  it('adds quiet boot arguments once', () => {
    expect(quietCmdline('console=ttyS0 earlycon=sbi')).toBe('quiet loglevel=3 console=ttyS0 earlycon=sbi');
    expect(quietCmdline('console=ttyS0 loglevel=7')).toBe('console=ttyS0 loglevel=7');
  });

  it('turns a key into its control character after Ctrl on the key bar', () => {
    expect(withCtrl('c')).toBe('\x03');
    expect(withCtrl('D')).toBe('\x04');
    expect(withCtrl('[')).toBe('\x1b');
    expect(withCtrl('1')).toBe('1');
    expect(withCtrl('ab')).toBe('ab');
  });
});
