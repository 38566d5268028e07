// Messages for the page. Engines and the hypervisor word some refusals for the command line
// ("needs --mem 67M"); the page has no flags, so those parts are said in the page's terms.

const REWRITES: ReadonlyArray<[RegExp, (...groups: string[]) => string]> = [
  [/needs --mem (\d+)M or more/g, (mib) => `needs at least ${mib} MiB of memory (Memory field of New VM)`],
  [/--mem (\d+)M/g, (mib) => `${mib} MiB of memory`],
  [/\(--firmware, (e\.g\. [^)]*)\)/g, (example) => `(a firmware file, ${example})`],
  [/does not support --disk yet/g, () => 'does not support disks yet'],
  [/ --(firmware|kernel|initrd|disk)\b/g, (flag) => ` a ${flag} file`],
];

/** `message` with command-line wording replaced by what the page shows. */
export function pageWording(message: string): string {
  let text = message;
  for (const [pattern, rewrite] of REWRITES) text = text.replace(pattern, (_all, ...groups: string[]) => rewrite(...groups));
  return text;
}

/** The text of a thrown value, in the page's words. */
export function pageMessage(error: unknown): string {
  return pageWording(error instanceof Error ? error.message : String(error));
}
