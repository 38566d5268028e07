// Assembles small test programs with the cross toolchain into .cache/core-unit/ (cached by content).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CACHE = join(ROOT, '.cache', 'core-unit');
const GCC = 'riscv64-linux-gnu-gcc';
const OBJCOPY = 'riscv64-linux-gnu-objcopy';

export const haveToolchain = spawnSync(GCC, ['--version']).status === 0;

const LINK = `OUTPUT_ARCH(riscv)
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text.init) *(.text*) }
  . = ALIGN(0x1000);
  .tohost : { *(.tohost) }
  . = ALIGN(0x1000);
  .data : { *(.data*) *(.rodata*) *(.sdata*) }
  .bss : { *(.bss*) *(.sbss*) }
  _end = .;
}
`;

export interface BuildOptions {
  march?: string;
  /** Extra C sources (paths) linked after the assembly. */
  cflags?: string[];
}

/** Assembles and links `source` (GNU as syntax, defines _start); returns the ELF path. */
export function assemble(source: string, opts: BuildOptions = {}): string {
  const march = opts.march ?? 'rv64gc';
  const key = createHash('sha256').update(LINK + march + source + (opts.cflags ?? []).join(' ')).digest('hex').slice(0, 16);
  mkdirSync(CACHE, { recursive: true });
  const elf = join(CACHE, `${key}.elf`);
  if (existsSync(elf)) return elf;
  const src = join(CACHE, `${key}.S`);
  const ld = join(CACHE, 'link.ld');
  writeFileSync(src, source);
  writeFileSync(ld, LINK);
  execFileSync(GCC, [
    `-march=${march}`, '-mabi=lp64d', '-static', '-nostdlib', '-nostartfiles', '-mcmodel=medany',
    '-fno-pie', '-no-pie', '-Wl,--build-id=none', '-Wl,--no-warn-rwx-segments', '-T', ld,
    ...(opts.cflags ?? []), src, '-o', elf + '.tmp',
  ]);
  execFileSync('mv', [elf + '.tmp', elf]);
  return elf;
}

/** Raw bytes of the .text section of an assembled source (for encoding tests). */
export function textBytes(source: string, march = 'rv64gc'): Uint8Array {
  const elf = assemble(source, { march });
  const bin = elf + '.text.bin';
  if (!existsSync(bin)) execFileSync(OBJCOPY, ['-O', 'binary', '--only-section=.text', elf, bin]);
  return new Uint8Array(readFileSync(bin));
}

export function readElf(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
