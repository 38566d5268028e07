// Runs a bare-metal ELF on qemu-system-riscv64 (virt board, no firmware): the reference machine.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR } from './toolchain.mjs';

export const QEMU = 'qemu-system-riscv64';
let runCount = 0;

/**
 * @typedef {{ exitCode: number, stdout: string, wallMs: number, timedOut: boolean }} QemuResult
 * exitCode: 0 after syscon pass/poweroff (0x5555), n after syscon fail (0x3333 | n << 16).
 */

/**
 * @param {string} elf
 * @param {{ timeoutMs?: number, memoryMiB?: number, extraArgs?: string[] }} [opts]
 * @returns {Promise<QemuResult>}
 */
export function runQemu(elf, opts = {}) {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  // The UART goes to a file, not a pipe: with a pipe, QEMU drops the bytes still queued for a
  // slow reader when the guest powers off (seen as a lost "S\n" of "PASS\n" under load).
  const outDir = join(CACHE_DIR, 'qemu-out');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `${process.pid}-${++runCount}.txt`);
  const args = [
    '-M', 'virt', '-bios', 'none', '-display', 'none', '-monitor', 'none', '-serial', `file:${outFile}`,
    '-m', `${opts.memoryMiB ?? 128}M`, ...(opts.extraArgs ?? []), '-kernel', elf,
  ];
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    const p = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    /** @type {Buffer[]} */
    const out = [];
    let err = '';
    let timedOut = false;
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      let stdout = Buffer.concat(out).toString('latin1');
      try {
        stdout += readFileSync(outFile, 'latin1');
        rmSync(outFile, { force: true });
      } catch {
        // no output file: QEMU did not start the guest
      }
      if (!timedOut && code !== 0 && err.trim() && !stdout) {
        reject(new Error(`qemu failed (${code}): ${err.trim()}`));
        return;
      }
      resolvePromise({ exitCode: timedOut ? 124 : code ?? 1, stdout, wallMs, timedOut });
    });
  });
}
