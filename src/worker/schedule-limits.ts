// The values a VM's weight and CPU cap may take: the one place that says so. The hypervisor,
// the lab loader, the VM host and the scheduler all refuse anything else with these messages.
// Why bounded: a weight of 1e9 starves every neighbour for good, and a cap of 1e-300 makes the
// slice loop sleep for longer than a timer can hold (a flood of warnings, a busy loop).

/** A weight is relative: 0.1 to 1000 covers a 10 000:1 share and matches the page's form (step 0.1). */
export const WEIGHT_MIN = 0.1;
export const WEIGHT_MAX = 1000;
/** A cap is a whole or fractional percentage of one core, 1 % to 100 %; none (undefined) = uncapped. */
export const CAP_MIN_PERCENT = 1;
export const CAP_MAX_PERCENT = 100;

/** Why `weight` is refused, or undefined when it is fine (undefined = keep the current one). */
export function weightProblem(weight: number | undefined): string | undefined {
  if (weight === undefined) return undefined;
  if (typeof weight === 'number' && weight >= WEIGHT_MIN && weight <= WEIGHT_MAX) return undefined;
  return `weight must be a number from ${WEIGHT_MIN} to ${WEIGHT_MAX}, got ${String(weight)}`;
}

/** Why `capPercent` is refused, or undefined when it is fine (undefined = no cap). */
export function capProblem(capPercent: number | undefined): string | undefined {
  if (capPercent === undefined) return undefined;
  if (typeof capPercent === 'number' && capPercent >= CAP_MIN_PERCENT && capPercent <= CAP_MAX_PERCENT) return undefined;
  return `cap must be a percentage of one core from ${CAP_MIN_PERCENT} to ${CAP_MAX_PERCENT} (or none), got ${String(capPercent)}`;
}

/** The first problem with a weight/cap pair, or undefined. */
export function scheduleProblem(params: { weight?: number | undefined; capPercent?: number | undefined }): string | undefined {
  return weightProblem(params.weight) ?? capProblem(params.capPercent);
}
