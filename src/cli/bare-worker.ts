// Runs a bare-metal RISC-V program (runBareProgram) in a worker thread, so the CLI's --timeout
// timer on the main thread fires on time however long the core keeps the worker busy: the main
// thread ends the worker with terminate(), which stops wasm code in the middle of a slice.

import { parentPort, workerData } from 'node:worker_threads';
import { runBareProgram } from '../engines/rv64/bare.js';

/** What the main thread sends (workerData). */
export interface BareJob {
  elf: Uint8Array;
  memoryMiB: number;
  timeoutMs: number | undefined;
  stats: boolean;
}

/** What the worker posts back, in order: output chunks, then one result or error. */
export type BareMessage =
  | { kind: 'out'; bytes: Uint8Array }
  | { kind: 'done'; result: Awaited<ReturnType<typeof runBareProgram>> }
  | { kind: 'error'; name: string; message: string };

const port = parentPort!;
const job = workerData as BareJob;
try {
  const result = await runBareProgram({
    elf: job.elf,
    memoryMiB: job.memoryMiB,
    timeoutMs: job.timeoutMs,
    stats: job.stats,
    stdout: (bytes) => port.postMessage({ kind: 'out', bytes } satisfies BareMessage),
  });
  port.postMessage({ kind: 'done', result } satisfies BareMessage);
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  port.postMessage({ kind: 'error', name: e.name, message: e.message } satisfies BareMessage);
}
