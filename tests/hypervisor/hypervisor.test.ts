import { afterEach, describe, expect, it } from 'vitest';
import { Hypervisor, type VmTransition } from '../../src/hypervisor/index.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { ENGINE_STATE_SECTION, readSnapshot, SnapshotWriter } from '../../src/snapshot/index.js';
import { FakeEngine, image, killableHost, READY, type KillableHost } from './support/fake-engine.js';

const MiB = 1024 * 1024;

interface Rig {
  hv: Hypervisor;
  hosts: KillableHost[];
  transitions: VmTransition[];
}

let rig: Rig | undefined;

function makeRig(options: { budgetMiB?: number; poolSize?: number; capPeriodMs?: number } = {}): Rig {
  const hosts: KillableHost[] = [];
  const hv = new Hypervisor({
    images: [image('x86-busybox'), image('big', 'v86', 512), image('riscv64-busybox', 'rv64')],
    memoryBudgetBytes: (options.budgetMiB ?? 1024) * MiB,
    poolSize: options.poolSize ?? 2,
    hosts: async (index) => {
      const h = killableHost(index, options.capPeriodMs ? { capPeriodMs: options.capPeriodMs } : {});
      hosts.push(h);
      return h.connection;
    },
  });
  const transitions: VmTransition[] = [];
  hv.events.on('transition', (t) => transitions.push(t));
  rig = { hv, hosts, transitions };
  return rig;
}

const undoSpies: Array<() => void> = [];

afterEach(async () => {
  for (const undo of undoSpies.splice(0)) undo();
  await rig?.hv.shutdown();
  rig = undefined;
});

/** Types a command and returns what the console printed in answer, up to the next prompt. */
async function run(hv: Hypervisor, vm: string, command: string): Promise<string> {
  const from = hv.consoleOffset(vm);
  await hv.sendConsole(vm, `${command}\n`);
  const end = await hv.waitForConsole(vm, '# ', { from, timeoutMs: 5000 });
  return hv.consoleText(vm, from).slice(0, end - from - 2).trim();
}

async function bootedVm(hv: Hypervisor, name: string): Promise<void> {
  await hv.create({ image: 'x86-busybox', name });
  await hv.start(name);
  await hv.waitUntilReady(name, 5000);
}

