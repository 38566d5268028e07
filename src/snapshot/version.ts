// The Tabvisor release written into snapshots and printed by `tabvisor --version`.
// Kept equal to package.json's "version" by tests/snapshot/version.test.ts (the browser build has no package.json).
export const TABVISOR_VERSION = '0.1.0';
