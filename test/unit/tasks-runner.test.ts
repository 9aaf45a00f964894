import { describe, expect, it } from 'vitest';
import { checkWorkflow, overallProgress, resumeDecision, taskLockKey } from '../../main/tasks/runner.js';
import type { StepState, TaskState, WorkflowDef } from '../../main/tasks/types.js';

describe('resumeDecision', () => {
  const abc = ['a', 'b', 'c'];
  it.each<[string, { state: TaskState; steps: string[]; alive: boolean } | undefined, 'new' | 'resume' | 'busy']>([
    ['no earlier task', undefined, 'new'],
    ['the earlier one succeeded', { state: 'succeeded', steps: abc, alive: false }, 'new'],
    ['it failed, same steps', { state: 'failed', steps: abc, alive: false }, 'resume'],
    ['it was cancelled, same steps', { state: 'cancelled', steps: abc, alive: false }, 'resume'],
    ['its process died while running', { state: 'running', steps: abc, alive: false }, 'resume'],
    ['it still runs elsewhere', { state: 'running', steps: abc, alive: true }, 'busy'],
    ['it still runs elsewhere, other steps', { state: 'running', steps: ['x'], alive: true }, 'busy'],
    ['failed, a step more now', { state: 'failed', steps: ['a', 'b'], alive: false }, 'new'],
    ['failed, a step less now', { state: 'failed', steps: ['a', 'b', 'c', 'd'], alive: false }, 'new'],
    ['failed, steps reordered', { state: 'failed', steps: ['a', 'c', 'b'], alive: false }, 'new'],
    ['dead, steps renamed', { state: 'running', steps: ['a', 'b', 'z'], alive: false }, 'new'],
  ])('%s → %s', (_what, prior, expected) => {
    expect(resumeDecision(prior, abc)).toBe(expected);
  });
});

describe('overallProgress', () => {
  const s = (state: StepState, progress = 0) => ({ state, progress });
  it.each<[string, { state: StepState; progress: number }[], number]>([
    ['no steps', [], 0],
    ['nothing started', [s('pending'), s('pending')], 0],
    ['half of the first', [s('running', 0.5), s('pending')], 0.25],
    ['first done', [s('done', 1), s('pending')], 0.5],
    ['skipped counts as done', [s('skipped'), s('done', 1)], 1],
    ['a failed step counts nothing', [s('done', 1), s('failed', 0.7)], 0.5],
    ['a stale fraction on a pending step counts nothing', [s('pending', 0.9), s('pending')], 0],
    ['out-of-range fraction is clamped', [s('running', 7)], 1],
  ])('%s', (_what, steps, expected) => {
    expect(overallProgress(steps)).toBeCloseTo(expected, 10);
  });
});

describe('checkWorkflow', () => {
  const step = (name: string) => ({ name, run: async () => {} });
  const def = (over: Partial<WorkflowDef>): WorkflowDef => ({ kind: 'vc.start', target: 'web', steps: [step('a')], ...over });
  it.each<[string, Partial<WorkflowDef>, string | null]>([
    ['a good one', {}, null],
    ['no steps', { steps: [] }, 'workflow steps: must have at least one step'],
    ['two steps with one name', { steps: [step('a'), step('a')] }, 'step name: must be unique within a workflow (got "a")'],
    ['an unnamed step', { steps: [step('')] }, 'step name: must not be empty'],
    ['an empty target', { target: '' }, 'workflow target: must not be empty'],
    ['a kind with spaces', { kind: 'vc start' }, 'workflow kind: must be lowercase letters, digits, "." or "-" (got "vc start")'],
  ])('%s', (_what, over, message) => {
    if (message === null) expect(() => checkWorkflow(def(over))).not.toThrow();
    else expect(() => checkWorkflow(def(over))).toThrow(message);
  });

  it('locks on the given key, or on kind+target so two runs of one workflow never overlap', () => {
    expect(taskLockKey({ kind: 'vc.start', target: 'web', lockKey: 'vc:web' })).toBe('vc:web');
    expect(taskLockKey({ kind: 'vc.start', target: 'web' })).toBe('task:vc.start:web');
  });
});
