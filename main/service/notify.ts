import type { Db } from '../db/client.js';
import { getTask } from '../tasks/store.js';
import { taskView } from './views.js';
import type { ServiceContext } from './context.js';

const COALESCE_MS = 250;

/**
 * Other workstations (and `vlx` in another terminal) change the cluster too: their NOTIFYs
 * become the same events this process's own work emits. Returns how to stop listening.
 */
export async function listenForOthers(ctx: ServiceContext, db: Db): Promise<() => Promise<void>> {
  const fetching = new Set<string>();
  return db.listen('vlx_events', (payload) => {
    let p: { type?: string; id?: string };
    try { p = JSON.parse(payload) as typeof p; } catch { return; }
    if (p.type === 'vc') ctx.changedSoon('vcs');
    else if (p.type === 'node') ctx.changedSoon('nodes');
    else if (p.type === 'task' && typeof p.id === 'string' && !ctx.ownTasks.has(p.id) && !fetching.has(p.id)) {
      const id = p.id;
      fetching.add(id);
      setTimeout(() => {
        getTask(db, id, 0)
          .then((t) => { if (!ctx.ownTasks.has(id)) ctx.hub.emit('task', { type: 'task', task: taskView(t) }); })
          .catch(() => undefined)
          .finally(() => fetching.delete(id));
      }, COALESCE_MS);
    }
  });
}
