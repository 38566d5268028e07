// Hostile snapshots through the real `tabvisor run --restore`, as the attacker of issue 12 made
// them: a real snapshot re-encoded with a core block at privilege 7, and one whose state claims
// 2047 MiB while its metadata says 128. Each ends with exit 2 and one "bad snapshot" line.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDistBuilt } from '../cli/build-dist.js';
import { readSnapshot, SnapshotWriter, ENGINE_STATE_SECTION } from '../../src/snapshot/format.js';
import { decodeState, encodeState, type StateValue } from '../../src/engines/rv64/state-codec.js';
import { coreBuilt, findRv64Image, ROOT } from './helpers.js';

const BIN = join(ROOT, 'bin', 'tabvisor.js');
const image = findRv64Image();
type Rec = { [k: string]: StateValue };

function tabvisor(args: string[], input: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
    const guard = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** The snapshot at `path` with its rv64 state fields changed by `edit`, written to `out`. */
async function reencode(path: string, out: string, edit: (s: Rec) => void): Promise<void> {
  const snap = await readSnapshot(new Uint8Array(readFileSync(path)));
  const bytes = snap.section(ENGINE_STATE_SECTION);
  const s = decodeState(bytes.subarray(8)) as Rec;
  edit(s);
  const body = encodeState(s);
  const state = new Uint8Array(8 + body.length);
  state.set(bytes.subarray(0, 8));
  state.set(body, 8);
  const { createdAt: _c, tabvisorVersion: _v, ...meta } = snap.metadata;
  writeFileSync(out, await new SnapshotWriter(meta).addSection(ENGINE_STATE_SECTION, state).encode());
}

describe.runIf(coreBuilt() && image && process.env.RV64_IMAGE_DIR === undefined)('tabvisor run --restore with hostile snapshots', () => {
  let dir: string;
  let good: string;
  beforeAll(async () => {
    ensureDistBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tabvisor-hostile-'));
    good = join(dir, 'good.tvsnap');
    const r = await tabvisor(['run', '--image', 'riscv64-busybox', '--snapshot-out', good], 'poweroff -f\n', dir);
    expect(r.code, r.stderr).toBe(0);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('privilege 7 in the core block: exit 2, one line', async () => {
    const bad = join(dir, 'priv7.tvsnap');
    await reencode(good, bad, (s) => {
      const core = s.core as Rec;
      const block = (core.block as Uint8Array).slice();
      new DataView(block.buffer).setBigUint64(0x300 + 8, 7n, true);
      core.block = block;
    });
    const r = await tabvisor(['run', '--restore', bad], 'echo hi\n', dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^tabvisor: bad snapshot: .*illegal privilege/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 120_000);

  it('a state of 2047 MiB under metadata of 128 MiB: exit 2, one line (refused before the machine is built)', async () => {
    const bad = join(dir, 'big.tvsnap');
    await reencode(good, bad, (s) => { (s.config as Rec).memoryBytes = 2047 * 2 ** 20; });
    const r = await tabvisor(['run', '--restore', bad], 'echo hi\n', dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^tabvisor: bad snapshot: the state holds 2047 MiB of RAM but this VM has 128 MiB$/);
  }, 120_000);
});
