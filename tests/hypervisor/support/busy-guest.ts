// A busy guest that proves continuity (live snapshot, restore, clone and migration tests): a
// 1 MiB file of random bytes whose md5 must survive, and a shell loop counting into /tmp/count
// that must keep counting.
import { expect } from 'vitest';
import type { Hypervisor } from '../../../src/hypervisor/hypervisor.js';
import { sh } from './guest-shell.js';

/** The guest's counter now. */
export async function counter(hv: Hypervisor, vm: string): Promise<number> {
  const text = await sh(hv, vm, 'cat /tmp/count');
  if (!/^\d+$/.test(text)) throw new Error(`VM ${vm}: /tmp/count holds ${JSON.stringify(text)}`);
  return Number(text);
}

/** The guest's counter grows between two reads a second apart (one command: v86 consoles are slow). */
export async function expectCounting(hv: Hypervisor, vm: string): Promise<void> {
  const text = await sh(hv, vm, 'a=$(cat /tmp/count); sleep 1; echo $a $(cat /tmp/count)');
  const m = /^(\d+) (\d+)$/.exec(text);
  expect(m, `counter of ${vm}: ${JSON.stringify(text)}`).not.toBeNull();
  expect(Number(m![2]), `counter of ${vm}: ${text}`).toBeGreaterThan(Number(m![1]));
}

/** Writes /tmp/blob and starts the counting loop on a guest at its shell; returns the blob's md5. */
export async function makeBusy(hv: Hypervisor, vm: string): Promise<string> {
  await sh(hv, vm, 'dd if=/dev/urandom of=/tmp/blob bs=4096 count=256 2>/dev/null');
  const blobSum = (await sh(hv, vm, 'md5sum /tmp/blob')).split(' ')[0]!;
  expect(blobSum).toMatch(/^[0-9a-f]{32}$/);
  // Written to a new file and renamed, so a read never sees it half written.
  await sh(hv, vm, '(i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; done) >/dev/null 2>&1 & true');
  await sh(hv, vm, 'sleep 1');
  await expectCounting(hv, vm);
  return blobSum;
}
