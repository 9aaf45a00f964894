import { VlxError } from '../errors.js';
import type { Handlers } from './handlers.js';

type C = 'volumes.tree' | 'volumes.reset' | 'volumes.delete';

export const handlers: Handlers<C> = {
  'volumes.tree': async (ctx) => (await ctx.cluster().vc()).volumesTree(),
  // The tree marks what may be reset or deleted; nothing is marked yet, so nothing is.
  'volumes.reset': async (_ctx, { path }) => {
    throw new VlxError('conflict', `path: ${path} cannot be reset on its own`, 'a VM disk is reset by destroying and re-creating its VC');
  },
  'volumes.delete': async (_ctx, { path }) => {
    throw new VlxError('conflict', `path: ${path} cannot be deleted on its own`, 'volumes go with their VC (destroy it) or image');
  },
};
