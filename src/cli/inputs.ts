// Reading the user's input files for `tabvisor run`: regular files only, each within a size limit
// (docs/CLI.md, "Limits"), so a FIFO, a device or a huge file can neither hang nor flood the run.

import { InputFileError, formatBytes, readRegularFile } from '../snapshot/node-file.js';
import { UsageError } from './errors.js';

const MiB = 1024 * 1024;
/** An ELF kernel or program may be bigger than the RAM it loads into (symbols, debug sections). */
export const MAX_ELF_BYTES = 1024 * MiB;

/** Reads `path` for `flag`; throws UsageError with one line (missing, not a regular file, empty, too big). */
export async function readInput(flag: string, path: string, maxBytes: number, limitWhy: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path, maxBytes);
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    throw new UsageError(`cannot read ${flag} ${path}: ${err.message}${err.tooBig ? ` (${limitWhy})` : ''}`);
  }
  if (bytes.length === 0) throw new UsageError(`${flag} ${path} is empty`);
  return bytes;
}

/** Kernel, initrd and firmware must fit in the guest's RAM; an ELF file may be up to MAX_ELF_BYTES. */
export async function readBootFile(flag: string, path: string, memoryMiB: number, allowElf: boolean): Promise<Uint8Array> {
  const ram = memoryMiB * MiB;
  const limit = allowElf ? Math.max(ram, MAX_ELF_BYTES) : ram;
  const bytes = await readInput(flag, path, limit, allowElf ? `the guest's RAM, or ${formatBytes(MAX_ELF_BYTES)} for an ELF file` : `the guest's RAM`);
  const isElf = bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (bytes.length > ram && !isElf) {
    throw new UsageError(`cannot read ${flag} ${path}: is ${formatBytes(bytes.length)}, more than the guest's ${formatBytes(ram)} of RAM (--mem)`);
  }
  return bytes;
}
