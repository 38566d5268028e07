// Runs a shell script in a guest through its console and returns the exit status and output:
// what lab checks and grading need. The script travels base64-encoded in short lines (a tty line
// holds 4095 bytes), runs with its output captured in a file, and comes back between markers
// that the typed command line itself cannot contain (the quotes split them), each with a random
// nonce so that guest output cannot fake a result. It needs a shell prompt on the console. The
// script has the console to itself (hv.consoleJob): what a user types meanwhile follows it, and a
// line the user had begun at the prompt is cleared first.

import { HypervisorError } from './errors.js';

/** The part of the hypervisor this needs (a fake in tests, the real Hypervisor elsewhere). */
export interface GuestConsole {
  sendConsole(ref: string, data: Uint8Array | string): Promise<void>;
  /** Runs `job` with the console to itself (what users type meanwhile follows it), where it can. */
  consoleJob?<T>(ref: string, job: (send: (data: Uint8Array | string) => Promise<void>) => Promise<T>): Promise<T>;
  consoleOffset(ref: string): number;
  consoleText(ref: string, from?: number): string;
  waitForConsole(ref: string, text: string, options?: { from?: number; timeoutMs?: number }): Promise<number>;
}

export interface GuestCommandResult {
  exitCode: number;
  /** What the script printed (stdout and stderr), at most `maxOutputBytes`, without \r. */
  output: string;
}

export interface GuestCommandOptions {
  timeoutMs?: number;
  /** Bytes of output kept at most. */
  maxOutputBytes?: number;
}

const CHUNK = 600;
const KILL_LINE = '\x05\x15';
export const MAX_SCRIPT_BYTES = 64 * 1024;

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function nonce(): string {
  const b = new Uint8Array(6);
  globalThis.crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export async function runInGuest(hv: GuestConsole, vm: string, script: string, options: GuestCommandOptions = {}): Promise<GuestCommandResult> {
  // Typing from the user in the middle of the script's lines would break both.
  if (hv.consoleJob) return hv.consoleJob(vm, (send) => runScript(hv, send, vm, script, options));
  return runScript(hv, (data) => hv.sendConsole(vm, data), vm, script, options);
}

async function runScript(
  hv: GuestConsole,
  send: (data: string) => Promise<void>,
  vm: string,
  script: string,
  options: GuestCommandOptions,
): Promise<GuestCommandResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxOutput = Math.max(0, Math.floor(options.maxOutputBytes ?? 16 * 1024));
  const bytes = new TextEncoder().encode(script);
  if (bytes.length > MAX_SCRIPT_BYTES) throw new HypervisorError('bad-argument', `a guest script may have at most ${MAX_SCRIPT_BYTES} bytes`);
  const id = nonce();
  const f = `/tmp/.tv-${id}`;
  const encoded = base64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < encoded.length || i === 0; i += CHUNK) {
    lines.push(`echo ${encoded.slice(i, i + CHUNK) || '""'} ${i === 0 ? '>' : '>>'} ${f}.b64`);
  }
  lines.push(
    `base64 -d ${f}.b64 > ${f}.sh; sh ${f}.sh > ${f}.out 2>&1 </dev/null; s=$?; ` +
    `echo "@@tv""begin ${id}@@"; head -c ${maxOutput} ${f}.out; echo; echo "@@tv""end ${id} $s@@"; rm -f ${f}.b64 ${f}.sh ${f}.out`,
  );
  const from = hv.consoleOffset(vm);
  // A line the user had begun at the prompt would join the script's first line: Ctrl-E Ctrl-U
  // clear it first (line editors: end of line, kill before the cursor; a cooked tty: kill line).
  await send(KILL_LINE + lines.map((l) => `${l}\n`).join(''));
  const endMark = `@@tvend ${id} `;
  let endAt: number;
  try {
    endAt = await hv.waitForConsole(vm, endMark, { from, timeoutMs });
  } catch {
    throw new HypervisorError('host-failure', `the script in VM '${vm}' did not finish within ${Math.round(timeoutMs / 1000)} s (is a shell prompt on its console?)`);
  }
  // The exit status follows the end marker on the same line.
  const tailEnd = await hv.waitForConsole(vm, '@@', { from: endAt, timeoutMs: 5000 });
  const text = hv.consoleText(vm, from);
  const status = /^(\d+)/.exec(hv.consoleText(vm, endAt).slice(0, tailEnd - endAt));
  const beginMark = `@@tvbegin ${id}@@`;
  const b = text.lastIndexOf(beginMark);
  const e = text.lastIndexOf(endMark);
  if (status === null || b < 0 || e < b) throw new HypervisorError('host-failure', `the script in VM '${vm}' gave no readable result`);
  let output = text.slice(b + beginMark.length, e).replace(/\r/g, '');
  output = output.replace(/^\n/, '').replace(/\n+$/, '');
  return { exitCode: Number(status[1]), output };
}
