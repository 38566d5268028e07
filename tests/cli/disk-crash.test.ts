// A disk overlay under crashes at random points (issue 10): the guest writes numbered files in a
// loop, each followed by `sync` and a line saying so, and the process is SIGKILLed at a random
// moment of that loop (seeded; the seed is printed). After each kill the disk the overlay
// describes passes the host's e2fsck (journal replay allowed), and the next run finds every file
// whose sync was acknowledged, with its content, before it writes more. Both engines: riscv64
// (virtio-blk on our board) and x86 (v86's IDE disk), the same overlay format beneath.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDistBuilt } from './build-dist.js';
import { BASE, materialize, overlayGuests, sha } from './overlay-guests.js';
import { runTabvisor } from './run-tabvisor.js';

const E2FSCK = '/usr/sbin/e2fsck';
const ROUNDS = 3;
const SEED = Number(process.env.TABVISOR_CRASH_SEED ?? Date.now() % 100_000);
let dir: string;

const guests = overlayGuests;

/** A small seeded generator (mulberry32): the kill moments of a run can be played again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}


/**
 * The guest's script for round `round`: checks the files the rounds before acknowledged (`owed`
 * per round), then writes r<round>-1, r<round>-2, ... each with a sync and a `synced-` line.
 */
function script(device: string, round: number, owed: number[]): string {
  // A dot per file checked: the run ends 2 s after its input does if the guest stays silent
  // (docs/CLI.md), and a long silent check on a loaded machine got cut off before its end.
  const checks = owed.map((n, r) => `i=1; while [ $i -le ${n} ]; do [ "$(cat /mnt/r${r + 1}-$i 2>/dev/null)" = "r${r + 1}-$i" ] || echo "LO""ST-r${r + 1}-$i"; echo -n .; i=$((i+1)); done; echo`);
  return [
    `mount -t ext4 ${device} /mnt || echo "NO-""MOUNT"`,
    ...checks,
    `echo checked-$((${round}*1000))`,
    `i=0; while :; do i=$((i+1)); echo r${round}-$i > /mnt/r${round}-$i; head -c 3000 /dev/urandom >> /mnt/spill; sync; echo synced-r${round}-$i; done`,
  ].join('\n') + '\n';
}

describe(`a disk overlay killed at random points keeps every synced write (seed ${SEED})`, () => {
  beforeAll(() => {
    ensureDistBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tabvisor-crash-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const g of guests) {
    it.runIf(g.run && existsSync(E2FSCK))(`${g.name}: ${ROUNDS} kills mid-loop, e2fsck clean each time, every acknowledged file there`, async () => {
      const next = random(SEED + g.name.length);
      const baseSum = sha(BASE);
      const overlay = join(dir, `${g.name}.tvoverlay`);
      const owed: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const afterMs = Math.floor(next() * 3000);
        const r = await runTabvisor({
          cwd: dir,
          args: ['run', '--image', g.image, '--disk', BASE, '--disk-overlay', overlay],
          input: script(g.device, round, owed),
          // The loop has begun (one acknowledged file); the kill comes at a random moment after.
          signalWhen: { stdout: new RegExp(`synced-r${round}-1\\b`), signal: 'SIGKILL', afterMs },
          guardMs: 300_000,
        });
        const out = r.stdout.replace(/\r/g, '');
        expect(r.signal, `round ${round}: ${out.slice(-600)}\n${r.stderr}`).toBe('SIGKILL');
        expect(out, `round ${round}`).toContain(`checked-${round * 1000}`);
        expect(out.match(/LOST-\S+|NO-MOUNT/g) ?? [], `round ${round}: files acknowledged before a kill are missing`).toEqual([]);
        const acked = [...out.matchAll(new RegExp(`^synced-r${round}-(\\d+)$`, 'gm'))].map((m) => Number(m[1]));
        expect(acked.length, `round ${round}`).toBeGreaterThan(0);
        owed.push(Math.max(...acked));
        console.log(`disk-crash ${g.name} round ${round}: killed ${afterMs} ms after the first sync, ${owed.at(-1)} files acknowledged`);

        const copy = join(dir, `${g.name}-${round}.img`);
        materialize(overlay, copy);
        const fsck = spawnSync(E2FSCK, ['-fy', copy], { encoding: 'utf8' });
        expect(fsck.status, `round ${round}: ${fsck.stdout}${fsck.stderr}`).toBeLessThanOrEqual(1); // 1: the journal was replayed
        const again = spawnSync(E2FSCK, ['-fn', copy], { encoding: 'utf8' });
        expect(again.status, `round ${round}, after replay: ${again.stdout}${again.stderr}`).toBe(0);
        rmSync(copy);
        expect(sha(BASE)).toBe(baseSum);
      }
      // A last run checks the last round's files and stops cleanly.
      const last = await runTabvisor({
        cwd: dir,
        args: ['run', '--image', g.image, '--disk', BASE, '--disk-overlay', overlay],
        input: script(g.device, ROUNDS + 1, owed).split('\n').slice(0, -2).join('\n') + '\npoweroff -f\n',
        guardMs: 300_000,
      });
      const out = last.stdout.replace(/\r/g, '');
      expect(last.code, last.stderr).toBe(0);
      expect(out).toContain(`checked-${(ROUNDS + 1) * 1000}`);
      expect(out.match(/LOST-\S+|NO-MOUNT/g) ?? []).toEqual([]);
    }, 900_000);
  }
});
