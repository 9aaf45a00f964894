import { inspectNodes } from '../nodes/inspect.js';
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
    const [found, health] = await Promise.all([
      inspectNodes(c.session),
      nodesHealth(ctx).then((h) => new Map<string, NodeHealthState>(h.map((x) => [x.name, x.state])), () => undefined),
    ]);
    if (!found.some((n) => n.reachable)) throw noNodeAnswered(c.name, found);
    // Choosing the node in use needs a live connection; inspection has just made them.
    await c.session.any().catch(() => undefined);
    return found.map((n) => {
      const v = nodeView(n, c.session.currentNode);
      const h = health?.get(n.node);
      return h ? { ...v, health: h } : v;
    });
  },

  /** Each node's health (up, unreachable, down, maintenance, evacuating) with its lease and probe. */
  'nodes.health': async (ctx) => nodesHealth(ctx),
};
