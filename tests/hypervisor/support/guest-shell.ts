// Talking to a BusyBox shell on a VM's console, for the integration tests.
import type { Hypervisor } from '../../../src/hypervisor/hypervisor.js';

let commands = 0;

/** Runs a shell command on a VM's console and returns its output (without the echoed command). */
export async function sh(hv: Hypervisor, vm: string, command: string): Promise<string> {
  const n = ++commands;
  // The quotes keep the echoed command line from matching the markers.
  const begin = `__begin${n}__`;
  const end = `__end${n}__`;
  const from = hv.consoleOffset(vm);
  await hv.sendConsole(vm, `echo __begin""${n}__; ${command}; echo __end""${n}__\n`);
  const endAt = await hv.waitForConsole(vm, end, { from, timeoutMs: 30_000 });
  const text = hv.consoleText(vm, from).slice(0, endAt - from - end.length);
  return text.slice(text.lastIndexOf(begin) + begin.length).replace(/\r/g, '').trim();
}

/** Waits for the ready marker, quiets kernel console messages and checks that the shell answers. */
export async function untilShell(hv: Hypervisor, vm: string, timeoutMs = 90_000): Promise<void> {
  await hv.waitUntilReady(vm, timeoutMs);
  // Kernel messages (a late mouse probe) must not land in the middle of command output.
  // A restored guest may print a message or two (clocksource) before the command takes effect.
  let answer = '';
  for (let attempt = 0; attempt < 3 && answer !== 'up'; attempt++) {
    await sh(hv, vm, 'dmesg -n 1');
    answer = await sh(hv, vm, 'echo up');
  }
  if (answer !== 'up') throw new Error(`VM '${vm}' answered ${JSON.stringify(answer)} to "echo up"`);
}

export async function waitFor(condition: () => boolean, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
