// What makes a VM distinguishable from its clones: a UUID, a MAC address and an entropy seed.
// A clone gets a fresh identity; an imported snapshot keeps the one it was saved with.

export interface VmIdentity {
  uuid: string;
  /** Locally administered unicast MAC, 52:54:00:xx:xx:xx (the prefix QEMU uses). */
  mac: string;
  /** 32 random bytes, hex: seeds the guest's entropy device so clones do not share a pool. */
  entropySeed: string;
  /** The VM this one was cloned from, if any. */
  clonedFrom?: string;
}

function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  globalThis.crypto.getRandomValues(bytes);
  return bytes;
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export function newIdentity(clonedFrom?: string): VmIdentity {
  const mac = ['52', '54', '00', ...Array.from(randomBytes(3), (b) => b.toString(16).padStart(2, '0'))].join(':');
  return {
    uuid: globalThis.crypto.randomUUID(),
    mac,
    entropySeed: hex(randomBytes(32)),
    ...(clonedFrom ? { clonedFrom } : {}),
  };
}

/** Accepts an identity read from a snapshot file only when every field is well formed. */
export function parseIdentity(value: unknown): VmIdentity | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.uuid !== 'string' || !/^[0-9a-f-]{36}$/i.test(v.uuid)) return undefined;
  if (typeof v.mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(v.mac)) return undefined;
  if (typeof v.entropySeed !== 'string' || !/^[0-9a-f]{64}$/i.test(v.entropySeed)) return undefined;
  return {
    uuid: v.uuid,
    mac: v.mac,
    entropySeed: v.entropySeed,
    ...(typeof v.clonedFrom === 'string' ? { clonedFrom: v.clonedFrom } : {}),
  };
}
