import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createTaskProgress, plainUpdates, stepLines } from '../../main/cli/progress.js';
import { taskExit as taskExitCode } from '../../main/cli/client.js';
import type { StepState, TaskSummary } from '../../main/tasks/types.js';

function task(states: [StepState, number, string?][], over: Partial<TaskSummary> = {}): TaskSummary {
  return {
    id: '11111111-2222-4333-8444-555555555555', kind: 'vc.start', target: 'web', state: 'running', progress: 0,
    startedAt: '2026-01-01T00:00:00.000Z',
    steps: states.map(([state, progress, note], i) => ({ name: ['place', 'start-vms', 'routes'][i], state, progress, ...(note ? { note } : {}) })),
    ...over,
  };
}

describe('stepLines (TTY block)', () => {
  it('one line per step with mark, position, percentage of the running one and its note, then the task', () => {
    const lines = stepLines(task([['done', 1], ['running', 0.375, 'vm 3/8'], ['pending', 0]], { progress: 0.458 }));
    expect(lines).toEqual([
      '+ 1/3 place     done',
      '> 2/3 start-vms  38%    vm 3/8',
      '  3/3 routes',
      '  vc.start web: running 46%',
    ]);
  });

  it('shows a failure and its message, and never exceeds the width', () => {
    const t = task([['done', 1], ['failed', 0.2, 'n2: qemu exited 1'], ['pending', 0]],
      { state: 'failed', progress: 0.4, error: { code: 'remote-failed', message: 'n2: qemu exited 1', step: 'start-vms' } });
    const lines = stepLines(t);
    expect(lines[1]).toBe('! 2/3 start-vms failed  n2: qemu exited 1');
    expect(lines[3]).toBe('  vc.start web: failed 40% - n2: qemu exited 1');
    for (const l of stepLines(t, 20)) expect(l.length).toBeLessThanOrEqual(20);
  });
});

describe('plainUpdates (not a TTY)', () => {
  it('prints what changed, not every percent', () => {
    const seq = [
      task([['pending', 0], ['pending', 0], ['pending', 0]]),
      task([['running', 0], ['pending', 0], ['pending', 0]]),
      task([['running', 0.5], ['pending', 0], ['pending', 0]]),
      task([['running', 0.6, 'n1'], ['pending', 0], ['pending', 0]]),
      task([['running', 0.7, 'n1'], ['pending', 0], ['pending', 0]]),
      task([['done', 1, 'n1'], ['running', 0], ['pending', 0]]),
      task([['done', 1], ['done', 1], ['skipped', 0]], { state: 'succeeded', progress: 1 }),
    ];
    const out = seq.flatMap((t, i) => plainUpdates(i === 0 ? undefined : seq[i - 1], t));
    expect(out).toEqual([
      'task 11111111-2222-4333-8444-555555555555: vc.start web',
      '[1/3] place: started',
      '[1/3] place: 60% n1',
      '[1/3] place: done (n1)',
      '[2/3] start-vms: started',
      '[2/3] start-vms: done',
      '[3/3] routes: skipped',
      'task 11111111-2222-4333-8444-555555555555 succeeded',
    ]);
  });

  it('says when a task is a resumed one, and how a failure ended', () => {
    expect(plainUpdates(undefined, task([['done', 1], ['pending', 0], ['pending', 0]], { attempts: 2 }))[0])
      .toBe('task 11111111-2222-4333-8444-555555555555: vc.start web (resumed, attempt 2)');
    const before = task([['running', 0.1], ['pending', 0], ['pending', 0]]);
    const after = task([['failed', 0.1, 'boom'], ['pending', 0], ['pending', 0]], { state: 'failed', error: { code: 'internal', message: 'boom' } });
    expect(plainUpdates(before, after)).toEqual(['[1/3] place: failed: boom', 'task 11111111-2222-4333-8444-555555555555 failed: boom']);
  });
});

describe('createTaskProgress', () => {
  it('writes plain lines and log lines in order when the stream is not a TTY', () => {
    const s = new PassThrough();
    let text = '';
    s.on('data', (d) => (text += d));
    const p = createTaskProgress(s as unknown as NodeJS.WriteStream, false);
    p.onEvent({ type: 'task', task: task([['running', 0], ['pending', 0], ['pending', 0]]) });
    p.onEvent({ type: 'log', taskId: 'x', at: '', line: 'qemu-img create …' });
    p.onEvent({ type: 'task', task: task([['done', 1], ['done', 1], ['done', 1]], { state: 'succeeded', progress: 1 }) });
    p.finish();
    expect(text.split('\n')).toEqual([
      'task 11111111-2222-4333-8444-555555555555: vc.start web',
      '[1/3] place: started',
      '  | qemu-img create …',
      '[1/3] place: done',
      '[2/3] start-vms: done',
      '[3/3] routes: done',
      'task 11111111-2222-4333-8444-555555555555 succeeded',
      '',
    ]);
  });

  it('on a TTY redraws its block in place: cursor up over the old block, then the new one', () => {
    const s = new PassThrough();
    let text = '';
    s.on('data', (d) => (text += d));
    const p = createTaskProgress(s as unknown as NodeJS.WriteStream, true);
    p.onEvent({ type: 'task', task: task([['running', 0], ['pending', 0], ['pending', 0]]) });
    text = '';
    p.onEvent({ type: 'log', taskId: 'x', at: '', line: 'hello' });
    expect(text.startsWith('\x1b[4A\r\x1b[J  | hello\n')).toBe(true);
    expect(text.split('\n').length).toBe(1 + 4 + 1);
  });
});

describe('taskExitCode', () => {
  it.each<[Partial<TaskSummary>, number]>([
    [{ state: 'succeeded' }, 0],
    [{ state: 'cancelled' }, 8],
    [{ state: 'failed', error: { code: 'placement', message: '' } }, 4],
    [{ state: 'failed', error: { code: 'remote-failed', message: '' } }, 1],
    [{ state: 'failed', error: { code: 'something-new', message: '' } }, 1],
    [{ state: 'failed' }, 1],
  ])('%j → %i', (over, code) => {
    expect(taskExitCode(task([], over))).toBe(code);
  });
});
