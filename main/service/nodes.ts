import { inspectNodes } from '../nodes/inspect.js';
import { noNodeAnswered } from '../ssh/session.js';
import { nodeView } from './views.js';
import type { Handlers } from './handlers.js';

export const handlers: Handlers<'nodes.list'> = {
  /** Every node, reachable or not (one round trip each, in parallel); an error only when none answers. */
  'nodes.list': async (ctx) => {
    const c = ctx.cluster();
    const found = await inspectNodes(c.session);
    if (!found.some((n) => n.reachable)) throw noNodeAnswered(c.name, found);
    // Choosing the node in use needs a live connection; inspection has just made them.
    await c.session.any().catch(() => undefined);
    return found.map((n) => nodeView(n, c.session.currentNode));
  },
};
