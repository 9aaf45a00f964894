import { getCluster, rememberLastNode, type ClusterConfig } from '../config/clusters.js';
import { openCluster, type SessionOptions, type SshClusterSession } from '../ssh/session.js';

/**
 * An SSH session on a cluster of the store, which remembers the node that answered so the
 * next run tries it first. `remember: false` for a cluster not saved yet (`clusters.add`).
 */
export function openClusterSession(config: ClusterConfig, opts: SessionOptions & { remember?: boolean } = {}): SshClusterSession {
  const { remember, ...rest } = opts;
  return openCluster(config, remember === false ? rest : { onNodeUsed: (node) => rememberLastNode(config.name, node), ...rest });
}

/** The session for the cluster chosen by --cluster, $VLX_CLUSTER or `vlx cluster use`. */
export function openCurrentCluster(name?: string, opts: SessionOptions = {}): SshClusterSession {
  return openClusterSession(getCluster(name), opts);
}

/**
 * Run fn with a session on the current cluster and close it however fn ends. The close is
 * awaited: every connection has ended when the command returns, so the process exits by itself.
 */
export async function withCurrentCluster<T>(fn: (session: SshClusterSession) => Promise<T>): Promise<T> {
  const session = openCurrentCluster();
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
