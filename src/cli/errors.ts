// Errors the command line turns into one stderr line and an exit status (docs/CLI.md).

export const EXIT_POWEROFF = 0;
export const EXIT_TEST_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 3;
export const EXIT_TIMEOUT = 124;

/** Something the user can fix: a bad argument or an unusable input file. Exit status 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
