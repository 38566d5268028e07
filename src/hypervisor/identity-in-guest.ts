// A copy of a running machine (a clone, or a snapshot imported as a new VM) carries the source's
// host name, MAC and random pool in its memory, and a restored guest does not boot again to read
// new ones from its command line. So the hypervisor tells the running guest: it types a short
// script on the guest's console (runInGuest) that sets the host name, the NIC's MAC (link down
// and up: the NE2000 driver refuses a new address while up; the card's receive filter follows
// the address the driver programs), mixes the new seed into the kernel's pool, and asks for a
// DHCP lease for the new MAC. Only for images that keep the Tabvisor guest contract (docs/IMAGES.md).

import { runInGuest, type GuestCommandResult, type GuestConsole } from './guest-command.js';
import type { VmIdentity } from './identity.js';

/** The ready marker of images that keep the guest contract (BusyBox shell on the console, `ip`, `udhcpc`). */
export const GUEST_CONTRACT_MARKER = 'tabvisor-guest-ready';

/** A VM name as a host name: letters, digits, '-' and '.' (a VM name may also hold '_'). */
export function hostnameOf(vmName: string): string {
  return vmName.replace(/_/g, '-').slice(0, 63);
}

/** Part one: who the machine is. Leaves eth0 up with the new MAC and no address. */
export function identityScript(identity: VmIdentity, hostname: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(hostname)) throw new Error(`not a host name: ${JSON.stringify(hostname)}`);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(identity.mac)) throw new Error(`not a MAC address: ${identity.mac}`);
  if (!/^[0-9a-f]+$/i.test(identity.entropySeed)) throw new Error('the entropy seed is not hex');
  return [
    `hostname ${hostname}`,
    `echo ${hostname} > /etc/hostname`,
    `printf '127.0.0.1 localhost\\n127.0.1.1 %s\\n' ${hostname} > /etc/hosts`,
    `echo ${identity.entropySeed} > /dev/urandom`,
    'ip link show eth0 >/dev/null 2>&1 || exit 0',
    // The old lease belongs to the old MAC: stop its client and drop its address.
    'killall udhcpc 2>/dev/null',
    'ip addr flush dev eth0',
    'ip link set eth0 down',
    `ip link set eth0 address ${identity.mac.toLowerCase()}`,
    'ip link set eth0 up',
  ].join('\n');
}

/** Part two, once the hypervisor lets the card's frames out: a lease for the new MAC (as init does at boot). */
export const DHCP_SCRIPT = [
  'ip link show eth0 >/dev/null 2>&1 || exit 0',
  'udhcpc -i eth0 -s /etc/udhcpc.script -b -t 3 -T 1 -A 5 >/var/log/udhcpc.log 2>&1',
].join('\n');

/**
 * Gives the running guest of VM `vm` its identity. `releaseNic` runs between the two parts: until
 * then the VM's frames (still with the source's MAC) are kept off the switch.
 */
export async function applyIdentityInGuest(
  hv: GuestConsole,
  vm: string,
  identity: VmIdentity,
  hostname: string,
  options: { dhcp: boolean; releaseNic: () => void; timeoutMs?: number },
): Promise<GuestCommandResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  let result: GuestCommandResult;
  try {
    result = await runInGuest(hv, vm, identityScript(identity, hostname), { timeoutMs });
  } finally {
    options.releaseNic();
  }
  if (result.exitCode !== 0 || !options.dhcp) return result;
  return runInGuest(hv, vm, DHCP_SCRIPT, { timeoutMs });
}