describe('Hypervisor lifecycle', () => {
  it('boots two VMs on separate hosts and both consoles answer', async () => {
    const { hv, transitions } = makeRig();
    await bootedVm(hv, 'a');
    await bootedVm(hv, 'b');
    expect(await run(hv, 'a', 'echo from a')).toBe('from a');
    expect(await run(hv, 'b', 'echo from b')).toBe('from b');
    expect(hv.list().map((v) => [v.name, v.state, v.ready])).toEqual([
      ['a', 'running', true],
      ['b', 'running', true],
    ]);
    expect(new Set(hv.list().map((v) => v.host))).toEqual(new Set([0, 1])); // least loaded placement
    expect(transitions.filter((t) => t.vmName === 'a').map((t) => `${t.from}->${t.to}`)).toEqual([
      'new->created',
      'created->booting',
      'booting->running',
    ]);
  });

  it('pauses and resumes: input typed while paused is answered after resume', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    expect((await hv.pause('a')).state).toBe('paused');
    const from = hv.consoleOffset('a');
    await hv.sendConsole('a', 'echo later\n');
    await new Promise((r) => setTimeout(r, 20));
    expect(hv.consoleText('a', from)).toBe('');
    expect((await hv.resume('a')).state).toBe('running');
    await hv.waitForConsole('a', 'later', { from, timeoutMs: 5000 });
  });

  it('refuses actions the state does not allow, with a message, and changes nothing', async () => {
    const { hv, transitions } = makeRig();
    await bootedVm(hv, 'lab-1');
    await expect(hv.delete('lab-1')).rejects.toThrow(
      "cannot delete VM 'lab-1': it is running (delete is allowed when created, stopped or crashed)",
    );
    await hv.stop('lab-1');
    const count = transitions.length;
    await expect(hv.pause('lab-1')).rejects.toThrow("cannot pause VM 'lab-1': it is stopped (pause is allowed when running)");
    await expect(hv.snapshot('lab-1')).rejects.toBeInstanceOf(HypervisorError);
    await expect(hv.sendConsole('lab-1', 'x')).rejects.toThrow("cannot type on VM 'lab-1': it is stopped");
    expect(transitions.length).toBe(count);
    await expect(hv.start('nope')).rejects.toThrow("no VM named 'nope'");
  });

  it('stops, starts again from a fresh boot, and deletes', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'touch kept-only-in-ram');
    await hv.stop('a');
    expect(hv.get('a').host).toBeUndefined(); // the engine is gone
    await hv.start('a');
    await hv.waitUntilReady('a', 5000);
    expect(await run(hv, 'a', 'ls')).toBe('(empty)');
    await hv.stop('a');
    await hv.delete('a');
    expect(hv.list()).toEqual([]);
    expect(hv.memoryUsage().reservedBytes).toBe(0);
  });

  it('gives VMs created together distinct names, and refuses two with the same name', async () => {
    const { hv } = makeRig();
    const made = await Promise.all([hv.create({ image: 'x86-busybox' }), hv.create({ image: 'x86-busybox' })]);
    expect(made.map((v) => v.name)).toEqual(['x86-busybox-1', 'x86-busybox-2']);
    const results = await Promise.allSettled([hv.create({ image: 'x86-busybox', name: 'same' }), hv.create({ image: 'x86-busybox', name: 'same' })]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(hv.list().filter((v) => v.name === 'same')).toHaveLength(1);
    expect(hv.memoryUsage().reservedBytes).toBe(3 * 64 * MiB);
  });

  it('serializes concurrent calls on one VM: pause then resume issued together both succeed in order', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    const [p, r] = await Promise.all([hv.pause('a'), hv.resume('a')]);
    expect([p.state, r.state]).toEqual(['paused', 'running']);
  });

  it('a guest power-off stops the VM; a guest reboot boots it again', async () => {
    const { hv, transitions } = makeRig();
    await bootedVm(hv, 'a');
    const from = hv.consoleOffset('a');
    await hv.sendConsole('a', 'reboot\n');
    await hv.waitForConsole('a', READY, { from, timeoutMs: 5000 });
    expect(transitions.map((t) => t.input)).toContain('reboot');
    expect(await run(hv, 'a', 'echo back')).toBe('back');
    await hv.sendConsole('a', 'poweroff\n');
    await waitFor(() => hv.get('a').state === 'stopped');
    expect(transitions.at(-1)).toMatchObject({ input: 'poweroff', from: 'running', to: 'stopped' });
  });
});

describe('Hypervisor memory budget', () => {
  it('refuses a VM that does not fit, saying how much is free and how much it asked, and frees at delete', async () => {
    const { hv } = makeRig({ budgetMiB: 600 });
    await hv.create({ image: 'big', name: 'big-1' });
    await expect(hv.create({ image: 'big', name: 'big-2' })).rejects.toThrow(
      "cannot create VM 'big-2': it asks for 512 MiB but only 88 MiB of the 600 MiB budget is free",
    );
    expect(hv.has('big-2')).toBe(false);
    await hv.create({ image: 'x86-busybox', name: 'small', memoryMiB: 80 });
    await hv.delete('big-1');
    await hv.create({ image: 'big', name: 'big-2' });
    expect(hv.memoryUsage().freeBytes).toBe(8 * MiB);
  });

  it('refuses a clone that does not fit without disturbing the source', async () => {
    const { hv, transitions } = makeRig({ budgetMiB: 100 });
    await bootedVm(hv, 'a');
    const count = transitions.length;
    await expect(hv.clone('a')).rejects.toThrow(/asks for 64 MiB but only 36 MiB/);
    expect(transitions.length).toBe(count);
    expect(hv.get('a').state).toBe('running');
  });
});

