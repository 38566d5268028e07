// Reading the user's input files for `tabvisor run`: regular files only, each within a size limit
// (docs/CLI.md, "Limits"), so a FIFO, a device or a huge file can neither hang nor flood the run.

import { InputFileError, formatBytes, readRegularFile } from '../snapshot/node-file.js';
import { UsageError } from './errors.js';

const MiB = 1024 * 1024;
/** An ELF kernel or program may be bigger than the RAM it loads into (symbols, debug sections). */
export const MAX_ELF_BYTES = 1024 * MiB;

/** Reads `path` for `flag`; throws UsageError with one line (missing, not a regular file, empty, too big). */
export async function readInput(flag: string, path: string, maxBytes: number | ((head: Uint8Array) => number),
  limitWhy: string | (() => string)): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path, maxBytes);
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    const why = typeof limitWhy === 'string' ? limitWhy : limitWhy();
    throw new UsageError(`cannot read ${flag} ${path}: ${err.message}${err.tooBig ? ` (${why})` : ''}`);
  }
  if (bytes.length === 0) throw new UsageError(`${flag} ${path} is empty`);
  return bytes;
}

const isElf = (b: Uint8Array): boolean => b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;

/** Kernel, initrd and firmware must fit in the guest's RAM; an ELF kernel may be up to MAX_ELF_BYTES. */
export async function readBootFile(flag: string, path: string, memoryMiB: number, allowElf: boolean): Promise<Uint8Array> {
  const ram = memoryMiB * MiB;
  let elf = false;
  const limit = (head: Uint8Array): number => {
    elf = allowElf && isElf(head);
    return elf ? Math.max(ram, MAX_ELF_BYTES) : ram;
  };
  return readInput(flag, path, limit, () => (elf ? `an ELF file: the larger of the guest RAM and ${formatBytes(MAX_ELF_BYTES)}` : `the guest's RAM, --mem`));
}
