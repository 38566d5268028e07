// The 9p share of a v86 machine across save and restore. v86 saves its virtio-9p transport
// (queues, the mount tag) but our 9p server's fid table lives outside v86: without it a restored
// guest's mounted /mnt/host answers EBADF to everything. The table rides in v86's own info block
// under an extra key (v86's restore reads only `state` and `buffer_infos`), so the state stays
// a v86 state that every reader of v86 states (state-memory.ts) still takes.

import type { P9ServerState } from '../../devices/p9/server.js';
import { BadStateError } from '../create.js';
import { v86StateInfo } from '../state-memory.js';

/** The info-block key that carries the 9p server's fid table. */
export const P9_STATE_KEY = 'tabvisor_9p';
/** Index of the virtio-9p device in v86's CPU state (cpu.get_state: state[45] = devices.virtio_9p). */
const V86_VIRTIO_9P_INDEX = 45;

/** True when the saved machine has a virtio-9p device (the guest may have it mounted). */
export function v86StateHas9p(state: Uint8Array): boolean {
  const s = v86StateInfo(state).info.state;
  return s[V86_VIRTIO_9P_INDEX] !== null && s[V86_VIRTIO_9P_INDEX] !== undefined;
}

/** The fid table a state carries, if any. */
export function p9StateOf(state: Uint8Array): P9ServerState | undefined {
  const { info } = v86StateInfo(state);
  const saved = (info as unknown as Record<string, unknown>)[P9_STATE_KEY];
  if (saved === undefined) return undefined;
  if (typeof saved !== 'object' || saved === null) throw new BadStateError('the v86 state has a malformed 9p table');
  return saved as P9ServerState;
}

/** `state` with `p9` in its info block: the header's lengths and the buffers' base follow. */
export function withP9State(state: Uint8Array, p9: P9ServerState): Uint8Array {
  const dv = new DataView(state.buffer, state.byteOffset, state.byteLength);
  const infoLength = dv.getInt32(12, true);
  const oldBase = (16 + infoLength + 3) & ~3;
  const info = JSON.parse(new TextDecoder().decode(state.subarray(16, 16 + infoLength))) as Record<string, unknown>;
  info[P9_STATE_KEY] = p9;
  const newInfo = new TextEncoder().encode(JSON.stringify(info));
  const newBase = (16 + newInfo.length + 3) & ~3;
  const out = new Uint8Array(newBase + (state.length - oldBase));
  out.set(state.subarray(0, 16));
  out.set(newInfo, 16);
  out.set(state.subarray(oldBase), newBase);
  const odv = new DataView(out.buffer);
  odv.setInt32(8, out.length, true);
  odv.setInt32(12, newInfo.length, true);
  return out;
}
