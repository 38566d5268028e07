// Network chores in BusyBox guests for the integration tests: the address a guest has, ping, and
// a TCP transfer whose sha256 is compared at both ends.
import type { Hypervisor } from '../../../src/hypervisor/hypervisor.js';
import { runInGuest } from '../../../src/hypervisor/guest-command.js';

/** Runs a script in the guest (through its console) and returns its output; fails on a non-zero exit. */
export async function guest(hv: Hypervisor, vm: string, script: string, timeoutMs = 60_000): Promise<string> {
  const r = await runInGuest(hv, vm, script, { timeoutMs });
  if (r.exitCode !== 0) throw new Error(`VM '${vm}': script exited with ${r.exitCode}: ${script}\n${r.output}`);
  return r.output;
}

/** eth0's IPv4 address in the guest, once it has one (DHCP at boot may still be under way). */
export async function guestAddress(hv: Hypervisor, vm: string, timeoutMs = 60_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const out = await guest(hv, vm, 'ip -4 addr show eth0 | grep -o "inet [0-9.]*" | cut -d" " -f2; true');
    if (/^\d+\.\d+\.\d+\.\d+$/.test(out)) return out;
    if (Date.now() > end) throw new Error(`VM '${vm}' has no address on eth0: ${JSON.stringify(out)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** How many of `count` pings from `vm` to `ip` were answered. */
export async function pings(hv: Hypervisor, vm: string, ip: string, count = 3): Promise<number> {
  const out = await guest(hv, vm, `ping -c ${count} -W 5 ${ip} | grep -o "[0-9]* packets received"; true`);
  return Number(/^(\d+) packets received/.exec(out)?.[1] ?? 0);
}

/**
 * Sends `mib` MiB of random bytes from `from` to port 5000 of `to` (address `toIp`) with nc and
 * returns both sha256 sums. The receiver is `nc -l -e` with `cat` behind it: a receiving nc whose
 * own input ends would half-close the connection, and BusyBox's small nc (the x86 image's)
 * stops sending when it sees that.
 */
export async function tcpTransfer(hv: Hypervisor, from: string, to: string, toIp: string, mib: number, timeoutMs = 600_000): Promise<{ sent: string; received: string; ms: number }> {
  await guest(hv, to, [
    'rm -f /tmp/recv /tmp/recv.done',
    "printf '#!/bin/sh\\ncat > /tmp/recv\\necho done > /tmp/recv.done\\n' > /tmp/rx.sh; chmod +x /tmp/rx.sh",
    'nc -l -p 5000 -e /tmp/rx.sh </dev/null >/dev/null 2>&1 &',
  ].join('\n'));
  const sent = await guest(hv, from, `dd if=/dev/urandom of=/tmp/data bs=65536 count=${mib * 16} 2>/dev/null; sha256sum /tmp/data | cut -d" " -f1`, timeoutMs);
  const t0 = Date.now();
  try {
    await guest(hv, from, `nc ${toIp} 5000 < /tmp/data`, timeoutMs);
  } catch (error) {
    // Say how far it got: bytes at the receiver, and the connection as the receiver sees it.
    const where = await guest(hv, to, 'ls -l /tmp/recv; grep -v local_address /proc/net/tcp; grep eth0 /proc/net/dev; true').catch((e: unknown) => String(e));
    // Stop the sender's nc, so the next test gets a shell prompt and fails (or passes) on its own.
    await hv.sendConsole(from, '\x03').catch(() => undefined);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nreceiver ${to}:\n${where}`);
  }
  const end = Date.now() + timeoutMs;
  while ((await guest(hv, to, 'cat /tmp/recv.done 2>/dev/null; true')) !== 'done') {
    if (Date.now() > end) throw new Error(`VM '${to}' did not finish receiving`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const ms = Date.now() - t0;
  const received = await guest(hv, to, 'sha256sum /tmp/recv | cut -d" " -f1; rm -f /tmp/recv', timeoutMs);
  await guest(hv, from, 'rm -f /tmp/data');
  return { sent, received, ms };
}
