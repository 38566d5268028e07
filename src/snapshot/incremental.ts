// Incremental snapshot files: the container of format.ts whose engine state holds only the pages
// written since a base (a whole snapshot file), named in the metadata by the base file's id.
// A file's id is its SHA-256 trailer (the hash of everything before it, checked on every read),
// so a base cannot be mistaken for another.

import { SNAPSHOT_TRAILER_BYTES } from './format.js';

/** Key in SnapshotMetadata.extra naming the base of an incremental file. */
export const INCREMENTAL_BASE_KEY = 'incrementalBase';

/** The id of a snapshot file: its SHA-256 trailer in hex. */
export function snapshotFileId(file: Uint8Array): string {
  const t = file.subarray(file.length - SNAPSHOT_TRAILER_BYTES);
  return Array.from(t, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The base id an incremental file names, undefined for a whole file; throws on a malformed one. */
export function incrementalBaseOf(extra: Record<string, unknown> | undefined): string | undefined {
  const v = extra?.[INCREMENTAL_BASE_KEY];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new RangeError('the incremental snapshot names its base in a malformed way');
  return v;
}
