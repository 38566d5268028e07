// Console input on its way to a VM's host: held while the VM is paused and delivered in order
// when it runs again, and held while a script job types on the console (runInGuest: a lab seed,
// a task check), so that what a user types meanwhile cannot mix with the script's lines; it
// follows once the job is done. (A terminal's cursor report is kept apart from what follows it
// beside the device, in the worker: src/worker/console-pacer.ts.)

import type { ManagedVm } from './managed-vm.js';

type Piece = Uint8Array | string;

const copy = (piece: Piece): Piece => (typeof piece === 'string' ? piece : piece.slice());

/** Sends a script job's own input (it goes ahead of what users type during the job). */
export type JobSend = (data: Piece) => Promise<void>;

export class ConsoleInput {
  /** VMs whose held input is being delivered (one delivery at a time per VM). */
  private readonly draining = new WeakSet<ManagedVm>();
  /** Per VM with a script job on its console: how many jobs, and the user input held meanwhile. */
  private readonly jobs = new WeakMap<ManagedVm, { count: number; held: Piece[] }>();

  constructor(private readonly deliver: (vm: ManagedVm, data: Piece) => Promise<void>) {}

  async send(vm: ManagedVm, data: Piece, fromJob = false): Promise<void> {
    const job = this.jobs.get(vm);
    if (job && !fromJob) {
      job.held.push(copy(data));
      return;
    }
    // Behind input still waiting for a resume: it must not overtake it.
    if (vm.state === 'paused' || vm.pendingInput.length > 0) {
      vm.pendingInput.push(copy(data));
      if (vm.state !== 'paused' && !this.draining.has(vm)) await this.deliverPending(vm);
      return;
    }
    await this.deliver(vm, data);
  }

  /**
   * Runs `job` with the console to itself: it types through the `send` it is given, and what
   * users type meanwhile is delivered after it, in order.
   */
  async exclusive<T>(vm: ManagedVm, job: (send: JobSend) => Promise<T>): Promise<T> {
    let held = this.jobs.get(vm);
    if (!held) this.jobs.set(vm, (held = { count: 0, held: [] }));
    held.count++;
    try {
      return await job((data) => this.send(vm, data, true));
    } finally {
      if (--held.count === 0) {
        this.jobs.delete(vm);
        for (const piece of held.held) await this.send(vm, piece).catch(() => undefined);
      }
    }
  }

  /** Input held while the VM was paused, delivered in order. */
  async deliverPending(vm: ManagedVm): Promise<void> {
    if (this.draining.has(vm)) return;
    this.draining.add(vm);
    try {
      // Each piece leaves the queue only once sent, so that send() queues what comes meanwhile.
      // A reset or restore replaces the queue (input for the old machine): then stop.
      const queue = vm.pendingInput;
      while (queue.length > 0 && queue === vm.pendingInput) {
        if (vm.state === 'paused') return; // resume delivers the rest
        await this.deliver(vm, queue[0]!);
        queue.shift();
      }
    } finally {
      this.draining.delete(vm);
    }
  }
}
