// Spots a marker string in a console byte stream that arrives in arbitrary chunks
// (a marker may be split across two chunks, or across many one-byte chunks).

export class MarkerWatcher {
  private readonly marker: Uint8Array;
  /** How many bytes of the marker the stream currently ends with (KMP state). */
  private matched = 0;
  private readonly fallback: Int32Array;
  private seen = false;

  constructor(marker: string) {
    if (marker.length === 0) throw new Error('empty marker');
    this.marker = new TextEncoder().encode(marker);
    this.fallback = failureTable(this.marker);
  }

  get found(): boolean {
    return this.seen;
  }

  /** Feeds bytes; returns true on the chunk that completes the marker for the first time. */
  push(chunk: Uint8Array): boolean {
    if (this.seen) return false;
    const m = this.marker;
    let j = this.matched;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      while (j > 0 && m[j] !== b) j = this.fallback[j - 1];
      if (m[j] === b) j++;
      if (j === m.length) {
        this.seen = true;
        return true;
      }
    }
    this.matched = j;
    return false;
  }
}

/** Knuth–Morris–Pratt failure function: longest proper prefix of m[0..i] that is also its suffix. */
function failureTable(m: Uint8Array): Int32Array {
  const t = new Int32Array(m.length);
  let k = 0;
  for (let i = 1; i < m.length; i++) {
    while (k > 0 && m[i] !== m[k]) k = t[k - 1];
    if (m[i] === m[k]) k++;
    t[i] = k;
  }
  return t;
}
