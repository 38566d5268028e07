// Console input in the hypervisor (src/hypervisor/console-input.ts): held while the VM is paused,
// held while a script job types on the console, and always delivered in order.
import { describe, expect, it } from 'vitest';
import { ConsoleInput } from '../../src/hypervisor/console-input.js';
import type { ManagedVm } from '../../src/hypervisor/managed-vm.js';

function rig() {
  const sent: string[] = [];
  let gate: Promise<void> | undefined;
  const input = new ConsoleInput(async (_vm, data) => {
    if (gate) await gate;
    sent.push(typeof data === 'string' ? data : new TextDecoder().decode(data));
  });
  const vm = { state: 'running', pendingInput: [] } as unknown as ManagedVm;
  return { input, vm, sent, slowHost: (p: Promise<void> | undefined) => (gate = p) };
}

describe('console input', () => {
  it('plain typing goes out at once, in order', async () => {
    const { input, vm, sent } = rig();
    await input.send(vm, 'ls');
    await input.send(vm, '\r');
    expect(sent).toEqual(['ls', '\r']);
  });

  it('a paused VM keeps its input until it runs again, then gets it in order', async () => {
    const { input, vm, sent } = rig();
    (vm as { state: string }).state = 'paused';
    await input.send(vm, 'a');
    await input.send(vm, new TextEncoder().encode('b'));
    expect(sent).toEqual([]);
    (vm as { state: string }).state = 'running';
    await input.send(vm, 'c'); // behind the held input, not ahead of it
    await input.deliverPending(vm);
    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('what a user types while a script job has the console follows the job, in order', async () => {
    const { input, vm, sent } = rig();
    await input.send(vm, 'ec');
    const result = await input.exclusive(vm, async (send) => {
      await send('script line 1\n');
      await input.send(vm, 'ho '); // typed meanwhile
      await send('script line 2\n');
      await input.send(vm, 'hi\r');
      expect(sent).toEqual(['ec', 'script line 1\n', 'script line 2\n']);
      return 42;
    });
    expect(result).toBe(42);
    expect(sent).toEqual(['ec', 'script line 1\n', 'script line 2\n', 'ho ', 'hi\r']);
  });

  it('a job that fails still lets the held input through', async () => {
    const { input, vm, sent } = rig();
    await expect(
      input.exclusive(vm, async (send) => {
        await send('x\n');
        await input.send(vm, 'typed');
        throw new Error('no prompt');
      }),
    ).rejects.toThrow('no prompt');
    expect(sent).toEqual(['x\n', 'typed']);
  });

  it('a queue replaced while it is delivered (a reset) is not delivered further', async () => {
    const { input, vm, sent, slowHost } = rig();
    (vm as { state: string }).state = 'paused';
    await input.send(vm, 'old-1');
    await input.send(vm, 'old-2');
    (vm as { state: string }).state = 'running';
    let open!: () => void;
    slowHost(new Promise<void>((resolve) => (open = resolve)));
    const delivering = input.deliverPending(vm);
    vm.pendingInput = []; // the machine was replaced while old-1 was on its way
    slowHost(undefined);
    open();
    await delivering;
    expect(sent).toEqual(['old-1']);
  });
});
