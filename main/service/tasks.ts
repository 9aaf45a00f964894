import { VlxError } from '../errors.js';
import { cancelTask, getTask, listTasks } from '../tasks/store.js';
import type { TaskSummary } from '../api/contract.js';
import { taskView } from './views.js';
import type { ServiceContext } from './context.js';
import type { Handlers } from './handlers.js';

type C = 'tasks.list' | 'tasks.get' | 'tasks.cancel' | 'tasks.resume';

/** The cluster's database, when the current cluster has one (tasks of a cluster without one are this process's only). */
async function dbOf(ctx: ServiceContext) {
  const c = ctx.cluster();
  return c.config.db ? (await c.vc()).env.db : undefined;
}

export const handlers: Handlers<C> = {
  // The cluster DB's tasks and this process's local ones (the lab, image builds), newest first.
  'tasks.list': async (ctx, { limit, all }) => {
    const n = limit ?? (all ? 1000 : 100);
    const db = await dbOf(ctx);
    const stored: TaskSummary[] = db ? (await listTasks(db, { limit: n, ...(all ? { all } : {}) })).map(taskView) : [];
    return [...ctx.local.list(), ...stored].sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, n);
  },
  'tasks.get': async (ctx, { id, logLines }) => {
    const t = ctx.local.get(id);
    if (t) return logLines === undefined ? t : { task: t.task, log: t.log.slice(Math.max(0, t.log.length - logLines)) };
    if (id.startsWith('local-')) throw new VlxError('not-found', `task ${id} is not known`, 'local tasks are forgotten when the app exits');
    const db = await dbOf(ctx);
    if (!db) throw new VlxError('not-found', `task ${id} is not known`, 'this cluster has no database: its tasks are not stored');
    const d = await getTask(db, id, logLines ?? 200);
    return { task: taskView(d), log: d.log.map((l) => ({ at: l.at, line: l.line })) };
  },
  'tasks.cancel': async (ctx, { id }) => {
    const local = ctx.local.get(id);
    if (local && ctx.local.cancel(id)) return local.task;
    if (id.startsWith('local-')) throw new VlxError('not-found', `task ${id} is not known`);
    const db = await dbOf(ctx);
    if (!db) throw new VlxError('not-found', `task ${id} is not known`);
    return taskView(await cancelTask(db, id));
  },
  /**
   * The task's workflow, rebuilt from what the DB recorded, runs again and continues from its
   * first unfinished step (each step settles from what runs on the nodes first).
   */
  'tasks.resume': async (ctx, { id }) => {
    if (id.startsWith('local-')) throw new VlxError('conflict', `task ${id} ran in an app that has exited: run its command again`, 'the lab and image builds are idempotent');
    const s = await ctx.cluster().vc();
    const { resumeTask } = await import('../workflows/resume.js');
    return ctx.startTask((o) => resumeTask(s.env, id, { ...o, onEvent: (e) => { ctx.onTaskEvent(e); o.onEvent?.(e); } }), ['vcs', 'nodes', 'volumes']);
  },
};