describe('Hypervisor snapshots and clones', () => {
  it('snapshot, write a file, restore: the file is gone and the VM runs', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'touch before');
    const snap = await hv.snapshot('a');
    expect(hv.get('a').state).toBe('running'); // a running VM keeps running
    await run(hv, 'a', 'touch after');
    expect(await run(hv, 'a', 'ls')).toBe('after before');
    expect((await hv.restore('a', snap)).state).toBe('running');
    expect(await run(hv, 'a', 'ls')).toBe('before');
  });

  it('restores a stopped VM from a snapshot', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'touch x');
    const snap = await hv.snapshot('a');
    await hv.stop('a');
    await hv.restore('a', snap);
    expect(hv.get('a')).toMatchObject({ state: 'running', ready: true });
    expect(await run(hv, 'a', 'ls')).toBe('x');
  });

  it('refuses a damaged snapshot or one of another machine size, and leaves the VM as it was', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    const snap = await hv.snapshot('a');
    const damaged = snap.slice();
    damaged[damaged.length - 40] ^= 0xff;
    await expect(hv.restore('a', damaged)).rejects.toThrow(/cannot restore VM 'a': snapshot is corrupted/);
    await expect(hv.restore('a', new Uint8Array(10))).rejects.toThrow(/not a Tabvisor snapshot/);
    await hv.create({ image: 'x86-busybox', name: 'wide', memoryMiB: 128 });
    await expect(hv.restore('wide', snap)).rejects.toThrow(
      "cannot restore VM 'wide' (v86, 128 MiB) from a snapshot of a v86 machine with 64 MiB",
    );
    expect(hv.get('a').state).toBe('running');
    expect(hv.get('wide').state).toBe('created');
  });

  it('clones a VM: same files, new identity, independent afterwards', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'touch shared');
    const clone = await hv.clone('a', { name: 'a2' });
    const source = hv.get('a');
    expect(clone.state).toBe('running');
    expect(clone.ready).toBe(true);
    expect(clone.identity.mac).not.toBe(source.identity.mac);
    expect(clone.identity.entropySeed).not.toBe(source.identity.entropySeed);
    expect(clone.identity.uuid).not.toBe(source.identity.uuid);
    expect(clone.identity.clonedFrom).toBe(source.id);
    expect(clone.identity.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(await run(hv, 'a2', 'ls')).toBe('shared');
    await run(hv, 'a2', 'touch mine');
    expect(await run(hv, 'a', 'ls')).toBe('shared');
    expect(await run(hv, 'a2', 'ls')).toBe('mine shared');
    expect(hv.memoryUsage().reservedBytes).toBe(128 * MiB);
  });

  it('exports a snapshot file and imports it as a new VM, keeping or renewing the identity', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'touch exported');
    const { fileName, bytes } = await hv.exportSnapshot('a');
    expect(fileName).toMatch(/^a-.*\.tvsnap$/);
    const same = await hv.importSnapshot(bytes, { name: 'moved' });
    expect(same.identity).toEqual(hv.get('a').identity);
    const fresh = await hv.importSnapshot(bytes, { name: 'copy', identity: 'new' });
    expect(fresh.identity.mac).not.toBe(hv.get('a').identity.mac);
    expect(await run(hv, 'copy', 'ls')).toBe('exported');
  });
});

