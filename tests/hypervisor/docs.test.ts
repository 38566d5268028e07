import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VM_ACTIONS, VM_RULES, type VmInput } from '../../src/hypervisor/state-machine.js';

const doc = readFileSync(new URL('../../docs/HYPERVISOR.md', import.meta.url), 'utf8');

describe('docs/HYPERVISOR.md', () => {
  it('shows the lifecycle table exactly as VM_RULES says it', () => {
    const rows = doc
      .split('\n')
      .filter((line) => /^\| `[a-z]+` \| (action|signal) \|/.test(line))
      .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
    const documented = Object.fromEntries(rows.map(([input, kind, allowed, to]) => [input!.replace(/`/g, ''), { kind, allowed, to }]));
    expect(Object.keys(documented).sort()).toEqual(Object.keys(VM_RULES).sort());
    for (const [input, rule] of Object.entries(VM_RULES)) {
      const row = documented[input]!;
      expect(row.kind, input).toBe((VM_ACTIONS as readonly string[]).includes(input as VmInput) ? 'action' : 'signal');
      expect(row.allowed, input).toBe(rule.allowedIn.length ? rule.allowedIn.join(', ') : '(a new VM)');
      expect(row.to, input).toBe(rule.leadsTo === 'same' ? '(unchanged)' : rule.leadsTo);
    }
  });
});
