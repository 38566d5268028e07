// The worker_threads test runs the compiled worker (dist/worker/*.js): Node cannot start a
// worker from TypeScript. This compiles src/ with tsc when dist/ is missing or older than src/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, entry) => Math.max(newest, newestMtime(join(path, entry))), 0);
}

function isStale(client: string): boolean {
  const inputs = ['src/worker', 'src/engines', 'src/hypervisor', 'src/devices'].map((p) => join(repoRoot, p));
  return !existsSync(client) || inputs.some((dir) => newestMtime(dir) > statSync(client).mtimeMs);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Makes dist/ current for the files the worker needs; returns the path of dist/worker/node-client.js. */
export function ensureCompiledWorker(): string {
  const client = join(repoRoot, 'dist/worker/node-client.js');
  if (!isStale(client)) return client;
  // Test files run in parallel: one compiles, the others wait for it (a lock folder is atomic).
  const lock = join(repoRoot, '.cache/tsc-for-tests.lock');
  mkdirSync(join(repoRoot, '.cache'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than three minutes belongs to a run that was killed.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      sleepSync(200);
    }
  }
  try {
    if (isStale(client)) {
      const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
      // Type errors elsewhere in the tree must not stop this test: tsc still emits every file.
      const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
      if (!existsSync(join(repoRoot, 'dist/worker/node-entry.js')) || !existsSync(join(repoRoot, 'dist/engines/create.js'))) {
        throw new Error(`tsc did not produce the worker:\n${result.stdout}${result.stderr}`);
      }
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return client;
}
