import { VlxError, invalid } from '../errors.js';
import type { EvacuationPlan, NodeHealth, NodeHealthState } from '../api/contract.js';
import { placementNodes, type VcEnv } from '../cluster/env.js';
import { allVms, listVcRows } from '../cluster/repo.js';
import { planComplete, planEvacuation, type EvacuationFallback, type EvacuationMode } from '../placement/evacuate.js';
import { decideHealth, vmsUnknownOn } from '../health/state.js';
import { MARGIN_S, readHealthRows, setAdminState } from '../health/lease.js';
import { evacuateWorkflow, restoreWorkflow, type EvacuationDeps } from '../workflows/evacuate.js';
import { runWorkflow } from '../tasks/runner.js';
import type { ServiceContext } from './context.js';
import type { Handlers } from './handlers.js';

type C = 'node.evacuatePlan' | 'node.evacuate' | 'node.restore' | 'node.setMaintenance';

/**
 * The health view for a face: this process's loop (started here while a face listens to events),
 * so a screen that keeps listening stays current without asking again.
 */
export async function nodesHealth(ctx: ServiceContext): Promise<NodeHealth[]> {
  const loop = await ctx.cluster().health();
  if (ctx.hub.size > 0) loop.start();
  return loop.current();
}

/**
 * Each node's state as far as VM chips need it, without probing: the loop's view when it runs,
 * otherwise the DB's stored health with the lease judged now (a node whose lease expired is
 * down even if no loop ran to say so).
 */
export async function knownNodeStates(ctx: ServiceContext, env: VcEnv): Promise<Map<string, NodeHealthState>> {
  const loop = await ctx.cluster().health();
  const out = new Map<string, NodeHealthState>();
  if (loop.active) {
    for (const v of await loop.current()) out.set(v.name, v.state);
    return out;
  }
  const { now, rows } = await readHealthRows(env.db);
  for (const r of rows) {
    if (r.health === 'unknown' && r.leaseUntil === null) continue; // never judged: say nothing
    const probe = r.health === 'up' || r.health === 'evacuating' || r.health === 'maintenance' ? 'unknown' : 'failed';
    out.set(r.name, decideHealth({ admin: r.admin, probe, leaseUntil: r.leaseUntil, fenced: r.fenced, now, marginMs: MARGIN_S * 1000 }).state);
  }
  return out;
}

export { vmsUnknownOn };

async function env(ctx: ServiceContext): Promise<VcEnv> {
  return (await ctx.cluster().vc()).env;
}

function checkNode(e: VcEnv, node: string): void {
  if (!e.session.nodes().some((n) => n.name === node)) throw invalid('node', `must be a node of cluster ${e.cluster.name}`, node);
}

async function plan(ctx: ServiceContext, node: string, mode: EvacuationMode, fallback: EvacuationFallback): Promise<EvacuationPlan> {
  const e = await env(ctx);
  checkNode(e, node);
  const [nodes, vcs, vms, states] = await Promise.all([placementNodes(e, e.db), listVcRows(e.db), allVms(e.db), knownNodeStates(ctx, e)]);
  // A node the health view does not call up takes nothing, whatever one SSH round trip said.
  const live = nodes.map((n) => ({ ...n, alive: n.alive && (states.get(n.name) ?? 'up') === 'up' }));
  const vcByName = new Map(vcs.map((v) => [v.name, v]));
  const on = vms.filter((v) => v.node === node).map((v) => {
    const c = vcByName.get(v.vc)!;
    return { vc: v.vc, vm: v.name, state: v.state, vcpus: c.vcpus, memMb: c.memMb, policy: c.policy, mode: c.mode };
  });
  const steps = planEvacuation(node, on, live, mode, fallback);
  return { node, mode, fallback, steps, complete: planComplete(steps) };
}

function deps(ctx: ServiceContext): EvacuationDeps {
  return {
    moveVm: async (vc, vm, to) => {
      const s = await ctx.cluster().vc();
      const [r] = await s.moveVms([{ vc, vm, to }]);
      ctx.changed('vcs');
      if (!r?.ok) throw new VlxError(r?.error?.code === 'conflict' ? 'conflict' : 'remote-failed', r?.error?.message ?? `moving ${vc}/${vm} failed`);
    },
  };
}

function startTask(ctx: ServiceContext, e: VcEnv, def: Parameters<typeof runWorkflow>[1]): Promise<{ taskId: string }> {
  return ctx.startTask((o) => runWorkflow(e.db, def, { onEvent: (ev) => { ctx.onTaskEvent(ev); o.onEvent?.(ev); ctx.changedSoon('nodes'); } }), ['nodes', 'vcs']);
}

export const handlers: Handlers<C> = {
  'node.evacuatePlan': async (ctx, { node, mode, fallback }) => plan(ctx, node, mode, fallback),

  'node.evacuate': async (ctx, { node, mode, fallback }) => {
    const e = await env(ctx);
    const p = await plan(ctx, node, mode, fallback);
    return startTask(ctx, e, evacuateWorkflow(e, node, mode, fallback, p.steps, deps(ctx)));
  },

  'node.restore': async (ctx, { node }) => {
    const e = await env(ctx);
    checkNode(e, node);
    const r = await e.db.query<{ evacuation: { moved?: { vc: string; vm: string; from: string; to: string }[] } }>('select evacuation from nodes where name = $1', [node]);
    if (r.rows.length === 0) throw new VlxError('not-found', `the database has no row for node ${node} yet`, 'start a VC first, or run `vlx nodes`');
    return startTask(ctx, e, restoreWorkflow(e, node, r.rows[0]!.evacuation?.moved ?? [], deps(ctx)));
  },

  'node.setMaintenance': async (ctx, { node, on }) => {
    const e = await env(ctx);
    checkNode(e, node);
    const r = await e.db.query<{ admin_state: string }>('select admin_state from nodes where name = $1', [node]);
    if (r.rows.length === 0) throw new VlxError('not-found', `the database has no row for node ${node} yet`, 'start a VC first, or run `vlx nodes`');
    if (r.rows[0]!.admin_state === 'evacuating') throw new VlxError('conflict', `${node} is being evacuated`, 'wait for the evacuation task to end');
    await setAdminState(e.db, node, on ? 'maintenance' : 'active');
    const loop = await ctx.cluster().health();
    await loop.tick();
    ctx.changed('nodes', 'vcs');
    const v = (await loop.current()).find((x) => x.name === node);
    if (!v) throw new VlxError('not-found', `no health for node ${node}`);
    return v;
  },
};
