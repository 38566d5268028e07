// What every fuzzer exports, and the outcome classes it reports (docs/FUZZING.md).

/**
 * One input's outcome. `accepted`/`refused` are the healthy classes (refused = the documented
 * error class, with `kind` naming why, e.g. "bad-snapshot" or "needs-reset"). `defect` is input
 * the host handled without crashing but wrongly (a hostile state accepted, a running machine
 * lost): it fails the run like a crash. A thrown exception is a host crash.
 */
export interface Outcome {
  cls: 'accepted' | 'refused' | 'defect';
  kind: string;
  /** For defects: what went wrong, one line. */
  detail?: string;
}

export interface FuzzTarget {
  name: string;
  /** One line: what the inputs are. */
  about: string;
  /** Longest one input may take (ms) before it counts as a hang. */
  hangMs: number;
  /** RSS allowed above the RSS at the start of the run (bytes): the VM budget plus a fixed allowance. */
  rssAllowanceBytes: number;
  /** Loads what all inputs share (core wasm, a reference state); called once per process. */
  prepare?(): Promise<void>;
  /** Builds input `index` of `seed` and feeds it to the code under test. */
  one(seed: number, index: number): Promise<Outcome>;
}

export const accepted = (kind = 'ok'): Outcome => ({ cls: 'accepted', kind });
export const refused = (kind: string): Outcome => ({ cls: 'refused', kind });
export const defect = (kind: string, detail: string): Outcome => ({ cls: 'defect', kind, detail });

/** The first line of an error, for reports. */
export function firstLine(e: unknown): string {
  const s = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return s.split('\n')[0]!.slice(0, 300);
}
