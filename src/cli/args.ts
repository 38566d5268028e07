// Command-line parsing: argv in, a checked description of what to do out. No file access here;
// every mistake becomes a UsageError with one line saying what is wrong.

import type { EngineKind } from '../engines/engine.js';
import { checkRelayUrl } from '../devices/backends/wisp-client.js';
import { MAX_TIMEOUT_SEC } from './deadline.js';
import { UsageError } from './errors.js';

export interface RunOptions {
  image?: string;
  kernel?: string;
  firmware?: string;
  initrd?: string;
  append?: string;
  memoryMiB?: number;
  engine?: EngineKind;
  timeoutSec?: number;
  stats: boolean;
  snapshotOut?: string;
  restore?: string;
  disk?: string;
  diskWriteBack: boolean;
  /** The guest's writes to --disk persist in this overlay file (the disk file stays read-only). */
  diskOverlay?: string;
  /** Console text after which piped stdin is fed to the guest; '' expects none (console.ts). */
  readyMarker?: string;
  /** A host folder shared with the guest over 9p (read-only with shareReadOnly). */
  share?: string;
  shareReadOnly: boolean;
  /** Network: wait for one peer on this loopback port, or connect to one (QEMU socket framing). */
  netListen?: number;
  netConnect?: { host: string; port: number };
  /** Network: a card on a private network whose gateway reaches the internet through this WISP relay. */
  netRelay?: string;
  /** Live migration: wait for a VM on this loopback port and run it; or send the VM there once ready. */
  migrateListen?: number;
  migrateTo?: { host: string; port: number };
}

export type Command =
  | { kind: 'help'; topic?: 'run' }
  | { kind: 'version' }
  | { kind: 'images' }
  | { kind: 'run'; options: RunOptions };

type ValueKey = 'image' | 'kernel' | 'firmware' | 'initrd' | 'append' | 'mem' | 'engine' | 'timeout' |
  'snapshotOut' | 'restore' | 'disk' | 'diskOverlay' | 'readyMarker' | 'share' | 'netListen' | 'netConnect' | 'netRelay' | 'migrateListen' | 'migrateTo';
type FlagKey = 'stats' | 'diskWriteBack' | 'shareReadOnly' | 'help';

const VALUE_OPTIONS: Record<string, ValueKey> = {
  '--image': 'image',
  '--kernel': 'kernel',
  '--firmware': 'firmware',
  '--initrd': 'initrd',
  '--append': 'append',
  '--mem': 'mem',
  '--engine': 'engine',
  '--timeout': 'timeout',
  '--snapshot-out': 'snapshotOut',
  '--restore': 'restore',
  '--disk': 'disk',
  '--disk-overlay': 'diskOverlay',
  '--ready-marker': 'readyMarker',
  '--share': 'share',
  '--net-listen': 'netListen',
  '--net-connect': 'netConnect',
  '--net-relay': 'netRelay',
  '--migrate-listen': 'migrateListen',
  '--migrate-to': 'migrateTo',
};

const FLAG_OPTIONS: Record<string, FlagKey> = {
  '--stats': 'stats',
  '--disk-write-back': 'diskWriteBack',
  '--share-ro': 'shareReadOnly',
  '--help': 'help',
  '-h': 'help',
};

const COMMANDS = ['run', 'images', 'help'];

export function parseArgs(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given (try `tabvisor --help`)');
  if (first === '--help' || first === '-h' || first === 'help') {
    if (rest.length === 0) return { kind: 'help' };
    if (rest.length === 1 && rest[0] === 'run') return { kind: 'help', topic: 'run' };
    throw new UsageError(`unexpected argument '${rest[0]}' after ${first}`);
  }
  if (first === '--version' || first === '-V') {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}' after ${first}`);
    return { kind: 'version' };
  }
  if (first === 'images') {
    if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) return { kind: 'help' };
    if (rest.length > 0) throw new UsageError(`'images' takes no arguments (got '${rest[0]}')`);
    return { kind: 'images' };
  }
  if (first === 'run') return parseRun(rest);
  if (first.startsWith('-')) {
    throw new UsageError(`unknown option '${first}' before a command (commands: ${COMMANDS.join(', ')})`);
  }
  throw new UsageError(`unknown command '${first}' (commands: ${COMMANDS.join(', ')})`);
}

