import { VlxError } from '../errors.js';
import type { NodeExecResult } from '../ssh/session.types.js';
import type { Handlers } from './handlers.js';

export const handlers: Handlers<'exec.run'> = {
  /**
   * One result per node, in node order: a node that fails or cannot be reached is data, not
   * an error of the call. 'any': the node used last if it still answers, else another live one.
   */
  'exec.run': async (ctx, { nodes, command, timeoutS }) => {
    const session = ctx.cluster().session;
    const timeoutMs = timeoutS === undefined ? 60_000 : timeoutS * 1000;
    let results: NodeExecResult[];
    if (nodes === 'any') {
      const started = performance.now();
      const r = await session.execAny(command, { timeoutMs }).catch((e: unknown): NodeExecResult => {
        const c = session.currentNode ? session.nodes().find((n) => n.name === session.currentNode) : undefined;
        if (c && e instanceof VlxError && e.code === 'timeout') {
          return { node: c.name, address: c.address, code: -1, stdout: '', stderr: '', error: { code: e.code, message: e.message }, ms: performance.now() - started };
        }
        throw e;
      });
      results = [{ ...r, ms: performance.now() - started }];
    } else {
      results = await session.onNodes(nodes, command, { timeoutMs });
    }
    return results.map((r) => ({
      node: r.node, address: r.address, code: r.code, stdout: r.stdout, stderr: r.stderr, ms: Math.round(r.ms),
      ...(r.signal ? { signal: r.signal } : {}),
      ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    }));
  },
};
