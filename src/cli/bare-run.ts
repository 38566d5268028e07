// Bare-metal RISC-V programs (`tabvisor run --kernel prog.elf` without --firmware): run in a
// worker thread (bare-worker.ts) so the --timeout deadline can end them mid-slice, judged by the
// HTIF result, reported in one line.

import { Worker } from 'node:worker_threads';
import type { BareRunResult as BareResult } from '../engines/rv64/bare.js';
import type { RunOptions } from './args.js';
import type { BareJob, BareMessage } from './bare-worker.js';
import type { Deadline } from './deadline.js';
import { EXIT_TEST_FAILED, EXIT_TIMEOUT, UsageError } from './errors.js';
import type { BarePlan } from './plan.js';
import type { Io } from './run.js';
import { formatStats, type RunStats } from './stats.js';

export async function runBare(plan: BarePlan, o: RunOptions, io: Io, deadline: Deadline): Promise<number> {
  const result = await runBareInWorker(plan, o, io, deadline);
  if (result === 'timeout') {
    io.stderr.write(`tabvisor: timeout: the program was still running after ${o.timeoutSec} s\n`);
    return EXIT_TIMEOUT;
  }
  let code = result.exitCode;
  switch (result.reason) {
    case 'pass':
      code = 0;
      break;
    case 'fail':
      code = EXIT_TEST_FAILED;
      io.stderr.write(`tabvisor: test failed${result.failCase !== undefined ? ` (case ${result.failCase})` : ''}\n`);
      break;
    case 'wfi':
    case 'timeout':
      code = EXIT_TIMEOUT;
      // The worker runs without a clock of its own (the deadline here is the only one), so this is
      // a program that waits for an interrupt that can never come.
      io.stderr.write(`tabvisor: the program can never go on: ${result.message ?? 'it stopped'}\n`);
      break;
    case 'limit':
    case 'fault':
      io.stderr.write(`tabvisor: ${result.message ?? (result.reason === 'limit' ? 'instruction limit reached' : 'guest fault')}\n`);
      break;
    case 'poweroff':
      break;
  }
  if (o.stats) {
    io.stderr.write(formatStats({
      engine: 'rv64 (bare)',
      instructions: result.instructions,
      wallSeconds: result.wallMs / 1000,
      firstOutputSeconds: result.firstOutputMs === undefined ? undefined : result.firstOutputMs / 1000,
    } satisfies RunStats));
  }
  return code;
}

/**
 * Runs the program in a worker thread (bare-worker.ts) and ends it there when the deadline
 * passes, even in the middle of a long slice. Errors about the program or its memory size are the
 * user's input (exit 2); anything else is internal.
 */
function runBareInWorker(plan: BarePlan, o: RunOptions, io: Io, deadline: Deadline): Promise<BareResult | 'timeout'> {
  const job: BareJob = { elf: plan.elf, memoryMiB: plan.memoryMiB, timeoutMs: undefined, stats: o.stats };
  const worker = new Worker(new URL('./bare-worker.js', import.meta.url), { workerData: job });
  return new Promise<BareResult | 'timeout'>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
      void worker.terminate();
    };
    worker.on('message', (m: BareMessage) => {
      if (m.kind === 'out') io.stdout.write(m.bytes);
      else if (m.kind === 'done') settle(() => resolve(m.result));
      else settle(() => reject(bareError(m.name, m.message, plan.memoryMiB)));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the bare-metal runner stopped (exit ${code})`))));
    deadline.onExpire(() => settle(() => resolve('timeout')));
  });
}

function bareError(name: string, message: string, memoryMiB: number): Error {
  if (/^(EngineConfigError|ElfError|MachineConfigError|BootLayoutError)$/.test(name)) return new UsageError(message);
  if (name === 'RangeError' && /memory/i.test(message)) return new UsageError(`cannot give the program ${memoryMiB} MiB of RAM (${message})`);
  const err = new Error(message);
  err.name = name;
  return err;
}
