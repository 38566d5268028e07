// The CLI tests run the real binary, which runs dist/. This builds dist/ first when any source the
// CLI uses is newer than the compiled CLI (a plain `npx vitest run tests/cli` after an edit).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';

export function ensureDistBuilt(): void {
  const main = join(PROJECT_ROOT, 'dist', 'cli', 'main.js');
  const newest = (folder: string): number => Math.max(0, ...readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => statSync(join(e.parentPath, e.name)).mtimeMs));
  const sources = ['src/cli', 'src/engines', 'src/snapshot', 'src/devices'].map((f) => newest(join(PROJECT_ROOT, f)));
  if (existsSync(main) && statSync(main).mtimeMs >= Math.max(...sources)) return;
  // Type errors elsewhere in the tree do not stop tsc from emitting; only the output matters here.
  spawnSync(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    { cwd: PROJECT_ROOT, stdio: 'ignore' });
  if (!existsSync(main)) throw new Error('could not build dist/cli/main.js');
}
