import { placementNodes } from '../cluster/env.js';
import { vmName } from '../domain/addressing.js';
import { previewPlacement } from '../placement/place.js';
import { taskView } from './views.js';
import type { Handlers } from './handlers.js';

type C = 'vc.list' | 'vc.get' | 'vc.create' | 'vc.start' | 'vc.stop' | 'vc.save' | 'vc.restore' | 'vc.destroy' | 'vc.previewPlacement';

export const handlers: Handlers<C> = {
  'vc.list': async (ctx) => (await ctx.cluster().vc()).listVcs(),
  'vc.get': async (ctx, { name }) => {
    const s = await (await ctx.cluster().vc()).vcStatus(name);
    return { ...s, tasks: s.tasks.map(taskView) };
  },
  'vc.create': async (ctx, spec) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.createVc(spec, o), ['vcs', 'volumes']); },
  'vc.start': async (ctx, { name, policy, mode }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.startVc(name, policy, mode, o), ['vcs', 'nodes']); },
  'vc.stop': async (ctx, { name, timeoutS }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.stopVc(name, { timeoutS }, o), ['vcs', 'nodes']); },
  'vc.save': async (ctx, { name }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.saveVc(name, o), ['vcs', 'nodes', 'volumes']); },
  'vc.restore': async (ctx, { name, policy, mode }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.restoreVc(name, policy, mode, o), ['vcs', 'nodes']); },
  'vc.destroy': async (ctx, { name }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.destroyVc(name, o), ['vcs', 'nodes', 'volumes']); },
  'vc.previewPlacement': async (ctx, { name, nodes, vcpus, memMb, policy, mode }) => {
    const env = (await ctx.cluster().vc()).env;
    const live = await placementNodes(env, env.db, name);
    const vms = Array.from({ length: nodes }, (_, i) => ({ name: vmName(i + 1), vcpus, memMb }));
    const p = previewPlacement(vms, live, policy, mode);
    return p.ok
      ? { placeable: true, mapping: vms.map((v) => ({ vm: v.name, node: p.mapping[v.name]! })) }
      : { placeable: false, mapping: [], reason: p.error };
  },
};
