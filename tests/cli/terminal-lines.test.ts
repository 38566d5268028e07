// tabvisor's own lines on a terminal (issue 12, defect 10): after guest output that stopped in the
// middle of a line (a shell prompt) the line starts on a new line; after a whole line it follows
// at once, with no blank line. Runs tabvisor on a pseudo-terminal through util-linux `script`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreBuilt, findRv64Image } from '../rv64/helpers.js';
import { ensureDistBuilt } from './build-dist.js';
import { BIN } from './run-tabvisor.js';

const haveScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
let dir: string;

/** Everything the terminal shows (stdout and stderr), and the exit status. */
function onTerminal(args: string[]): Promise<{ code: number | null; screen: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => { screen += d.toString('latin1'); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, screen });
    });
  });
}

describe.runIf(haveScript && coreBuilt() && findRv64Image())('tabvisor lines on a terminal', () => {
  beforeAll(() => {
    ensureDistBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tabvisor-tty-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('after a prompt (mid-line): a newline first, then the line', async () => {
    const r = await onTerminal(['run', '--image', 'riscv64-busybox', '--timeout', '8']);
    expect(r.code).toBe(124);
    expect(r.screen).toMatch(/\/ # \r?\ntabvisor: timeout: the guest was still running after 8 s\r?\n$/);
  });

  it('after a whole line: the line at once, no blank line', async () => {
    // No root file system: the kernel panics, its last line ends with a newline.
    const r = await onTerminal(['run', '--image', 'riscv64-busybox', '--append', 'console=ttyS0 rdinit=/none init=/none', '--timeout', '60']);
    expect(r.code).toBe(3);
    expect(r.screen).toMatch(/\]---\r*\ntabvisor: guest stopped: .*Kernel panic/);
  });
});
