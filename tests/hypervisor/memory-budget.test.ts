import { describe, expect, it } from 'vitest';
import { MemoryBudget, formatBytes } from '../../src/hypervisor/memory-budget.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';

const MiB = 1024 * 1024;

describe('MemoryBudget', () => {
  it('reserves at create and refuses a VM that does not fit, saying what is free and what it asked', () => {
    const budget = new MemoryBudget(256 * MiB);
    budget.reserve('a', 'web', 128 * MiB);
    budget.reserve('b', 'db', 64 * MiB);
    expect(budget.freeBytes).toBe(64 * MiB);
    let error: unknown;
    try {
      budget.reserve('c', 'lab-3', 128 * MiB);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HypervisorError);
    expect((error as HypervisorError).code).toBe('no-memory');
    expect((error as Error).message).toBe(
      "cannot create VM 'lab-3': it asks for 128 MiB but only 64 MiB of the 256 MiB budget is free",
    );
    expect(budget.reservedFor('c')).toBe(0);
  });

  it('releases at delete so the memory can be used again, and a double release changes nothing', () => {
    const budget = new MemoryBudget(128 * MiB);
    budget.reserve('a', 'a', 128 * MiB);
    expect(() => budget.reserve('b', 'b', 32 * MiB)).toThrow(/only 0 bytes of the 128 MiB budget is free/);
    budget.release('a');
    budget.release('a');
    expect(budget.freeBytes).toBe(128 * MiB);
    budget.reserve('b', 'b', 32 * MiB);
    expect(budget.usage()).toEqual({ totalBytes: 128 * MiB, reservedBytes: 32 * MiB, freeBytes: 96 * MiB, byVm: { b: 32 * MiB }, balloonedBytes: 0 });
  });

  it('counts what balloons hold as free, and keeps credits other VMs rely on (overcommit)', () => {
    const budget = new MemoryBudget(256 * MiB);
    budget.reserve('a', 'idle', 128 * MiB);
    budget.reserve('b', 'busy', 128 * MiB);
    expect(() => budget.reserve('c', 'new', 96 * MiB)).toThrow("cannot create VM 'new': it asks for 96 MiB but only 0 bytes of the 256 MiB budget is free");
    budget.setCredit('a', 100 * MiB);
    expect(budget.freeBytes).toBe(100 * MiB);
    budget.reserve('c', 'new', 96 * MiB);
    expect(budget.usage()).toMatchObject({ reservedBytes: 352 * MiB, freeBytes: 4 * MiB, balloonedBytes: 100 * MiB });
    // 'a' may not take back more than the 4 MiB nobody uses; more balloon is always fine.
    expect(budget.allowsCredit('a', 96 * MiB)).toBe(true);
    expect(budget.allowsCredit('a', 95 * MiB)).toBe(false);
    expect(budget.allowsCredit('a', 0)).toBe(false);
    expect(budget.allowsCredit('a', 120 * MiB)).toBe(true);
    expect(() => budget.reserve('d', 'more', 8 * MiB)).toThrow("only 4 MiB of the 256 MiB budget is free (counting 100 MiB the VMs' balloons gave back)");
    // A credit is never more than the VM's reservation; deleting the borrower frees the lender.
    budget.setCredit('b', 1024 * MiB);
    expect(budget.creditFor('b')).toBe(128 * MiB);
    budget.setCredit('b', 0);
    budget.release('c');
    expect(budget.allowsCredit('a', 0)).toBe(true);
    expect(() => budget.setTotal(100 * MiB)).toThrow(/cannot be 100 MiB: the VMs have 156 MiB reserved/);
  });

  it('refuses nonsense sizes', () => {
    expect(() => new MemoryBudget(0)).toThrow(HypervisorError);
    const budget = new MemoryBudget(MiB);
    expect(() => budget.reserve('a', 'a', -1)).toThrow("VM 'a' must ask for a positive amount of memory, got -1");
  });

  it('formats sizes the way people size VMs', () => {
    expect(formatBytes(1536 * MiB)).toBe('1.5 GiB');
    expect(formatBytes(96 * MiB)).toBe('96 MiB');
    expect(formatBytes(512 * 1024)).toBe('512 KiB');
  });
});
