// `tabvisor run --migrate-listen PORT` and `--migrate-to PORT`: a running riscv64 guest moves
// between two processes over loopback TCP (iterative pre-copy, then a short final pause). The
// guest proves continuity on the other side: a file written before the move is there and its
// counter loop keeps counting. A refusal (a machine larger than the listener takes) is one line
// on the sender, whose guest keeps running and answering.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDistBuilt } from './build-dist.js';
import { freePort, startTabvisor, until, type Proc } from './run-tabvisor.js';

const start = (args: string[]): Proc => startTabvisor(dir, args);

let dir: string;
beforeAll(() => {
  ensureDistBuilt();
  dir = mkdtempSync(join(tmpdir(), 'tv-migrate-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('tabvisor run --migrate-listen / --migrate-to', () => {
  it('moves a running guest to another process: its file is there and its counter keeps counting', async () => {
    const port = await freePort();
    const target = start(['run', '--migrate-listen', String(port), '--timeout', '400']);
    try {
      await until(() => target.err().includes('waiting for a migration'), 60_000, 'the listener');
      const source = start(['run', '--image', 'riscv64-busybox', '--migrate-to', String(port), '--timeout', '300']);
      // Piped input: once typed and the guest is quiet, the VM is sent.
      source.child.stdin.end('echo before-the-move > /tmp/f\n' +
        '(i=0; while true; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; done) >/dev/null 2>&1 &\nsleep 1\n');
      expect(await source.done, source.err()).toBe(0);
      expect(source.err()).toMatch(/tabvisor: moved the VM to 127\.0\.0\.1:\d+ \(final pause [\d.]+ ms; pre-copy rounds \d+(\/\d+)* pages, \d+ in the pause; .* sent in [\d.]+ s\)/);
      await until(() => target.err().includes('received a 128 MiB rv64 machine'), 60_000, 'the received machine');
      target.child.stdin.write('cat /tmp/f; echo "c1=$(cat /tmp/c)"; sleep 2; echo "c2=$(cat /tmp/c)"\n');
      await until(() => /c2=\d+/.test(target.out()), 120_000, 'the counter on the target');
      expect(target.out()).toContain('before-the-move');
      const c1 = Number(/c1=(\d+)/.exec(target.out())![1]);
      const c2 = Number(/c2=(\d+)/.exec(target.out())![1]);
      expect(c2).toBeGreaterThan(c1);
      target.child.stdin.end('poweroff -f\n');
      expect(await target.done, target.err()).toBe(0);
    } finally {
      target.child.kill('SIGKILL');
    }
  }, 400_000);

  it('a listener that takes less memory refuses with one line; the sender keeps running its guest', async () => {
    const port = await freePort();
    const target = start(['run', '--migrate-listen', String(port), '--mem', '32', '--timeout', '300']);
    const source = start(['run', '--image', 'riscv64-busybox', '--migrate-to', String(port), '--timeout', '300']);
    try {
      await until(() => target.err().includes('waiting for a migration'), 60_000, 'the listener');
      source.child.stdin.write('echo up-$((1+1))\n');
      await until(() => source.out().includes('up-2'), 200_000, 'the source guest');
      source.child.kill('SIGUSR2'); // a running run: send it now
      await until(() => source.err().includes('cannot migrate'), 60_000, 'the refusal');
      expect(source.err().trim().split('\n')).toEqual([
        `tabvisor: cannot migrate to 127.0.0.1:${port}: the machine has 128 MiB of RAM, more than the 32 MiB this side takes (--mem); the VM keeps running here`,
      ]);
      source.child.stdin.end('echo still-$((2+1))\npoweroff -f\n');
      expect(await source.done, source.err()).toBe(0);
      expect(source.out()).toContain('still-3');
      // The listener waits on for another sender.
      expect(target.child.exitCode).toBe(null);
    } finally {
      target.child.kill('SIGKILL');
      source.child.kill('SIGKILL');
    }
  }, 400_000);
});
