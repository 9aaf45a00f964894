import { inspectNodes, inspectScript, nodeInfoFrom, type NodeInfo as InspectedNode } from '../nodes/inspect.js';
import type { ClusterSession } from '../ssh/session.types.js';
import type { NodeHealth } from '../api/contract.js';
import { servicesStatus } from '../node-services/deploy.js';
import { noNodeAnswered } from '../ssh/session.js';
import type { NodeHealthState } from '../api/contract.js';
import { nodeView } from './views.js';
import { nodesHealth } from './health.js';
import type { Handlers } from './handlers.js';

export const handlers: Handlers<'nodes.list' | 'nodes.health'> = {
  /** Every node, reachable or not (one round trip each, in parallel); an error only when none answers. */
  'nodes.list': async (ctx) => {
    const c = ctx.cluster();
    // Health needs the database; a cluster without one still lists its nodes.
    const views = await nodesHealth(ctx).catch(() => undefined);
    const health = views && new Map<string, NodeHealthState>(views.map((x) => [x.name, x.state]));
    // The services' state in the same round, from the nodes that answer: the lanes show where the
    // VIP, DNS, NTP and NFS run. TODO(dbha): DB primary/standby per node once db.status lists members.
    const [found, services] = await Promise.all([
      inspectAnswering(c.session, views),
      servicesStatus(c.session, views ? views.filter((v) => v.reachable).map((v) => v.name) : undefined).catch(() => undefined),
    ]);
    if (!found.some((n) => n.reachable)) throw noNodeAnswered(c.name, found);
    // Choosing the node in use needs a live connection; inspection has just made them.
    await c.session.any().catch(() => undefined);
    return found.map((n) => {
      const v = nodeView(n, c.session.currentNode, services?.nodes.find((x) => x.node === n.node));
      const h = health?.get(n.node);
      return h ? { ...v, health: h } : v;
    });
  },

  /** Each node's health (up, unreachable, down, maintenance, evacuating) with its lease and probe. */
  'nodes.health': async (ctx) => nodesHealth(ctx),
};

/**
 * Inspect the nodes the health loop saw answer; a node it did not is reported as such at once
 * rather than waited for (a half-open connection would hold the whole list for the inspection's timeout).
 */
async function inspectAnswering(session: ClusterSession, views: NodeHealth[] | undefined): Promise<InspectedNode[]> {
  if (!views) return inspectNodes(session);
  const lost = new Map(views.filter((v) => !v.reachable).map((v) => [v.name, v]));
  const ask = session.nodes().filter((n) => !lost.has(n.name)).map((n) => n.name);
  const answered = ask.length > 0 ? (await session.onNodes(ask, inspectScript(), { timeoutMs: 20_000 })).map(nodeInfoFrom) : [];
  return session.nodes().map((n) => answered.find((a) => a.node === n.name) ?? {
    node: n.name, address: n.address, reachable: false,
    error: { code: 'unreachable', message: `${n.name} did not answer the health probe (${lost.get(n.name)?.probeError ?? 'no answer'})` },
  });
}
