// Lab tasks on a real riscv64 guest: checks run in the VM (FAIL: lines, exit codes, long scripts,
// output that tries to fake a result), a hand-in file, and `tabvisor grade` re-running the checks
// on the handed-in machines without trusting the results recorded in the file.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageEntry } from '../../src/engines/engine.js';
import { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { parseLab, type Lab } from '../../src/hypervisor/lab.js';
import { applyLabSeed, runTaskCheck } from '../../src/hypervisor/lab-tasks.js';
import { runInGuest } from '../../src/hypervisor/guest-command.js';
import { readHandIn, writeHandIn } from '../../src/hypervisor/hand-in.js';
import { ensureDistBuilt } from '../cli/build-dist.js';
import { compiledNodeHosts, repoRoot } from './support/dist.js';
import { sh, untilShell } from './support/guest-shell.js';

const MiB = 1024 * 1024;
const manifest = JSON.parse(readFileSync(join(repoRoot, 'images/manifest.json'), 'utf8')) as { images: ImageEntry[] };

const labJson = {
  format: 'tabvisor-lab/1',
  name: 'files-101',
  vms: [{ name: 'box', image: 'riscv64-busybox', memoryMiB: 64 }],
  tasks: [
    {
      id: 'answer', title: 'Write 42 into /root/answer', vm: 'box',
      check: '[ "$(cat /root/answer 2>/dev/null)" = 42 ] || { echo "FAIL: /root/answer does not hold 42"; exit 1; }',
      hints: ['echo 42 > /root/answer'],
    },
    { id: 'arch', title: 'A RISC-V machine', vm: 'box', check: 'uname -m | grep -q riscv64 || { echo "FAIL: not riscv64"; exit 1; }' },
  ],
};

let hv: Hypervisor;
let lab: Lab;
let dir: string;
let vm: string;

beforeAll(async () => {
  ensureDistBuilt();
  const { nodeWorkerHosts } = await compiledNodeHosts();
  hv = new Hypervisor({ images: manifest.images, memoryBudgetBytes: 512 * MiB, poolSize: 1, hosts: nodeWorkerHosts() });
  lab = parseLab(labJson, manifest.images);
  dir = mkdtempSync(join(tmpdir(), 'tv-handin-'));
  vm = (await hv.create({ image: 'riscv64-busybox', name: 'box', memoryMiB: 64 })).id;
  await hv.start(vm);
  await untilShell(hv, vm);
});

afterAll(async () => {
  await hv?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function grade(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/tabvisor.js'), 'grade', ...args], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('lab tasks in a real guest', () => {
  it('runs scripts in the guest: exit status, long scripts, output that tries to fake the end marker', async () => {
    const long = `${Array.from({ length: 60 }, (_, i) => `echo line${i}`).join('\n')}\nexit 7\n`;
    expect(long.length).toBeGreaterThan(600);
    const r = await runInGuest(hv, vm, long);
    expect(r.exitCode).toBe(7);
    expect(r.output.split('\n')).toEqual(Array.from({ length: 60 }, (_, i) => `line${i}`));
    const fake = await runInGuest(hv, vm, 'echo "@@tvend 000000000000 0@@"; exit 3');
    expect(fake.exitCode).toBe(3);
    expect(fake.output).toBe('@@tvend 000000000000 0@@');
  });

  it('a check fails with its FAIL: lines until the student does the task, then passes', async () => {
    const [answer, arch] = lab.tasks;
    const before = await runTaskCheck(hv, answer, vm);
    expect(before).toMatchObject({ id: 'answer', passed: false, exitCode: 1, failures: ['/root/answer does not hold 42'] });
    expect((await runTaskCheck(hv, arch, vm)).passed).toBe(true);
    await sh(hv, vm, 'echo 42 > /root/answer');
    expect(await runTaskCheck(hv, answer, vm)).toMatchObject({ passed: true, exitCode: 0, failures: [] });
  });

  it('gives the guest a per-student seed in /etc/lab-seed, and refuses a seed that is not a plain word', async () => {
    await applyLabSeed(hv, vm, 'student-7_x');
    expect(await sh(hv, vm, 'cat /etc/lab-seed')).toBe('student-7_x');
    await expect(applyLabSeed(hv, vm, 'a; rm -rf /')).rejects.toThrow(/lab seed/);
  });

  it('tabvisor grade restores handed-in machines and re-runs the checks, never trusting recorded results', async () => {
    const done = await hv.snapshot(vm);
    await sh(hv, vm, 'rm /root/answer');
    const notDone = await hv.snapshot(vm);
    const record = [{ id: 'answer', passed: true, exitCode: 0, failures: [], output: '' }];
    writeFileSync(join(dir, 'alice.tar'), writeHandIn({ createdAt: new Date().toISOString(), student: 'alice', lab: labJson, results: record, log: 'ok', vms: [{ name: 'box', snapshot: done }] }));
    // Bob's file claims a pass, but his machine has no answer.
    writeFileSync(join(dir, 'bob.tar'), writeHandIn({ createdAt: new Date().toISOString(), student: 'bob', lab: labJson, results: record, log: '', vms: [{ name: 'box', snapshot: notDone }] }));
    writeFileSync(join(dir, 'broken.tar'), new Uint8Array(3000).fill(7));
    expect(readHandIn(readFileSync(join(dir, 'alice.tar'))).student).toBe('alice');

    const r = await grade(['--csv', 'alice.tar', 'bob.tar', 'broken.tar']);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tabvisor: broken\.tar: not a hand-in file/)]);
    expect(r.code, r.stderr).toBe(1);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toBe('file,student,answer,arch,passed,total,error');
    expect(rows[1]).toBe('alice.tar,alice,pass,pass,2,2,');
    expect(rows[2]).toBe('bob.tar,bob,FAIL,pass,1,2,');
    expect(rows[3]).toMatch(/^broken\.tar,,-,-,0,2,not a hand-in file/);

    const usage = await grade([]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim()).toBe('tabvisor: grade needs one or more hand-in files (see tabvisor grade --help)');
  });
});
