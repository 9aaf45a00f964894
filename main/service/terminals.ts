import { noTerminals, type ServiceContext } from './context.js';
import type { Handlers } from './handlers.js';

type C = 'terminal.openNodeShell' | 'terminal.openVmConsole' | 'terminal.write' | 'terminal.resize' | 'terminal.ack' | 'terminal.reconnect' | 'terminal.close';

/** The consoles of the open cluster; a call about a console when none is open is "not found". */
async function open(ctx: ServiceContext) {
  const c = ctx.peek();
  if (!c) throw noTerminals();
  return c.terms();
}

export const handlers: Handlers<C> = {
  'terminal.openNodeShell': async (ctx, { node, rows, cols }) => {
    const hub = await ctx.cluster().terms();
    const r = await hub.open({ node }, { rows, cols });
    const at = hub.info(r.id).node;
    return { sessionId: r.id, title: r.title, ...(at ? { node: at } : {}) };
  },
  'terminal.openVmConsole': async (ctx, { vc, vm, rows, cols }) => {
    const hub = await ctx.cluster().terms();
    const r = await hub.open({ vc, vm }, { rows, cols });
    const at = hub.info(r.id).node;
    return { sessionId: r.id, title: r.title, ...(at ? { node: at } : {}) };
  },
  'terminal.write': async (ctx, { sessionId, data }) => { (await open(ctx)).write(sessionId, data); return {}; },
  'terminal.resize': async (ctx, { sessionId, rows, cols }) => { (await open(ctx)).resize(sessionId, rows, cols); return {}; },
  'terminal.ack': async (ctx, { sessionId, chars }) => { (await open(ctx)).ack(sessionId, chars); return {}; },
  'terminal.reconnect': async (ctx, { sessionId }) => { await (await open(ctx)).reconnect(sessionId); return {}; },
  'terminal.close': async (ctx, { sessionId }) => { (await open(ctx)).close(sessionId); return {}; },
};
