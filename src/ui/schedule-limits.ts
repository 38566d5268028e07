// What the page accepts for a VM's CPU weight and cap and for the memory budget. The hypervisor
// takes any positive weight; a page control that accepts 1e9 silently helps nobody, so the page
// refuses values outside these ranges with one line that names the range.

export const WEIGHT_MIN = 0.1;
export const WEIGHT_MAX = 100;
export const CAP_MIN = 1;
export const CAP_MAX = 100;
/** The memory budget of the page's VMs, in MiB: at least one small VM, at most 4 GiB. */
export const BUDGET_MIN_MIB = 64;
export const BUDGET_MAX_MIB = 4096;

/** Why `weight` cannot be used, or undefined when it can. */
export function weightProblem(weight: number | undefined): string | undefined {
  if (weight === undefined) return undefined;
  if (!Number.isFinite(weight) || weight < WEIGHT_MIN || weight > WEIGHT_MAX) {
    return `Weight must be a number from ${WEIGHT_MIN} to ${WEIGHT_MAX} (got ${show(weight)})`;
  }
  return undefined;
}

/** Why `capPercent` cannot be used, or undefined when it can (undefined means no cap). */
export function capProblem(capPercent: number | undefined): string | undefined {
  if (capPercent === undefined) return undefined;
  if (!Number.isFinite(capPercent) || capPercent < CAP_MIN || capPercent > CAP_MAX) {
    return `CPU cap must be a percentage from ${CAP_MIN} to ${CAP_MAX} (got ${show(capPercent)}); leave it empty for no cap`;
  }
  return undefined;
}

/** Why `mib` cannot be the memory budget, or undefined when it can. */
export function budgetProblem(mib: number): string | undefined {
  if (!Number.isInteger(mib) || mib < BUDGET_MIN_MIB || mib > BUDGET_MAX_MIB) {
    return `The memory budget must be a whole number of MiB from ${BUDGET_MIN_MIB} to ${BUDGET_MAX_MIB} (got ${show(mib)})`;
  }
  return undefined;
}

function show(n: number): string {
  return Number.isNaN(n) ? 'not a number' : String(n);
}
