// The hypervisor's virtual networks: one learning Ethernet switch each, with a DHCP server on it
// when asked. A VM on a network has a network card in its engine (its host sends the guest's
// frames up as 'net' events; frames for it go down with sendNet), and one port on the switch.
// A network with `internet` (a WISP relay URL) has an internet gateway instead of the bare DHCP
// server: the gateway holds the DHCP server and takes traffic for the outside to the relay.

import { DhcpServer } from '../devices/backends/dhcp-server.js';
import { EthernetSwitch, type SwitchPort } from '../devices/backends/ethernet-switch.js';
import { InternetGateway, type GatewayStatus } from '../devices/backends/internet-gateway.js';
import { checkRelayUrl, type WebSocketFactory } from '../devices/backends/wisp-client.js';
import { HypervisorError } from './errors.js';

export interface NetworkOptions {
  /** IPv4 network for DHCP, e.g. '10.0.2.0/24'; no DHCP server without it. */
  subnet?: string;
  /** Serve addresses with DHCP (default true when a subnet is given). */
  dhcp?: boolean;
  /** A WISP relay (ws:// or wss:// URL): the network's .1 becomes a gateway to the internet through it. */
  internet?: string;
}

export interface NetworkInfo {
  name: string;
  subnet?: string;
  dhcp: boolean;
  /** The internet gateway's relay and state, on a network with `internet`. */
  internet?: GatewayStatus;
  /** VMs on it (by VM id). */
  vms: string[];
  forwarded: number;
  flooded: number;
  dropped: number;
}

interface Network {
  name: string;
  options: NetworkOptions;
  sw: EthernetSwitch;
  dhcp: DhcpServer | undefined;
  gateway: InternetGateway | undefined;
  /** VM id -> its port. */
  ports: Map<string, SwitchPort>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export class VirtualNetworks {
  private readonly networks = new Map<string, Network>();
  /** VM id -> the network it is on. */
  private readonly byVm = new Map<string, Network>();
  /** VMs whose frames are kept off the switch for now (a copy still using its source's MAC). */
  private readonly held = new Set<string>();

  /** webSocket: how the internet gateways reach their relays (the platform's WebSocket by default). */
  constructor(private readonly webSocket?: WebSocketFactory) {}

  create(name: string, options: NetworkOptions = {}): void {
    if (!NAME.test(name)) throw new HypervisorError('bad-argument', `a network name is 1-63 letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
    if (this.networks.has(name)) throw new HypervisorError('duplicate-name', `a network named '${name}' exists already`);
    const sw = new EthernetSwitch();
    let dhcp: DhcpServer | undefined;
    let gateway: InternetGateway | undefined;
    const bad = (message: string) => new HypervisorError('bad-argument', `network '${name}': ${message}`);
    if (options.internet !== undefined) {
      const why = checkRelayUrl(options.internet);
      if (why !== undefined) throw bad(why);
      if (options.subnet === undefined) throw bad('internet needs a subnet (the gateway is its .1)');
      if (options.dhcp === false) throw bad('internet needs the DHCP server (it tells guests the gateway)');
      if (this.webSocket === undefined) throw bad('internet needs a WebSocket, and this platform has none');
    }
    if (options.subnet !== undefined && options.dhcp !== false) {
      try {
        if (options.internet !== undefined) {
          gateway = new InternetGateway(sw.attach('gateway'), { subnet: options.subnet, relay: options.internet, webSocket: this.webSocket! });
          dhcp = gateway.dhcp;
        } else {
          dhcp = new DhcpServer(sw.attach('dhcp'), { subnet: options.subnet });
        }
      } catch (e) {
        throw bad(e instanceof Error ? e.message : String(e));
      }
    }
    this.networks.set(name, { name, options, sw, dhcp, gateway, ports: new Map() });
  }

  has(name: string): boolean {
    return this.networks.has(name);
  }

  /** Removes a network; refused while VMs are on it. */
  delete(name: string): void {
    const n = this.networks.get(name);
    if (!n) return;
    if (n.ports.size > 0) throw new HypervisorError('invalid-state', `network '${name}' still has ${n.ports.size} VM(s) on it`);
    n.gateway?.close();
    this.networks.delete(name);
  }

  list(): NetworkInfo[] {
    return [...this.networks.values()].map((n) => ({
      name: n.name,
      ...(n.options.subnet ? { subnet: n.options.subnet } : {}),
      dhcp: n.dhcp !== undefined,
      ...(n.gateway ? { internet: n.gateway.status() } : {}),
      vms: [...n.ports.keys()],
      ...n.sw.stats,
    }));
  }

  /**
   * Puts VM `vmId` on `network`: frames the switch sends it go to `deliver`. With `ip`, the
   * network's DHCP server gives that address to `mac`.
   */
  attach(network: string, vmId: string, mac: string, deliver: (frame: Uint8Array) => void, ip?: string): void {
    const n = this.networks.get(network);
    if (!n) throw new HypervisorError('bad-argument', `no network named '${network}' (have: ${[...this.networks.keys()].join(', ') || 'none'})`);
    if (this.byVm.has(vmId)) throw new HypervisorError('invalid-state', `VM ${vmId} is on a network already`);
    if (ip !== undefined) {
      if (!n.dhcp) throw new HypervisorError('bad-argument', `network '${network}' has no DHCP server to give ${ip} out`);
      try {
        n.dhcp.setStatic(mac, ip);
      } catch (e) {
        throw new HypervisorError('bad-argument', `network '${network}': ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const port = n.sw.attach(vmId);
    port.connect(deliver);
    n.ports.set(vmId, port);
    this.byVm.set(vmId, n);
  }

  detach(vmId: string): void {
    this.held.delete(vmId);
    const n = this.byVm.get(vmId);
    if (!n) return;
    n.ports.get(vmId)?.detach();
    n.ports.delete(vmId);
    this.byVm.delete(vmId);
  }

  /** A frame the VM's guest sent (dropped while the VM is held). */
  fromGuest(vmId: string, frame: Uint8Array): void {
    if (this.held.has(vmId)) return;
    this.byVm.get(vmId)?.ports.get(vmId)?.send(frame);
  }

  /**
   * Keeps a VM's frames off the switch until release(): a clone's guest still sends with its
   * source's MAC and address until it has taken its own, and would steal the source's traffic.
   */
  hold(vmId: string): void {
    this.held.add(vmId);
  }

  release(vmId: string): void {
    this.held.delete(vmId);
  }

  networkOf(vmId: string): string | undefined {
    return this.byVm.get(vmId)?.name;
  }

  /** The address a MAC got from a network's DHCP server. */
  addressOf(network: string, mac: string): string | undefined {
    return this.networks.get(network)?.dhcp?.addressOf(mac.toLowerCase());
  }
}
