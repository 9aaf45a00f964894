import { placementNodes } from '../cluster/env.js';
import { vmName } from '../domain/addressing.js';
import { previewPlacement } from '../placement/place.js';
import { taskView } from './views.js';
import type { Handlers } from './handlers.js';
import type { VcInfo } from '../api/contract.js';
import type { ServiceContext } from './context.js';
import { knownNodeStates, vmsUnknownOn } from './health.js';
import { setHa, withHa } from '../ha/marks.js';

/** A VM on a node that is unreachable or down is 'unknown': never 'running' on a dead node. */
async function withNodeHealth<T extends VcInfo>(ctx: ServiceContext, vcs: T[]): Promise<T[]> {
  const states = await knownNodeStates(ctx, (await ctx.cluster().vc()).env).catch(() => new Map());
  if (states.size === 0) return vcs;
  return vcs.map((vc) => {
    const vms = vc.vms.map((v) => (v.node && vmsUnknownOn(states.get(v.node)) ? { ...v, state: 'unknown' as const } : v));
    const lost = vms.some((v) => v.state === 'unknown');
    return { ...vc, vms, ...(lost && vc.state === 'running' ? { state: 'partial' as const } : {}) };
  });
}

type C = 'vc.list' | 'vc.get' | 'vc.create' | 'vc.start' | 'vc.stop' | 'vc.save' | 'vc.restore' | 'vc.destroy' | 'vc.previewPlacement' | 'vc.setHa';

export const handlers: Handlers<C> = {
  'vc.list': async (ctx) => {
    const s = await ctx.cluster().vc();
    return withNodeHealth(ctx, await withHa(s.env.db, await s.listVcs()));
  },
  'vc.get': async (ctx, { name }) => {
    const svc = await ctx.cluster().vc();
    const [s] = await withHa(svc.env.db, [await svc.vcStatus(name)]);
    const [vc] = await withNodeHealth(ctx, [s!]);
    return { ...vc!, tasks: s!.tasks.map(taskView) };
  },
  'vc.create': async (ctx, spec) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.createVc(spec, o), ['vcs', 'volumes']); },
  'vc.start': async (ctx, { name, policy, mode, boot }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.startVc(name, policy, mode, o, boot), ['vcs', 'nodes']); },
  'vc.stop': async (ctx, { name, timeoutS }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.stopVc(name, { timeoutS }, o), ['vcs', 'nodes']); },
  'vc.save': async (ctx, { name }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.saveVc(name, o), ['vcs', 'nodes', 'volumes']); },
  'vc.restore': async (ctx, { name, policy, mode }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.restoreVc(name, policy, mode, o), ['vcs', 'nodes']); },
  'vc.destroy': async (ctx, { name }) => { const s = await ctx.cluster().vc(); return ctx.startTask((o) => s.destroyVc(name, o), ['vcs', 'nodes', 'volumes']); },
  'vc.setHa': async (ctx, input) => {
    const s = await ctx.cluster().vc();
    await setHa(s.env.db, input);
    ctx.changed('vcs');
    const vc = (await s.listVcs()).find((v) => v.name === input.name)!;
    const [out] = await withNodeHealth(ctx, await withHa(s.env.db, [vc]));
    return out!;
  },
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