function parseRun(argv: readonly string[]): Command {
  const values: Partial<Record<ValueKey, string>> = {};
  const flags: Partial<Record<FlagKey, boolean>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const flag = FLAG_OPTIONS[name];
    if (flag) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      if (flags[flag]) throw new UsageError(`${name} given twice`);
      flags[flag] = true;
      continue;
    }
    const key = VALUE_OPTIONS[name];
    if (!key) throw new UsageError(`unknown option '${name}'${suggest(name)} (see \`tabvisor run --help\`)`);
    let value: string | undefined;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) {
        throw new UsageError(`${name} needs a value`);
      }
      i++;
    }
    if (values[key] !== undefined) throw new UsageError(`${name} given twice`);
    if (value === '' && key !== 'append' && key !== 'readyMarker') throw new UsageError(`${name} needs a value`);
    values[key] = value;
  }
  if (flags.help) return { kind: 'help', topic: 'run' };

  const options: RunOptions = { stats: !!flags.stats, diskWriteBack: !!flags.diskWriteBack, shareReadOnly: !!flags.shareReadOnly };
  options.image = values.image;
  options.kernel = values.kernel;
  options.firmware = values.firmware;
  options.initrd = values.initrd;
  options.append = values.append;
  options.snapshotOut = values.snapshotOut;
  options.restore = values.restore;
  options.disk = values.disk;
  options.diskOverlay = values.diskOverlay;
  options.readyMarker = values.readyMarker;
  options.share = values.share;
  if (values.netListen !== undefined) options.netListen = parsePort(values.netListen, '--net-listen');
  if (values.netConnect !== undefined) options.netConnect = parseHostPort(values.netConnect);
  if (values.netRelay !== undefined) {
    const why = checkRelayUrl(values.netRelay);
    if (why !== undefined) throw new UsageError(`--net-relay: ${why}`);
    options.netRelay = values.netRelay;
  }
  if (values.migrateListen !== undefined) options.migrateListen = parsePort(values.migrateListen, '--migrate-listen');
  if (values.migrateTo !== undefined) options.migrateTo = parseHostPort(values.migrateTo, '--migrate-to');
  if (values.mem !== undefined) options.memoryMiB = parseMemory(values.mem);
  if (values.timeout !== undefined) options.timeoutSec = parseTimeout(values.timeout);
  if (values.engine !== undefined) {
    if (values.engine !== 'v86' && values.engine !== 'rv64') {
      throw new UsageError(`--engine must be rv64 or v86 (got '${values.engine}')`);
    }
    options.engine = values.engine;
  }
  checkCombination(options);
  return { kind: 'run', options };
}

