// Builds bare-metal RV64 programs with the Debian cross toolchain into .cache/core/, keyed by
// a hash of every input (sources, headers, flags, linker script), so a rebuild happens only
// when something changed.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LIB_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(LIB_DIR, '..', '..', '..');
export const CACHE_DIR = join(ROOT, '.cache', 'core');
export const LINKER_SCRIPT = join(LIB_DIR, 'link.ld');
export const CC = 'riscv64-linux-gnu-gcc';

const BASE_FLAGS = [
  '-nostdlib', '-nostartfiles', '-static', '-march=rv64gc', '-mabi=lp64d',
  '-mcmodel=medany', '-fno-pic', '-no-pie', '-Wl,--no-relax', '-Wl,--build-id=none',
];

/** True when the cross compiler is on PATH. */
export function haveCrossCompiler() {
  try {
    execFileSync(CC, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function headerFiles(dirs) {
  const out = [];
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort()) {
      if (/\.(h|inc)$/.test(f)) out.push(join(d, f));
    }
  }
  return out;
}

/**
 * Compiles and links `sources` (.S or .c) into an ELF in .cache/core/.
 * @param {{ name: string, sources: string[], includeDirs?: string[], cflags?: string[], linkerScript?: string }} spec
 * @returns {string} path of the ELF
 */
export function buildProgram(spec) {
  const includeDirs = spec.includeDirs ?? [];
  const cflags = spec.cflags ?? [];
  const ld = spec.linkerScript ?? LINKER_SCRIPT;
  const h = createHash('sha256');
  h.update(JSON.stringify({ BASE_FLAGS, cflags, includeDirs }));
  for (const f of [...spec.sources, ...headerFiles(includeDirs), ld]) {
    h.update(f + '\0');
    h.update(readFileSync(f));
  }
  const digest = h.digest('hex').slice(0, 16);
  mkdirSync(CACHE_DIR, { recursive: true });
  const out = join(CACHE_DIR, `${spec.name}-${digest}.elf`);
  if (existsSync(out) && statSync(out).size > 0) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const args = [
    ...BASE_FLAGS, ...cflags, ...includeDirs.map((d) => `-I${d}`), `-T${ld}`, '-o', tmp, ...spec.sources,
  ];
  try {
    execFileSync(CC, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = /** @type {{ stderr?: Buffer }} */ (e);
    throw new Error(`build of ${spec.name} failed:\n${CC} ${args.join(' ')}\n${err.stderr?.toString() ?? e}`);
  }
  renameSync(tmp, out);
  return out;
}

/** Address of a symbol in an ELF64 file (little-endian), or undefined. */
export function elfSymbol(elfPath, name) {
  const b = readFileSync(elfPath);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    if (b.readUInt32LE(sh + 4) !== 2) continue; // SHT_SYMTAB
    const off = Number(b.readBigUInt64LE(sh + 0x18));
    const size = Number(b.readBigUInt64LE(sh + 0x20));
    const link = b.readUInt32LE(sh + 0x28);
    const str = shoff + link * shentsize;
    const stroff = Number(b.readBigUInt64LE(str + 0x18));
    for (let s = off; s < off + size; s += 24) {
      const n = b.readUInt32LE(s);
      let e = stroff + n;
      while (b[e] !== 0) e++;
      if (b.toString('latin1', stroff + n, e) === name) return b.readBigUInt64LE(s + 8);
    }
  }
  return undefined;
}

export { basename };
