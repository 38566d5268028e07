import { describe, it, expect } from 'vitest';
import { parseArgs, parseMemory, parseTimeout, type RunOptions } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/errors.js';

function run(...argv: string[]): RunOptions {
  const command = parseArgs(['run', ...argv]);
  if (command.kind !== 'run') throw new Error(`expected a run command, got ${command.kind}`);
  return command.options;
}

function usageError(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`parseArgs accepted ${JSON.stringify(argv)}`);
}

describe('tabvisor commands', () => {
  it('knows help, version and images', () => {
    expect(parseArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseArgs(['-h'])).toEqual({ kind: 'help' });
    expect(parseArgs(['help', 'run'])).toEqual({ kind: 'help', topic: 'run' });
    expect(parseArgs(['run', '--help'])).toEqual({ kind: 'help', topic: 'run' });
    expect(parseArgs(['run', '--image', 'x', '-h'])).toEqual({ kind: 'help', topic: 'run' });
    expect(parseArgs(['--version'])).toEqual({ kind: 'version' });
    expect(parseArgs(['-V'])).toEqual({ kind: 'version' });
    expect(parseArgs(['images'])).toEqual({ kind: 'images' });
  });

  it('rejects a missing, unknown or misplaced command', () => {
    expect(usageError([])).toMatch(/no command given/);
    expect(usageError(['start'])).toMatch(/unknown command 'start'/);
    expect(usageError(['--image', 'x86-busybox'])).toMatch(/unknown option '--image' before a command/);
    expect(usageError(['images', 'extra'])).toMatch(/takes no arguments/);
    expect(usageError(['--version', 'x'])).toMatch(/unexpected argument 'x'/);
    expect(usageError(['help', 'nope'])).toMatch(/unexpected argument 'nope'/);
  });
});

