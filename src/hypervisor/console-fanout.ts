// VM consoles: output from hosts fanned out to every attached listener and kept as scrollback
// (ConsoleLog), input typed by users handed to console-input.ts (held while the VM is paused or
// a script job types on its console), and waiting for text to appear.

import { ConsoleInput, type JobSend } from './console-input.js';
import { HypervisorError } from './errors.js';
import type { ManagedVm } from './managed-vm.js';
import type { VmTransition } from './state-machine.js';
import type { VmActions } from './vm-actions.js';

export interface ConsoleAttachment {
  send(data: Uint8Array | string): Promise<void>;
  detach(): void;
}

export class ConsoleFanout {
  private readonly input: ConsoleInput;

  constructor(
    private readonly actions: VmActions,
    private readonly transitions: { on(type: 'transition', listener: (t: VmTransition) => void): () => void },
  ) {
    this.input = new ConsoleInput((vm, data) => this.actions.hostCall(vm, 'console input', (port, id) => port.sendConsole(id, data), 'throw'));
  }

  /** Output from the VM's host: kept, then handed to every listener (one that throws is reported). */
  output(vm: ManagedVm, data: Uint8Array): void {
    vm.console.append(data);
    for (const listener of [...vm.consoleListeners]) {
      try {
        listener(data);
      } catch (error) {
        console.error(`tabvisor: a console listener of VM '${vm.name}' threw:`, error);
      }
    }
  }

  attach(vm: ManagedVm, listener: (data: Uint8Array) => void, replay: boolean): ConsoleAttachment {
    if (replay) {
      const history = vm.console.bytes();
      if (history.length > 0) listener(history);
    }
    vm.consoleListeners.add(listener);
    return {
      send: (data) => this.send(vm, data),
      detach: () => {
        vm.consoleListeners.delete(listener);
      },
    };
  }

  async send(vm: ManagedVm, data: Uint8Array | string): Promise<void> {
    this.mustTake(vm);
    await this.input.send(vm, data);
  }

  /** Runs a script job with the VM's console to itself; what users type meanwhile follows it. */
  exclusive<T>(vm: ManagedVm, job: (send: JobSend) => Promise<T>): Promise<T> {
    this.mustTake(vm);
    return this.input.exclusive(vm, (send) =>
      job(async (data) => {
        this.mustTake(vm);
        await send(data);
      }),
    );
  }

  private mustTake(vm: ManagedVm): void {
    if (!vm.instance || !['booting', 'running', 'paused'].includes(vm.state)) {
      throw new HypervisorError('invalid-state', `cannot type on VM '${vm.name}': it is ${vm.state}`);
    }
  }

  /** Input typed while the VM was paused, delivered once it runs again, in order. */
  deliverPending(vm: ManagedVm): Promise<void> {
    return this.input.deliverPending(vm);
  }

  waitFor(vm: ManagedVm, text: string, options: { from?: number; timeoutMs?: number }): Promise<number> {
    const wait = vm.console.waitFor(text, options.from ?? 0);
    return new Promise<number>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        wait.cancel();
        offState();
        if (timer !== undefined) clearTimeout(timer);
      };
      const offState = this.transitions.on('transition', (t) => {
        if (t.vmId !== vm.id || !['stopped', 'crashed', 'deleted'].includes(t.to)) return;
        done();
        reject(new HypervisorError('invalid-state', `VM '${vm.name}' ${t.to === 'crashed' ? `crashed (${t.detail ?? 'no reason'})` : `was ${t.to}`} before its console printed ${JSON.stringify(text)}`));
      });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          done();
          reject(new HypervisorError('host-failure', `VM '${vm.name}' did not print ${JSON.stringify(text)} within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
      wait.promise.then((offset) => {
        done();
        resolve(offset);
      });
    });
  }
}

