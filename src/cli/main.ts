// `tabvisor` entry point (bin/tabvisor.js imports this). A thin layer: parse, dispatch, and turn
// every failure into one stderr line and an exit status. No stack traces reach the user.

import { parseArgs } from './args.js';
import { EXIT_INTERNAL, EXIT_USAGE, UsageError } from './errors.js';
import { MAIN_HELP, RUN_HELP } from './help.js';
import { formatImageTable, loadManifest } from './manifest.js';
import { runCommand } from './run.js';
import { gradeCommand } from './grade.js';
import { NodeAssetLoader } from '../engines/assets-node.js';
import { EngineConfigError } from '../engines/create.js';
import { SnapshotFormatError } from '../snapshot/format.js';
import { InputFileError, OutputFileError, SnapshotFileError } from '../snapshot/node-file.js';
import { DiskFileError } from '../devices/backends/file-disk.js';
import { installStopSignals, requestStop } from './signals.js';
import { TABVISOR_VERSION } from '../snapshot/version.js';
import { HandInError } from '../hypervisor/hand-in.js';
import { HypervisorError } from '../hypervisor/errors.js';

let exiting = false;

/** Writes the last words and ends the process once stdout and stderr have taken them. */
function exit(code: number, message?: string): void {
  if (exiting) return;
  exiting = true;
  if (message) process.stderr.write(`tabvisor: ${message}\n`);
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

function fail(err: unknown): void {
  if (err instanceof UsageError || err instanceof EngineConfigError || err instanceof SnapshotFormatError ||
      err instanceof SnapshotFileError || err instanceof InputFileError || err instanceof OutputFileError ||
      err instanceof DiskFileError || err instanceof HandInError || err instanceof HypervisorError) {
    exit(EXIT_USAGE, oneLine(err.message));
  } else {
    exit(EXIT_INTERNAL, `internal error: ${oneLine(err instanceof Error ? err.message : String(err))}`);
  }
}

function oneLine(text: string): string {
  return text.split('\n')[0].trim() || 'unknown error';
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'grade') return gradeCommand(argv.slice(1), process.stdout, process.stderr);
  const command = parseArgs(argv);
  switch (command.kind) {
    case 'help':
      process.stdout.write(command.topic === 'run' ? RUN_HELP : MAIN_HELP);
      return 0;
    case 'version':
      process.stdout.write(`tabvisor ${TABVISOR_VERSION}\n`);
      return 0;
    case 'images':
      process.stdout.write(formatImageTable(await loadManifest(new NodeAssetLoader())));
      return 0;
    case 'run':
      return runCommand(command.options, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
  }
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
// While a guest runs, a stop signal ends the run cleanly (signals.ts); otherwise it exits at once.
installStopSignals((code) => exit(code));
// A closed stdout (e.g. `tabvisor run ... | head`) ends the run quietly.
// The run still ends cleanly (a disk is written back); later write errors on the closed pipe are ignored.
let stdoutClosed = false;
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (stdoutClosed) return;
  if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
    stdoutClosed = true;
    requestStop(0, undefined, (code) => exit(code));
  } else {
    fail(err);
  }
});

main(process.argv.slice(2)).then((code) => exit(code), fail);
