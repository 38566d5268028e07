// Which console the rv64 engine types on: Linux's /dev/console is the last console= of the command line.
import { describe, it, expect } from 'vitest';
import { systemConsole } from '../../src/engines/rv64/engine.js';

describe('rv64 system console from the command line', () => {
  it('takes the device of the last console=, without its options', () => {
    expect(systemConsole('console=ttyS0 earlycon=sbi')).toBe('ttyS0');
    expect(systemConsole('console=ttyS0,115200 console=hvc0 quiet')).toBe('hvc0');
    expect(systemConsole('console=hvc0 console=ttyS0')).toBe('ttyS0');
    expect(systemConsole('earlycon=sbi rdinit=/bin/sh')).toBeUndefined();
    expect(systemConsole(undefined)).toBeUndefined();
  });
});