describe('Hypervisor migration', () => {
  it('moves a running VM to the other host with its state, and reports the pause', async () => {
    const { hv, transitions } = makeRig({ poolSize: 2 });
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'touch travels');
    const from = hv.get('a').host!;
    const report = await hv.migrate('a');
    expect(report).toMatchObject({ fromHost: from, toHost: 1 - from, vm: { state: 'running', host: 1 - from, ready: true } });
    expect(report.pauseMs).toBeGreaterThanOrEqual(0);
    expect(report.stateBytes).toBeGreaterThan(0);
    expect(hv.hostLoad()[from]).toBe(0);
    expect(await run(hv, 'a', 'ls')).toBe('travels');
    expect(transitions.at(-1)).toMatchObject({ input: 'migrate', from: 'running', to: 'running' });
  });

  it('keeps a paused VM paused', async () => {
    const { hv } = makeRig({ poolSize: 2 });
    await bootedVm(hv, 'a');
    await hv.pause('a');
    const report = await hv.migrate('a');
    expect(report.vm.state).toBe('paused');
    await hv.resume('a');
    expect(await run(hv, 'a', 'echo moved')).toBe('moved');
  });

  it('leaves the VM running where it was when the target host fails', async () => {
    const { hv, hosts } = makeRig({ poolSize: 2 });
    await bootedVm(hv, 'a');
    await bootedVm(hv, 'b'); // starts the second host
    const slot = hv.get('a').host!;
    hosts[1 - slot]!.host.create = () => Promise.reject(new Error('out of memory'));
    await expect(hv.migrate('a')).rejects.toThrow(`cannot migrate VM 'a': out of memory; it stays on worker ${slot + 1}`);
    expect(hv.get('a')).toMatchObject({ state: 'running', host: slot });
    expect(await run(hv, 'a', 'echo still')).toBe('still');
  });

  it('refuses what makes no sense', async () => {
    const { hv } = makeRig({ poolSize: 1 });
    await bootedVm(hv, 'a');
    await expect(hv.migrate('a')).rejects.toThrow("cannot migrate VM 'a': the pool has only one host");
    await expect(hv.migrate('a', { toHost: 0 })).rejects.toThrow("cannot migrate VM 'a': it already runs on host 0");
    await hv.stop('a');
    await expect(hv.migrate('a')).rejects.toThrow("cannot migrate VM 'a': it is stopped (migrate is allowed when running or paused)");
  });
});

describe('Hypervisor and CLI snapshots', () => {
  it('imports a snapshot written the way `tabvisor run --snapshot-out` writes it', async () => {
    const { hv } = makeRig();
    const state = new TextEncoder().encode(JSON.stringify({ files: ['from-cli'], instructions: 0 }));
    const file = await new SnapshotWriter({ engine: 'v86', image: 'x86-busybox', memoryMiB: 64, extra: { cmdline: 'console=ttyS0' } })
      .addSection(ENGINE_STATE_SECTION, state)
      .encode();
    const vm = await hv.importSnapshot(file);
    expect(vm).toMatchObject({ name: 'x86-busybox-1', state: 'running', weight: 1 });
    expect(vm.identity.mac).toMatch(/^52:54:00/);
    expect(await run(hv, vm.name, 'ls')).toBe('from-cli');
  });

  it('writes the engine state where the CLI reads it', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    const snap = await readSnapshot(await hv.snapshot('a'));
    expect(snap.sectionNames()).toEqual([ENGINE_STATE_SECTION]);
    expect(snap.metadata).toMatchObject({ engine: 'v86', image: 'x86-busybox', memoryMiB: 64 });
  });
});

