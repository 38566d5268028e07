// Node starts workers only from JavaScript, and a browser test loads modules as JavaScript, so
// these tests use the compiled tree (dist/). This compiles src/ with tsc when dist/ is missing
// or older than the sources it needs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const repoRoot = new URL('../../../', import.meta.url).pathname;

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, entry) => Math.max(newest, newestMtime(join(path, entry))), 0);
}

/** Makes dist/<path> current; returns its absolute path. */
export function ensureCompiled(path: string): string {
  const target = join(repoRoot, 'dist', path);
  const inputs = ['src/hypervisor', 'src/worker', 'src/engines', 'src/snapshot', 'src/devices'].map((p) => join(repoRoot, p));
  if (!existsSync(target) || inputs.some((dir) => newestMtime(dir) > statSync(target).mtimeMs)) {
    // Type errors elsewhere in the tree must not stop these tests: tsc still emits every file.
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    if (!existsSync(target)) throw new Error(`tsc did not produce dist/${path}:\n${result.stdout}${result.stderr}`);
  }
  return target;
}

/** dist/hypervisor/node-hosts.js, compiled from the current sources. */
export async function compiledNodeHosts(): Promise<typeof import('../../../src/hypervisor/node-hosts.js')> {
  ensureCompiled('worker/node-entry.js');
  const target = ensureCompiled('hypervisor/node-hosts.js');
  return (await import(pathToFileURL(target).href)) as typeof import('../../../src/hypervisor/node-hosts.js');
}