describe('tabvisor run options', () => {
  it('parses every option, in both --opt value and --opt=value forms', () => {
    expect(run('--image', 'x86-busybox')).toEqual({ image: 'x86-busybox', stats: false, diskWriteBack: false, shareReadOnly: false });
    const o = run('--kernel', 'k', '--firmware=f', '--initrd', 'i', '--append', 'console=ttyS0 quiet', '--mem', '256M',
      '--engine', 'rv64', '--timeout', '2.5', '--stats', '--snapshot-out', 's.tvsnap', '--disk', 'd.img',
      '--disk-write-back', '--ready-marker', '# ', '--share', 'dir', '--share-ro', '--net-connect', 'localhost:5555');
    expect(o).toEqual({
      kernel: 'k', firmware: 'f', initrd: 'i', append: 'console=ttyS0 quiet', memoryMiB: 256, engine: 'rv64',
      timeoutSec: 2.5, stats: true, snapshotOut: 's.tvsnap', disk: 'd.img', diskWriteBack: true, readyMarker: '# ',
      share: 'dir', shareReadOnly: true, netConnect: { host: 'localhost', port: 5555 },
    });
    expect(run('--image', 'x', '--net-listen', '7000').netListen).toBe(7000);
    expect(run('--image', 'x', '--net-connect', '7000').netConnect).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(usageError(['run', '--image', 'x', '--net-listen', '0'])).toBe("--net-listen takes a port from 1 to 65535 (got '0')");
    expect(usageError(['run', '--image', 'x', '--share-ro'])).toBe('--share-ro needs --share DIR');
    expect(usageError(['run', '--image', 'x', '--net-listen', '1', '--net-connect', '2'])).toBe('give either --net-listen or --net-connect, not both');
    expect(run('--image', 'x', '--net-relay', 'wss://relay.example/wisp/').netRelay).toBe('wss://relay.example/wisp/');
    expect(usageError(['run', '--image', 'x', '--net-relay', 'relay.example'])).toMatch(/^--net-relay: not a URL/);
    expect(usageError(['run', '--image', 'x', '--net-relay', 'ftp://relay.example/'])).toMatch(/^--net-relay: a relay URL starts with ws:\/\/ or wss:\/\//);
    expect(usageError(['run', '--image', 'x', '--net-relay', 'ws://r/', '--net-connect', '2'])).toBe('give either --net-connect or --net-relay, not both');
    expect(usageError(['run', '--migrate-listen', '9', '--net-relay', 'ws://r/'])).toMatch(/^--net-relay cannot be combined with --migrate-listen/);
    expect(run('--restore', 'a.tvsnap', '--timeout=10').restore).toBe('a.tvsnap');
    expect(run('--image', 'x', '--append=').append).toBe('');
    expect(run('--image', 'x', '--ready-marker=').readyMarker).toBe('');
  });

  it('rejects unknown options, suggesting the near miss', () => {
    expect(usageError(['run', '--imag', 'x'])).toBe("unknown option '--imag'; did you mean --image? (see `tabvisor run --help`)");
    expect(usageError(['run', '--image', 'x', '--fast'])).toMatch(/^unknown option '--fast' \(see/);
    expect(usageError(['run', '-m', '128'])).toMatch(/unknown option '-m'/);
  });

  it('rejects a missing value', () => {
    expect(usageError(['run', '--image'])).toBe('--image needs a value');
    expect(usageError(['run', '--image', '--stats'])).toBe('--image needs a value');
    expect(usageError(['run', '--image='])).toBe('--image needs a value');
    expect(usageError(['run', '--kernel', 'k', '--mem'])).toBe('--mem needs a value');
  });

  it('rejects stray arguments, values on flags and repeated options', () => {
    expect(usageError(['run', 'x86-busybox'])).toMatch(/unexpected argument 'x86-busybox'/);
    expect(usageError(['run', '--image', 'a', 'b'])).toMatch(/unexpected argument 'b'/);
    expect(usageError(['run', '--image', 'x', '--stats=yes'])).toBe('--stats takes no value');
    expect(usageError(['run', '--image', 'a', '--image', 'b'])).toBe('--image given twice');
    expect(usageError(['run', '--image', 'a', '--stats', '--stats'])).toBe('--stats given twice');
  });

  it('rejects bad values', () => {
    expect(usageError(['run', '--image', 'x', '--engine', 'qemu'])).toMatch(/--engine must be rv64 or v86/);
    expect(usageError(['run', '--image', 'x', '--mem', 'lots'])).toMatch(/--mem must be a size/);
    expect(usageError(['run', '--image', 'x', '--mem', '0'])).toMatch(/at least 1M/);
    expect(usageError(['run', '--image', 'x', '--timeout', '0'])).toMatch(/--timeout must be a positive number/);
    expect(usageError(['run', '--image', 'x', '--timeout', '-3'])).toMatch(/--timeout needs a value|--timeout must be/);
    expect(usageError(['run', '--image', 'x', '--timeout', 'soon'])).toMatch(/--timeout must be a positive number/);
  });

  it('rejects combinations that cannot mean anything', () => {
    expect(usageError(['run'])).toBe('nothing to run: give --image NAME, --kernel FILE or --restore FILE');
    expect(usageError(['run', '--stats'])).toMatch(/nothing to run/);
    expect(usageError(['run', '--image', 'a', '--kernel', 'k'])).toBe('give either --image or --kernel, not both');
    expect(usageError(['run', '--image', 'a', '--firmware', 'f'])).toMatch(/--firmware goes with --kernel/);
    expect(usageError(['run', '--image', 'a', '--initrd', 'i'])).toMatch(/--initrd goes with --kernel/);
    expect(usageError(['run', '--restore', 's', '--image', 'a'])).toMatch(/--image cannot be combined with --restore/);
    expect(usageError(['run', '--restore', 's', '--kernel', 'k'])).toMatch(/--kernel cannot be combined with --restore/);
    expect(usageError(['run', '--restore', 's', '--mem', '256M'])).toMatch(/--mem cannot be combined with --restore/);
    expect(usageError(['run', '--restore', 's', '--snapshot-out', 's'])).toMatch(/must not name the file given to --restore/);
    expect(usageError(['run', '--image', 'a', '--disk-write-back'])).toBe('--disk-write-back needs --disk FILE');
  });
});

describe('sizes and times', () => {
  it('reads memory sizes in MiB', () => {
    expect(parseMemory('128M')).toBe(128);
    expect(parseMemory('128m')).toBe(128);
    expect(parseMemory('128MiB')).toBe(128);
    expect(parseMemory('128')).toBe(128);
    expect(parseMemory('1G')).toBe(1024);
    expect(parseMemory('0.5G')).toBe(512);
    expect(parseMemory('131072K')).toBe(128);
    expect(() => parseMemory('1.5M')).toThrow(/whole number of MiB/);
    expect(() => parseMemory('100K')).toThrow(/whole number of MiB/);
    expect(() => parseMemory('128T')).toThrow(/size like 128M/);
    expect(() => parseMemory('999999G')).toThrow(/more than the largest guest RAM, 2048M/);
    expect(parseMemory('2G')).toBe(2048);
    expect(() => parseMemory('2049')).toThrow(/more than the largest guest RAM, 2048M/);
  });

  it('reads timeouts in seconds', () => {
    expect(parseTimeout('5')).toBe(5);
    expect(parseTimeout('0.25')).toBe(0.25);
    expect(parseTimeout('2147483')).toBe(2147483);
    expect(() => parseTimeout('2147483.5')).toThrow(/at most 2147483 seconds/);
    expect(() => parseTimeout('1e3')).toThrow(UsageError);
    expect(() => parseTimeout('')).toThrow(UsageError);
  });
});
