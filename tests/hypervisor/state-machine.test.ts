import { describe, expect, it } from 'vitest';
import {
  HOST_RULES,
  hostRulesFrom,
  VM_ACTIONS,
  VM_RULES,
  VM_STATES,
  VmStateMachine,
  type VmTransition,
} from '../../src/hypervisor/state-machine.js';
import { HypervisorError } from '../../src/hypervisor/errors.js';

function machine(): { sm: VmStateMachine; log: VmTransition[] } {
  const log: VmTransition[] = [];
  const sm = new VmStateMachine('vm-1', 'lab-1', (t) => log.push(t));
  return { sm, log };
}

describe('VmStateMachine', () => {
  it('starts in created and says so with an event', () => {
    const { sm, log } = machine();
    expect(sm.state).toBe('created');
    expect(log).toEqual([{ vmId: 'vm-1', vmName: 'lab-1', input: 'create', from: 'new', to: 'created', at: expect.any(Number) }]);
  });

  it('walks a normal life: start, booted, pause, resume, stop, delete, emitting each transition', () => {
    const { sm, log } = machine();
    for (const input of ['start', 'booted', 'pause', 'resume', 'stop', 'delete'] as const) sm.apply(input);
    expect(log.map((t) => `${t.input}:${t.from}->${t.to}`)).toEqual([
      'create:new->created',
      'start:created->booting',
      'booted:booting->running',
      'pause:running->paused',
      'resume:paused->running',
      'stop:running->stopped',
      'delete:stopped->deleted',
    ]);
  });

  it('refuses an action that is not allowed, with a message naming the VM, the state and when it is allowed', () => {
    const { sm, log } = machine();
    sm.apply('start');
    sm.apply('booted');
    sm.apply('stop');
    const before = log.length;
    expect(() => sm.apply('pause')).toThrow(HypervisorError);
    expect(() => sm.apply('pause')).toThrow("cannot pause VM 'lab-1': it is stopped (pause is allowed when running)");
    expect(() => sm.check('resume')).toThrow("cannot resume VM 'lab-1': it is stopped (resume is allowed when paused)");
    expect(sm.state).toBe('stopped');
    expect(log.length).toBe(before); // a refused action changes nothing and emits nothing
  });

  it('refuses to delete a running VM (stop it first)', () => {
    const { sm } = machine();
    sm.apply('start');
    sm.apply('booted');
    expect(() => sm.check('delete')).toThrow(
      "cannot delete VM 'lab-1': it is running (delete is allowed when created, stopped or crashed)",
    );
  });

  it('ignores a signal that does not apply (a crash report for a stopped VM) instead of throwing', () => {
    const { sm, log } = machine();
    sm.apply('start');
    sm.apply('stop');
    expect(sm.apply('crash', 'worker died')).toBe(false);
    expect(sm.state).toBe('stopped');
    expect(log.at(-1)?.input).toBe('stop');
  });

  it('records why a VM crashed and lets it be reset or deleted', () => {
    const { sm, log } = machine();
    sm.apply('start');
    sm.apply('booted');
    sm.apply('crash', 'engine threw: out of bounds');
    expect(log.at(-1)).toMatchObject({ input: 'crash', from: 'running', to: 'crashed', detail: 'engine threw: out of bounds' });
    expect(sm.allows('reset')).toBe(true);
    expect(sm.allows('delete')).toBe(true);
    expect(sm.allows('pause')).toBe(false);
  });

  it('keeps the state for snapshot and clone but still emits the transition', () => {
    const { sm, log } = machine();
    sm.apply('start');
    sm.apply('booted');
    sm.apply('snapshot');
    sm.apply('clone');
    expect(sm.state).toBe('running');
    expect(log.slice(-2).map((t) => `${t.input}:${t.from}->${t.to}`)).toEqual(['snapshot:running->running', 'clone:running->running']);
  });

  it('a deleted VM accepts nothing', () => {
    const { sm } = machine();
    sm.apply('delete');
    for (const action of VM_ACTIONS) expect(sm.allows(action)).toBe(false);
    expect(() => sm.apply('start')).toThrow("cannot start VM 'lab-1': it is deleted");
  });

  it('has a rule for every action and every rule names only real states', () => {
    for (const action of VM_ACTIONS) expect(VM_RULES[action]).toBeDefined();
    for (const rule of Object.values(VM_RULES)) {
      for (const s of rule.allowedIn) expect(VM_STATES).toContain(s);
    }
  });
});

describe('HOST_RULES: the lifecycle table as a VM host reads it', () => {
  it('is derived from VM_RULES and allows what the hosts allowed before (their own table is gone)', () => {
    expect(HOST_RULES).toEqual({
      start: ['created'],
      pause: ['running'],
      resume: ['paused'],
      saveState: ['paused'],
      loadState: ['paused'],
      live: ['running', 'paused'],
      sendConsole: ['created', 'running', 'paused'],
    });
  });

  it('follows a change of VM_RULES (nothing else to edit)', () => {
    const changed = { ...VM_RULES, resume: { ...VM_RULES.resume, allowedIn: ['paused', 'running'] as const } };
    expect(hostRulesFrom(changed).resume).toEqual(['running', 'paused']);
    expect(hostRulesFrom(changed).pause).toEqual(HOST_RULES.pause);
  });
});
