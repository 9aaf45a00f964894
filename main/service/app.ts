import { appHome } from '../config/paths.js';
import { currentClusterName, listClusters } from '../config/clusters.js';
import { CLUSTER_NETWORK } from '../lab/layout.js';
import type { Handlers } from './handlers.js';

export const handlers: Handlers<'app.info'> = {
  'app.info': async (ctx) => {
    const name = currentClusterName();
    const known = name ? listClusters().find((c) => c.name === name) : undefined;
    const o = ctx.peek();
    return {
      version: ctx.opts.version ?? '0.1.0',
      face: ctx.opts.face ?? 'web',
      ...(name ? { cluster: name } : {}),
      ...(o && o.name === name && o.session.currentNode ? { nodeInUse: o.session.currentNode } : {}),
      ...(known?.lab ? { clusterNetwork: CLUSTER_NETWORK } : {}),
      home: appHome(),
    };
  },
};
