import { describe, expect, it } from 'vitest';
import type { TaskSummary } from '../../main/api/contract.js';
import { emptyTasks, failure, MAX_LOG_LINES, mergeTaskList, reduceTaskEvent, runningFirst, taskTitle, type TasksState } from '../../renderer/src/stores/tasks.logic.js';

const task = (id: string, startedAt: string, extra: Partial<TaskSummary> = {}): TaskSummary => ({
  id, kind: 'vc.start', target: 'web', state: 'running', progress: 0, startedAt,
  steps: [{ name: 'place', state: 'done', progress: 1 }, { name: 'start vms', state: 'running', progress: 0.5, note: 'vm 2/4' }],
  ...extra,
});
const apply = (s: TasksState, ...tasks: TaskSummary[]) => tasks.reduce((acc, t) => reduceTaskEvent(acc, { type: 'task', task: t }), s);

describe('task events', () => {
  it('keeps tasks newest first whatever order their events arrive in', () => {
    const s = apply(emptyTasks, task('b', '2026-01-01T10:00:02Z'), task('a', '2026-01-01T10:00:01Z'), task('c', '2026-01-01T10:00:03Z'));
    expect(s.order).toEqual(['c', 'b', 'a']);
  });

  it('replaces a summary with the newer one and keeps its place', () => {
    const s = apply(emptyTasks, task('a', '2026-01-01T10:00:01Z'), task('b', '2026-01-01T10:00:02Z'), task('a', '2026-01-01T10:00:01Z', { progress: 0.75 }));
    expect(s.order).toEqual(['b', 'a']);
    expect(s.byId.a!.progress).toBe(0.75);
  });

  it('does not let a late "running" event undo the end of a task', () => {
    const done = task('a', '2026-01-01T10:00:01Z', { state: 'succeeded', progress: 1, endedAt: '2026-01-01T10:00:09Z' });
    const s = apply(emptyTasks, done, task('a', '2026-01-01T10:00:01Z', { progress: 0.5 }));
    expect(s.byId.a).toEqual(done);
  });

  it('appends log lines per task and caps them', () => {
    let s = emptyTasks;
    for (let i = 0; i < MAX_LOG_LINES + 3; i++) s = reduceTaskEvent(s, { type: 'log', taskId: 'a', at: `t${i}`, line: `line ${i}` });
    s = reduceTaskEvent(s, { type: 'log', taskId: 'b', at: 'x', line: 'other' });
    expect(s.logs.a!.length).toBe(MAX_LOG_LINES);
    expect(s.logs.a![0]!.line).toBe('line 3');
    expect(s.logs.a!.at(-1)!.line).toBe(`line ${MAX_LOG_LINES + 2}`);
    expect(s.logs.b).toEqual([{ at: 'x', line: 'other' }]);
  });

  it('merges a fetched list without undoing what events already finished', () => {
    const s0 = apply(emptyTasks, task('a', '2026-01-01T10:00:01Z', { state: 'failed', endedAt: '2026-01-01T10:00:05Z' }));
    const s = mergeTaskList(s0, [task('a', '2026-01-01T10:00:01Z'), task('b', '2026-01-01T10:00:02Z', { state: 'succeeded' })]);
    expect(s.byId.a!.state).toBe('failed');
    expect(s.order).toEqual(['b', 'a']);
  });

  it('lists running tasks first, then the rest newest first', () => {
    const s = apply(emptyTasks,
      task('old-run', '2026-01-01T10:00:01Z'),
      task('done', '2026-01-01T10:00:02Z', { state: 'succeeded' }),
      task('new-run', '2026-01-01T10:00:03Z'),
      task('failed', '2026-01-01T10:00:04Z', { state: 'failed' }));
    expect(runningFirst(s).map((t) => t.id)).toEqual(['new-run', 'old-run', 'failed', 'done']);
  });
});

describe('failure', () => {
  const cases: [string, Partial<TaskSummary>, ReturnType<typeof failure>][] = [
    ['a running task has none', {}, undefined],
    ['names the step from the error', { state: 'failed', error: { code: 'remote-failed', message: 'qemu exited 1', step: 'start vms' } }, { step: 'start vms', message: 'qemu exited 1' }],
    ['falls back to the failed step', { state: 'failed', error: { code: 'x', message: 'boom' }, steps: [{ name: 'place', state: 'failed', progress: 0 }] }, { step: 'place', message: 'boom' }],
    ['says so when there is no message', { state: 'failed', steps: [] }, { message: 'failed without a message' }],
  ];
  it.each(cases)('%s', (_, extra, want) => {
    expect(failure(task('a', '2026-01-01T10:00:01Z', extra))).toEqual(want);
  });

  it('titles tasks for people', () => {
    expect(taskTitle({ kind: 'vc.start', target: 'web' })).toBe('Start virtual cluster web');
    expect(taskTitle({ kind: 'custom.thing', target: 'x' })).toBe('custom.thing x');
  });
});
