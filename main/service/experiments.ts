import { getRun, listRuns, runRows } from '../cluster/experimentsRepo.js';
import { experimentsCsv } from '../domain/experiments.js';
import { runWorkflow } from '../tasks/runner.js';
import { checkExperimentRequest, experimentWorkflow } from '../workflows/experiment.js';
import type { Handlers } from './handlers.js';

type C = 'experiments.run' | 'experiments.list' | 'experiments.show' | 'experiments.rows' | 'experiments.export';

export const handlers: Handlers<C> = {
  /** A task in the cluster's DB like a VC workflow: its progress reaches every face, any workstation sees it. */
  'experiments.run': async (ctx, input) => {
    const req = checkExperimentRequest(input);
    const s = await ctx.cluster().vc();
    return ctx.startTask((o) => runWorkflow(s.env.db, experimentWorkflow(s.env, req), { ...o, onEvent: (e) => { ctx.onTaskEvent(e); o.onEvent?.(e); } }), ['experiments']);
  },
  'experiments.list': async (ctx, { kind, limit }) => listRuns((await ctx.cluster().vc()).env.db, { ...(kind ? { kind } : {}), ...(limit ? { limit } : {}) }),
  'experiments.show': async (ctx, { id }) => {
    const db = (await ctx.cluster().vc()).env.db;
    return { run: await getRun(db, id), rows: await runRows(db, [id]) };
  },
  'experiments.rows': async (ctx, { ids }) => runRows((await ctx.cluster().vc()).env.db, ids),
  'experiments.export': async (ctx, { ids }) => ({ csv: experimentsCsv(await runRows((await ctx.cluster().vc()).env.db, ids)) }),
};
