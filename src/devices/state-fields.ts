// Reading a device's saved fields strictly: a field must be what the device itself saves (its
// type, range and the bits the guest can set), or the state is refused. A state is never
// "repaired" into something the device never was (issue 12: hostile states).

export class DeviceStateError extends Error {
  override name = 'DeviceStateError';
}

type Fields = Record<string, unknown>;

/** An integer 0..max with no bits outside `mask` (default: all of max's). */
export function intField(st: Fields, name: string, max: number, mask = max, who = 'device'): number {
  const v = st[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max || (max <= 0xffff_ffff && (v & ~mask) !== 0)) {
    throw new DeviceStateError(`${who} state: bad ${name}`);
  }
  return v;
}

export function boolField(st: Fields, name: string, who = 'device'): boolean {
  const v = st[name];
  if (typeof v !== 'boolean') throw new DeviceStateError(`${who} state: bad ${name}`);
  return v;
}

/** An array of exactly `length` items (any length when undefined), each checked by `item`. */
export function arrayField<T>(st: Fields, name: string, length: number | undefined, item: (x: unknown) => T, who = 'device'): T[] {
  const v = st[name];
  if (!Array.isArray(v) || (length !== undefined && v.length !== length)) throw new DeviceStateError(`${who} state: bad ${name}`);
  return v.map((x) => item(x));
}

/** Item checkers for arrayField. */
export function intItem(max: number, what: string): (x: unknown) => number {
  return (x) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) throw new DeviceStateError(`device state: bad ${what}`);
    return x;
  };
}

export function boolItem(what: string): (x: unknown) => boolean {
  return (x) => {
    if (typeof x !== 'boolean') throw new DeviceStateError(`device state: bad ${what}`);
    return x;
  };
}
