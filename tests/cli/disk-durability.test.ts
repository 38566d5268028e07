// --disk FILE --disk-write-back: what the guest wrote and synced survives every way the run can
// end. Boots riscv64-busybox with a raw disk, writes a line to /dev/vda, `sync`s, then ends the
// process with a signal; the data must be in the file (clean stop) or in the journal beside it,
// which the next run merges. No temporary file may be left anywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coreBuilt, findRv64Image } from '../rv64/helpers.js';
import { ensureDistBuilt } from './build-dist.js';
import { runTabvisor } from './run-tabvisor.js';

const DISK_BYTES = 1 << 20;
let dir: string;

/** Boots with the disk, writes `text` to /dev/vda, syncs, then sends `signal` once the sync returned. */
function writeSyncAndSignal(disk: string, text: string, signal: NodeJS.Signals) {
  return runTabvisor({
    cwd: dir,
    args: ['run', '--image', 'riscv64-busybox', '--disk', disk, '--disk-write-back'],
    input: `echo ${text} > /dev/vda; sync; echo synced-$((6*7))\n`,
    signalWhen: { stdout: /synced-42/, signal },
  });
}

const head = (path: string, n: number): string => readFileSync(path).subarray(0, n).toString('latin1');

describe.runIf(coreBuilt() && findRv64Image())('--disk-write-back durability', () => {
  beforeAll(() => {
    ensureDistBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tabvisor-disk-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [signal, status] of [['SIGTERM', 143], ['SIGHUP', 129], ['SIGINT', 130]] as const) {
    it(`${signal} after the guest's sync: a clean stop that writes the disk back, exit ${status}`, async () => {
      const sub = mkdtempSync(join(dir, `${signal}-`));
      const disk = join(sub, 'disk.img');
      writeFileSync(disk, new Uint8Array(DISK_BYTES));
      const text = `kept-after-${signal}`;
      const r = await writeSyncAndSignal(disk, text, signal);
      expect(r.code, r.stderr).toBe(status);
      expect(r.stderr).toContain(`tabvisor: stopped by ${signal}`);
      expect(r.stderr).toContain(`wrote the disk back to ${disk}`);
      expect(head(disk, text.length + 1)).toBe(`${text}\n`);
      expect(readFileSync(disk).length).toBe(DISK_BYTES);
      expect(readdirSync(sub)).toEqual(['disk.img']); // no journal, no temporary file
    });
  }

  it('SIGKILL after the guest\'s sync: the writes are in the journal, and the next run merges them', async () => {
    const sub = mkdtempSync(join(dir, 'SIGKILL-'));
    const disk = join(sub, 'disk.img');
    writeFileSync(disk, new Uint8Array(DISK_BYTES));
    const killed = await writeSyncAndSignal(disk, 'kept-after-SIGKILL', 'SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    expect(readdirSync(sub).sort()).toEqual(['disk.img', 'disk.img.tvjournal']); // no temporary file
    expect(readFileSync(`${disk}.tvjournal`).includes('kept-after-SIGKILL\n')).toBe(true);
    // A kill in the middle of an append leaves a torn record at the end: it must be ignored.
    appendFileSync(`${disk}.tvjournal`, Buffer.from('TVJR\x00\x10\x00\x00torn'));

    const second = await runTabvisor({
      cwd: dir,
      args: ['run', '--image', 'riscv64-busybox', '--disk', disk, '--disk-write-back'],
      input: 'head -c 18 /dev/vda | tr k K; echo\npoweroff -f\n',
    });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/merged .* of guest writes from an interrupted run into/);
    expect(second.stdout).toContain('Kept-after-SIGKILL'); // the guest reads what it wrote before the kill
    expect(head(disk, 19)).toBe('kept-after-SIGKILL\n');
    expect(readdirSync(sub)).toEqual(['disk.img']);
  });

  it('without --disk-write-back the file is never written', async () => {
    const disk = join(dir, 'scratch.img');
    writeFileSync(disk, new Uint8Array(DISK_BYTES));
    const r = await runTabvisor({
      cwd: dir,
      args: ['run', '--image', 'riscv64-busybox', '--disk', disk],
      input: 'echo scratch > /dev/vda; sync; head -c 7 /dev/vda | tr s S; echo\npoweroff -f\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Scratch');
    expect(readFileSync(disk).every((b) => b === 0)).toBe(true);
    expect(existsSync(`${disk}.tvjournal`)).toBe(false);
  });
});
