// A Hypervisor over in-process VM hosts running the fake engine, for tests that need a few VMs.
import { Hypervisor } from '../../../src/hypervisor/index.js';
import { image, killableHost, READY, type KillableHost } from './fake-engine.js';

export const MiB = 1024 * 1024;

export interface FakeRig {
  hv: Hypervisor;
  hosts: KillableHost[];
}

const live: FakeRig[] = [];

export function fakeRig(options: { budgetMiB?: number; poolSize?: number } = {}): FakeRig {
  const hosts: KillableHost[] = [];
  const hv = new Hypervisor({
    images: [image('x86-busybox'), image('riscv64-busybox', 'rv64')],
    memoryBudgetBytes: (options.budgetMiB ?? 1024) * MiB,
    poolSize: options.poolSize ?? 2,
    hosts: async (index) => {
      const h = killableHost(index);
      hosts.push(h);
      return h.connection;
    },
  });
  const rig = { hv, hosts };
  live.push(rig);
  return rig;
}

/** For afterEach. */
export async function shutdownRigs(): Promise<void> {
  for (const rig of live.splice(0)) await rig.hv.shutdown();
}

/** Types a command and returns what the console printed in answer, up to the next prompt. */
export async function run(hv: Hypervisor, vm: string, command: string): Promise<string> {
  const from = hv.consoleOffset(vm);
  await hv.sendConsole(vm, `${command}\n`);
  const end = await hv.waitForConsole(vm, '# ', { from, timeoutMs: 5000 });
  return hv.consoleText(vm, from).slice(0, end - from - 2).trim();
}

export async function bootedVm(hv: Hypervisor, name: string, memoryMiB?: number): Promise<void> {
  await hv.create({ image: 'x86-busybox', name, ...(memoryMiB ? { memoryMiB } : {}) });
  await hv.start(name);
  await hv.waitUntilReady(name, 5000);
}

export { READY };
