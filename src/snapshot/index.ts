// Browser-safe entry of the snapshot container; Node file IO is in ./node-file.js.
export {
  SnapshotWriter, readSnapshot, readSnapshotMetadata, peekSnapshotEngine, SnapshotFormatError, SnapshotTooLargeError, SNAPSHOT_FORMAT_VERSION,
  ENGINE_STATE_SECTION,
  type Snapshot, type SnapshotMetadata, type SnapshotMetadataInput,
} from './format.js';
export { TABVISOR_VERSION } from './version.js';