describe('Hypervisor isolation', () => {
  it('an engine crash marks only that VM crashed; it can be reset', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    await bootedVm(hv, 'b');
    await hv.sendConsole('a', 'crash\n');
    await waitFor(() => hv.get('a').state === 'crashed');
    expect(hv.get('a').crashReason).toBe('guest hit a fake bug');
    expect(await run(hv, 'b', 'echo still here')).toBe('still here');
    await hv.reset('a');
    await hv.waitUntilReady('a', 5000);
    expect(await run(hv, 'a', 'echo again')).toBe('again');
  });

  it('a dead worker crashes the VMs on it and no other; a reset starts them on a fresh worker', async () => {
    const { hv, hosts } = makeRig({ poolSize: 2 });
    await bootedVm(hv, 'a');
    await bootedVm(hv, 'b');
    const slotOfA = hv.get('a').host!;
    hosts[slotOfA]!.kill('worker exited (code 1)');
    expect(hv.get('a')).toMatchObject({ state: 'crashed', host: undefined });
    expect(hv.get('a').crashReason).toBe(`its host (worker ${slotOfA + 1}) died: worker exited (code 1)`);
    expect(await run(hv, 'b', 'echo alive')).toBe('alive');
    await hv.reset('a');
    await hv.waitUntilReady('a', 5000);
    expect(hosts.length).toBe(3); // a new worker took the dead one's slot
    expect(await run(hv, 'a', 'echo reborn')).toBe('reborn');
  });

  it('a call pending on a worker that dies fails instead of hanging', async () => {
    const { hv, hosts } = makeRig({ poolSize: 1 });
    await bootedVm(hv, 'a');
    const host = hosts[0]!.host;
    let reached!: () => void;
    const called = new Promise<void>((r) => (reached = r));
    host.pause = () => {
      reached();
      return new Promise(() => {}); // the worker never answers
    };
    const pending = hv.pause('a');
    await called;
    hosts[0]!.kill();
    await expect(pending).rejects.toThrow(/cannot pause VM 'a': it is crashed now/);
    expect(hv.get('a').state).toBe('crashed');
  });

  it('a failed console write is reported but does not mark the VM crashed (the exit event decides)', async () => {
    const { hv, hosts } = makeRig({ poolSize: 1 });
    await bootedVm(hv, 'a');
    hosts[0]!.host.sendConsole = () => {
      throw new Error('cannot sendConsole VM vm-1~1: it is stopped');
    };
    await expect(hv.sendConsole('a', 'ls\n')).rejects.toThrow(
      "console input of VM 'a' failed: cannot sendConsole VM vm-1~1: it is stopped",
    );
    expect(hv.get('a').state).toBe('running');
  });

  it('a host that dies while starting does not take its slot: the next create starts a new one', async () => {
    let started = 0;
    const hv = new Hypervisor({
      images: [image('x86-busybox')],
      memoryBudgetBytes: 1024 * MiB,
      poolSize: 1,
      hosts: async (index) => {
        const h = killableHost(index);
        if (started++ === 0) {
          const subscribe = h.connection.port.subscribe.bind(h.connection.port);
          h.connection.port.subscribe = async (listener) => {
            const id = await subscribe(listener);
            h.kill('module failed to load');
            return id;
          };
        }
        return h.connection;
      },
    });
    rig = { hv, hosts: [], transitions: [] };
    await expect(hv.create({ image: 'x86-busybox', name: 'a' })).rejects.toThrow(
      "cannot create VM 'a' (image x86-busybox): worker 1 died while starting: module failed to load",
    );
    await hv.create({ image: 'x86-busybox', name: 'a' });
    await hv.start('a');
    await hv.waitUntilReady('a', 5000);
    expect(started).toBe(2);
  });

  it('reports an image whose engine is not available and registers no VM', async () => {
    const { hv } = makeRig();
    await expect(hv.create({ image: 'riscv64-busybox', name: 'rv' })).rejects.toThrow(
      "cannot create VM 'rv' (image riscv64-busybox): the rv64 Linux engine is not available yet",
    );
    expect(hv.has('rv')).toBe(false);
    expect(hv.memoryUsage().reservedBytes).toBe(0);
    expect(hv.hostLoad()).toEqual([0, 0]);
  });
});

describe('Hypervisor scheduling parameters', () => {
  it('hands weight and cap to a host that time-slices, and says when a host cannot', async () => {
    const { hv, hosts } = makeRig({ poolSize: 1 });
    await hv.create({ image: 'x86-busybox', name: 'plain' });
    expect((await hv.setSchedule('plain', { weight: 3 })).enforced).toBe(false);
    const seen: Array<[string, { weight: number; capPercent: number | undefined }]> = [];
    const port = hosts[0]!.connection.port;
    port.setSchedule = (id, params) => {
      seen.push([id, params as { weight: number; capPercent: number | undefined }]);
      return { weight: true, cap: true };
    };
    await hv.create({ image: 'x86-busybox', name: 'capped', weight: 2, capPercent: 25 });
    const result = await hv.setSchedule('capped', { capPercent: undefined });
    expect(result).toMatchObject({ enforced: true, weight: 2, capPercent: undefined });
    expect(seen.map(([, p]) => p)).toEqual([
      { weight: 2, capPercent: 25 },
      { weight: 2, capPercent: undefined },
    ]);
    await expect(hv.setSchedule('capped', { weight: 0 })).rejects.toThrow("VM 'capped': weight must be a number from 0.1 to 1000, got 0");
  });
});

