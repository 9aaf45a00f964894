import { describe, expect, test } from 'vitest';
import { workflowForTask } from '../../main/workflows/resume.js';
import type { VcEnv } from '../../main/cluster/env.js';
import { outcome } from '../support/outcome.js';

/**
 * `vlx tasks resume ID` rebuilds a task's workflow from what the DB recorded: the same kind,
 * target, lock and steps (the runner resumes only a task with the same steps), and a
 * clear refusal for what it cannot rebuild. Building a definition does no I/O.
 */
const env = {} as VcEnv;
const steps = (d: { steps: { name: string }[] }) => d.steps.map((s) => s.name);

describe('workflowForTask', () => {
  test.each([
    ['vc.start', 'web', { policy: 'cyclic', mode: 'strict', boot: 'cold' }, ['place', 'firewall', 'vms', 'finish'], 'vc:web'],
    ['vc.stop', 'web', { timeoutS: 5 }, ['mark', 'shutdown', 'cleanup'], 'vc:web'],
    ['vc.save', 'web', {}, ['mark', 'save', 'network'], 'vc:web'],
    ['vc.restore', 'web', {}, ['place', 'firewall', 'restore'], 'vc:web'],
    ['vc.destroy', 'web', {}, ['mark', 'halt', 'files', 'rows'], 'vc:web'],
    ['vm.move', 'web/vm2', { to: 'n3' }, ['move'], 'vc:web'],
  ])('%s %s', async (kind, target, params, names, lock) => {
    const def = await workflowForTask(env, { kind, target, params });
    expect({ kind: def.kind, target: def.target, lock: def.lockKey, steps: steps(def), params: def.params ?? {} })
      .toEqual({ kind, target, lock, steps: names, params: kind === 'vc.stop' || kind === 'vc.start' || kind === 'vm.move' ? params : {} });
  });

  test.each([
    ['an unknown kind', { kind: 'db.deploy', target: 'x', params: {} }, /task kind: must be a VC task/],
    ['a move without its target node', { kind: 'vm.move', target: 'web/vm2', params: {} }, /task: a vm.move task names VC\/VM and a target node/],
    ['a move target without a VM', { kind: 'vm.move', target: 'web', params: { to: 'n3' } }, /task: a vm.move task/],
  ])('refuses %s', async (_what, t, message) => {
    const err = await workflowForTask(env, t).then(() => undefined, (e: unknown) => outcome(() => { throw e; }));
    expect(err).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(message) });
  });
});
