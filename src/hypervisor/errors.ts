// The one error type the hypervisor throws for a request it refuses (wrong state, no memory,
// unknown VM, bad lab). The message is written for the person who made the request.

export type HypervisorErrorCode =
  | 'invalid-state'
  | 'no-memory'
  | 'unknown-vm'
  | 'duplicate-name'
  | 'bad-argument'
  | 'engine-unavailable'
  | 'bad-snapshot'
  | 'bad-lab'
  | 'host-failure';

export class HypervisorError extends Error {
  override readonly name = 'HypervisorError';
  constructor(
    readonly code: HypervisorErrorCode,
    message: string,
  ) {
    super(message);
  }
}