describe('Hypervisor caps on engines with their own loop (duty cycle in the host)', () => {
  /**
   * Counts the pauses and resumes the VM's engine receives (the host's duty cycle calls the
   * engine directly) and tells the host's view of the VM's state.
   */
  function spy(host: KillableHost) {
    const calls = { pause: 0, resume: 0 };
    const proto = FakeEngine.prototype;
    const { pause, resume } = proto;
    proto.pause = function (this: FakeEngine) {
      calls.pause++;
      return pause.call(this);
    };
    proto.resume = function (this: FakeEngine) {
      calls.resume++;
      return resume.call(this);
    };
    undoSpies.push(() => Object.assign(proto, { pause, resume }));
    return { calls, hostState: () => host.host.list()[0]?.state };
  }

  it('pauses and resumes a capped VM in its host while its lifecycle state stays running', async () => {
    const { hv, hosts, transitions } = makeRig({ poolSize: 1, capPeriodMs: 20 });
    await hv.create({ image: 'x86-busybox', name: 'a', capPercent: 25 });
    const { calls } = spy(hosts[0]!);
    await hv.start('a');
    await hv.waitUntilReady('a', 5000);
    await waitFor(() => calls.pause >= 3 && calls.resume >= 3);
    expect(transitions.map((t) => t.input)).toEqual(['create', 'start', 'booted']);
    expect(hv.get('a').state).toBe('running');
    // Input typed while throttled is held and delivered when the cycle resumes it.
    expect(await run(hv, 'a', 'echo through the cap')).toBe('through the cap');
  });

  it('a user pause during the cycle stops it; resume starts it again', async () => {
    const { hv, hosts } = makeRig({ poolSize: 1, capPeriodMs: 20 });
    await hv.create({ image: 'x86-busybox', name: 'a', capPercent: 10 });
    const { calls, hostState } = spy(hosts[0]!);
    await hv.start('a');
    await waitFor(() => calls.pause >= 2);
    await hv.pause('a');
    const resumes = calls.resume;
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.resume).toBe(resumes); // nothing resumes a paused VM behind the user's back
    expect(hostState()).toBe('paused');
    await hv.resume('a');
    await waitFor(() => calls.pause >= 4);
    expect(await run(hv, 'a', 'echo ok')).toBe('ok');
  });

  it('lifting the cap ends the cycle with the VM running in its host', async () => {
    const { hv, hosts } = makeRig({ poolSize: 1, capPeriodMs: 20 });
    await hv.create({ image: 'x86-busybox', name: 'a', capPercent: 50 });
    const { calls, hostState } = spy(hosts[0]!);
    await hv.start('a');
    await waitFor(() => calls.pause >= 2);
    const result = await hv.setSchedule('a', { capPercent: undefined });
    expect(result.enforced).toBe(true);
    await waitFor(() => hostState() === 'running' && !hv.get('a').throttled);
    const pauses = calls.pause;
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.pause).toBe(pauses);
  });

  it('snapshots and restores a capped VM', async () => {
    const { hv } = makeRig({ poolSize: 1, capPeriodMs: 20 });
    await hv.create({ image: 'x86-busybox', name: 'a', capPercent: 30 });
    await hv.start('a');
    await hv.waitUntilReady('a', 5000);
    await run(hv, 'a', 'touch one');
    const snap = await hv.snapshot('a');
    await run(hv, 'a', 'touch two');
    await hv.restore('a', snap);
    expect(await run(hv, 'a', 'ls')).toBe('one');
    expect(hv.get('a').state).toBe('running');
  });
});

describe('Hypervisor stats', () => {
  it('reports instructions, memory and a CPU share between 0 and 1', async () => {
    const { hv } = makeRig();
    await bootedVm(hv, 'a');
    await run(hv, 'a', 'echo work');
    const s = await hv.stats('a');
    expect(s.instructions).toBeGreaterThanOrEqual(1000);
    expect(s.memoryBytes).toBe(64 * MiB);
    expect(s.reservedBytes).toBe(64 * MiB);
    expect(s.cpuShare).toBeGreaterThanOrEqual(0);
    expect(s.cpuShare).toBeLessThanOrEqual(1);
    await hv.stop('a');
    expect(await hv.stats('a')).toMatchObject({ state: 'stopped', instructions: 0, reservedBytes: 64 * MiB });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