function checkCombination(o: RunOptions): void {
  if (o.migrateListen !== undefined) {
    // The machine arrives whole from the sender; --mem is the largest one this side takes.
    for (const [flag, set] of [['--image', o.image], ['--kernel', o.kernel], ['--firmware', o.firmware], ['--initrd', o.initrd],
      ['--append', o.append], ['--restore', o.restore], ['--disk', o.disk], ['--share', o.share], ['--snapshot-out', o.snapshotOut],
      ['--net-listen', o.netListen], ['--net-connect', o.netConnect], ['--net-relay', o.netRelay], ['--migrate-to', o.migrateTo], ['--engine', o.engine]] as const) {
      if (set !== undefined) throw new UsageError(`${flag} cannot be combined with --migrate-listen (the machine comes from the sender)`);
    }
    return;
  }
  if (o.migrateTo !== undefined && o.snapshotOut !== undefined) throw new UsageError('give either --migrate-to or --snapshot-out, not both');
  if (o.restore !== undefined) {
    for (const [flag, set] of [['--image', o.image], ['--kernel', o.kernel], ['--firmware', o.firmware],
      ['--initrd', o.initrd], ['--append', o.append], ['--mem', o.memoryMiB]] as const) {
      if (set !== undefined) throw new UsageError(`${flag} cannot be combined with --restore (the snapshot holds the whole machine)`);
    }
  } else if (o.image === undefined && o.kernel === undefined) {
    throw new UsageError('nothing to run: give --image NAME, --kernel FILE or --restore FILE');
  }
  if (o.image !== undefined && o.kernel !== undefined) throw new UsageError('give either --image or --kernel, not both');
  if (o.image !== undefined && o.firmware !== undefined) {
    throw new UsageError('--firmware goes with --kernel (an --image brings its own firmware)');
  }
  if (o.image !== undefined && o.initrd !== undefined) {
    throw new UsageError('--initrd goes with --kernel (an --image brings its own initrd)');
  }
  if (o.diskWriteBack && o.disk === undefined) throw new UsageError('--disk-write-back needs --disk FILE');
  if (o.diskOverlay !== undefined && o.disk === undefined) throw new UsageError('--disk-overlay needs --disk FILE (the base image under the overlay)');
  if (o.diskOverlay !== undefined && o.diskWriteBack) {
    throw new UsageError('give either --disk-overlay (the disk file stays as it is) or --disk-write-back (writes go into it), not both');
  }
  if (o.diskOverlay !== undefined && o.diskOverlay === o.disk) throw new UsageError('--disk-overlay must not name the file given to --disk');
  if (o.shareReadOnly && o.share === undefined) throw new UsageError('--share-ro needs --share DIR');
  const nets = [['--net-listen', o.netListen], ['--net-connect', o.netConnect], ['--net-relay', o.netRelay]].filter(([, v]) => v !== undefined).map(([f]) => f);
  if (nets.length === 2) throw new UsageError(`give either ${nets[0]} or ${nets[1]}, not both`);
  if (nets.length > 2) throw new UsageError(`give one of ${nets.join(', ')} (a guest has one network card)`);
  if (o.snapshotOut !== undefined && o.restore !== undefined && o.snapshotOut === o.restore) {
    throw new UsageError('--snapshot-out must not name the file given to --restore');
  }
  if (o.snapshotOut !== undefined && o.disk !== undefined && o.snapshotOut === o.disk) {
    throw new UsageError('--snapshot-out must not name the file given to --disk');
  }
}

const MEMORY_UNITS: Record<string, number> = { '': 1, k: 1 / 1024, m: 1, g: 1024 };
/** Guest RAM bounds over all engines (rv64: 16..2048 MiB, v86: 1..2048 MiB; each engine checks its own). */
export const MIN_MEMORY_MIB = 1;
export const MAX_MEMORY_MIB = 2048;

/** "128M", "1G", "512" (MiB), "131072K", with optional "iB"/"B" suffix; whole MiB only. */
export function parseMemory(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--mem must be a size like 128M or 1G (got '${text}')`);
  const mib = Number(m[1]) * MEMORY_UNITS[m[2].toLowerCase()];
  if (!Number.isInteger(mib)) throw new UsageError(`--mem must be a whole number of MiB (got '${text}')`);
  if (mib < MIN_MEMORY_MIB) throw new UsageError(`--mem must be at least ${MIN_MEMORY_MIB}M (got '${text}')`);
  if (mib > MAX_MEMORY_MIB) {
    throw new UsageError(`--mem ${text} is more than the largest guest RAM, ${MAX_MEMORY_MIB}M (2G)`);
  }
  return mib;
}

/** A TCP port for --net-listen (0 is not allowed: the peer must know it). */
function parsePort(text: string, flag: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`${flag} takes a port from 1 to 65535 (got '${text}')`);
  return port;
}

/** [HOST:]PORT for --net-connect (HOST defaults to 127.0.0.1). */
function parseHostPort(text: string, flag = '--net-connect'): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  const host = (i < 0 ? '127.0.0.1' : text.slice(0, i)).replace(/^\[|\]$/g, '');
  const port = parsePort(i < 0 ? text : text.slice(i + 1), flag);
  if (host === '') throw new UsageError(`${flag} needs [HOST:]PORT (got '${text}')`);
  return { host, port };
}

/** Seconds, decimals allowed, at most MAX_TIMEOUT_SEC (setTimeout's longest delay). */
export function parseTimeout(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--timeout must be a positive number of seconds (got '${text}')`);
  if (value > MAX_TIMEOUT_SEC) {
    throw new UsageError(`--timeout must be at most ${MAX_TIMEOUT_SEC} seconds (about 24.8 days; got '${text}')`);
  }
  return value;
}

function suggest(name: string): string {
  const known = [...Object.keys(VALUE_OPTIONS), ...Object.keys(FLAG_OPTIONS)].filter((k) => k.startsWith('--'));
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best ? `; did you mean ${best}?` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}
