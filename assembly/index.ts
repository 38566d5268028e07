// Skeleton of the RV64GC core; the core issue replaces this with the hart.
export function coreVersion(): u32 {
  return 1;
}
