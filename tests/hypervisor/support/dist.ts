// Node starts workers only from JavaScript, so the integration tests run the compiled hosts
// (dist/). This compiles src/ with tsc when dist/ is missing or older than the sources it needs.
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

/** dist/hypervisor/node-hosts.js, compiled from the current sources. */
export async function compiledNodeHosts(): Promise<typeof import('../../../src/hypervisor/node-hosts.js')> {
  const target = join(repoRoot, 'dist/hypervisor/node-hosts.js');
  const inputs = ['src/hypervisor', 'src/worker', 'src/engines', 'src/snapshot'].map((p) => join(repoRoot, p));
  if (!existsSync(target) || inputs.some((dir) => newestMtime(dir) > statSync(target).mtimeMs)) {
    // Type errors elsewhere in the tree must not stop these tests: tsc still emits every file.
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    if (!existsSync(target) || !existsSync(join(repoRoot, 'dist/worker/node-entry.js'))) {
      throw new Error(`tsc did not produce the hosts:\n${result.stdout}${result.stderr}`);
    }
  }
  return (await import(pathToFileURL(target).href)) as typeof import('../../../src/hypervisor/node-hosts.js');
}
