import type { Handlers } from './handlers.js';
import { deleteSnapshot, listSnapshots, rollbackTo, takeSnapshot } from './snapshotCore.js';

type C = 'snapshots.list' | 'snapshots.take' | 'snapshots.rollback' | 'snapshots.delete';

export const handlers: Handlers<C> = {
  'snapshots.list': async (ctx, { vc }) => listSnapshots(await ctx.cluster().vc(), vc),
  'snapshots.take': async (ctx, { vc, tag, withMemory }) => {
    const s = await ctx.cluster().vc();
    return ctx.startTask((o) => takeSnapshot(s, vc, tag, withMemory, o), ['vcs', 'volumes']);
  },
  'snapshots.rollback': async (ctx, { vc, tag }) => {
    const s = await ctx.cluster().vc();
    return ctx.startTask((o) => rollbackTo(s, vc, tag, o), ['vcs', 'nodes', 'volumes']);
  },
  'snapshots.delete': async (ctx, { vc, tag }) => {
    const s = await ctx.cluster().vc();
    return ctx.startTask((o) => deleteSnapshot(s, vc, tag, o), ['vcs', 'volumes']);
  },
};
