import { existsSync } from 'node:fs';
import { VlxError, invalid } from '../errors.js';
import { currentClusterName, getCluster, listClusters, putCluster, removeCluster, useCluster, type ClusterConfig } from '../config/clusters.js';
import { acceptHostKey, probeHostKey } from '../ssh/hostKeys.js';
import { firstContact } from '../cluster/firstContact.js';
import { trustInstalledKeys } from '../cluster/installedNodes.js';
import { openClusterSession } from '../cluster/session.js';
import { clusterInfo } from './views.js';
import type { Handlers } from './handlers.js';

type C = 'clusters.list' | 'clusters.add' | 'clusters.use' | 'clusters.remove' | 'hostKey.probe' | 'hostKey.accept';

export const handlers: Handlers<C> = {
  'clusters.list': async () => {
    const current = currentClusterName();
    return { ...(current ? { current } : {}), clusters: listClusters().map((c) => clusterInfo(c, current)) };
  },

  /**
   * The one way a cluster is added, from any face: reach the given node (its host key must be
   * trusted, or accepted by the caller's policy), learn every node from the manifest, check
   * every node now so unknown host keys and refused logins show up here, then save.
   */
  'clusters.add': async (ctx, input) => {
    if (input.keyFile && !existsSync(input.keyFile)) throw invalid('keyFile', 'must be an existing private key file', input.keyFile);
    if (listClusters().some((c) => c.name === input.name)) {
      throw new VlxError('conflict', `name: cluster "${input.name}" already exists`, `remove it first with \`vlx cluster remove ${input.name}\``);
    }
    const learned = await firstContact(input.address, { user: input.user, port: input.port, ...(input.keyFile ? { keyFile: input.keyFile } : {}) });
    const config: ClusterConfig = {
      name: input.name, nodes: learned.nodes, user: input.user, port: input.port,
      ...(input.keyFile ? { keyFile: input.keyFile } : {}), lab: false,
    };
    // Trusted before the check below, which reaches every node: the install's keys, read over the verified first link.
    if (learned.installed) trustInstalledKeys(learned.installed, input.port);
    const session = openClusterSession(config, { remember: false });
    const check = await session.onNodes('all', 'true', { timeoutMs: 20_000 }).finally(() => session.close());
    putCluster(config, input.use);
    ctx.changed('clusters');
    return {
      ...clusterInfo(getCluster(input.name), currentClusterName()),
      fromManifest: learned.fromManifest,
      checked: check.map((r) => ({
        node: r.node, address: r.address, ok: r.code === 0 && !r.error,
        ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : r.code !== 0 ? { error: { code: 'remote-failed', message: `exit ${r.code}` } } : {}),
      })),
    };
  },
  'clusters.use': async (ctx, { name }) => {
    useCluster(name);
    ctx.changed('clusters');
    return {};
  },
  'clusters.remove': async (ctx, { name }) => {
    getCluster(name);
    await ctx.closeCluster(name);
    removeCluster(name);
    ctx.changed('clusters');
    return {};
  },

  'hostKey.probe': async (_ctx, { address, port }) => {
    const p = await probeHostKey(address, port);
    return { address, port, keyType: p.keyType, fingerprint: p.fingerprint, status: p.known === 'match' ? 'known' : p.known === 'unknown' ? 'new' : 'changed' };
  },
  'hostKey.accept': async (_ctx, { address, port, fingerprint }) => {
    await acceptHostKey(address, port, fingerprint);
    return {};
  },
};
