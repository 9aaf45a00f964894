import { describe, expect, it } from 'vitest';
import { TaskEventShape } from '../../main/api/contract.js';
import { LocalTasks } from '../../main/service/localTasks.js';
import { VlxError } from '../../main/errors.js';
import type { TaskEvent } from '../../main/tasks/types.js';

/** Lab work runs as in-process tasks: they must speak the contract's task events exactly. */
async function settle(events: TaskEvent[], id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (events.some((e) => e.type === 'task' && e.task.id === id && e.task.state !== 'running')) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('task did not end');
}

describe('local tasks', () => {
  it('reports steps, progress and log lines as contract task events, then success', async () => {
    const events: TaskEvent[] = [];
    const tasks = new LocalTasks((e) => events.push(e));
    const id = tasks.start('lab.up', '4 nodes', ['network', 'nodes', 'register'], async (t) => {
      t.step('network', 'bridge vlxlab0');
      t.log('bridge vlxlab0 10.77.0.254/24');
      t.step('nodes');
      t.step('network', 'a late message of an earlier phase');
    });
    await settle(events, id);
    for (const e of events) expect(TaskEventShape.safeParse(e).success).toBe(true);
    const states = events.filter((e) => e.type === 'task').map((e) => e.type === 'task' && [e.task.state, e.task.currentStep, e.task.progress]);
    expect(states).toEqual([['running', undefined, 0], ['running', 'network', 0], ['running', 'nodes', 1 / 3], ['succeeded', undefined, 1]]);
    const last = tasks.get(id)!;
    expect(last.task.steps.map((s) => [s.name, s.state])).toEqual([['network', 'done'], ['nodes', 'done'], ['register', 'skipped']]);
    expect(last.log.map((l) => l.line)).toEqual(['bridge vlxlab0 10.77.0.254/24']);
    expect(tasks.list().map((t) => t.id)).toEqual([id]);
  });

  it('names the step that failed and why', async () => {
    const events: TaskEvent[] = [];
    const tasks = new LocalTasks((e) => events.push(e));
    const id = tasks.start('lab.up', '4 nodes', ['network', 'nodes'], async (t) => {
      t.step('nodes');
      throw new VlxError('not-root', 'the lab needs root (network namespaces, mounts)', 'run it as root');
    });
    await settle(events, id);
    const { task, log } = tasks.get(id)!;
    expect(task.state).toBe('failed');
    expect(task.error).toEqual({ code: 'not-root', message: 'the lab needs root (network namespaces, mounts)', step: 'nodes' });
    expect(task.steps.map((s) => s.state)).toEqual(['done', 'failed']);
    expect(log.at(-1)!.line).toBe('error: the lab needs root (network namespaces, mounts) (run it as root)');
  });

  it('cancels through the signal the work watches', async () => {
    const events: TaskEvent[] = [];
    const tasks = new LocalTasks((e) => events.push(e));
    const id = tasks.start('lab.down', 'lab', ['remove'], async (t) => {
      t.step('remove');
      await new Promise<void>((_, reject) => t.signal.addEventListener('abort', () => reject(new VlxError('cancelled', 'cancelled by you'))));
    });
    expect(tasks.cancel(id)).toBe(true);
    expect(tasks.cancel('local-nope')).toBe(false);
    await settle(events, id);
    expect(tasks.get(id)!.task.state).toBe('cancelled');
  });
});
