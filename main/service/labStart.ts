import { labRevive, labUp, type LabNodeStatus, type LabStatus, type LabUpOptions, type Progress } from '../lab/index.js';
import { getCluster } from '../config/clusters.js';
import { openClusterSession } from '../cluster/session.js';
import { deployDatabase } from '../db/deploy.js';
import type { DbEndpoint } from '../config/clusters.js';

export const LAB_CLUSTER = 'lab';
const DB_PORT = 5432;

/** The report put its database on node 2 (`setup.sh -n 2`); a one-node lab has only n1. */
function labDbNode(nodeCount: number): string {
  return nodeCount > 1 ? 'n2' : 'n1';
}

async function deployLabDatabase(onProgress: Progress): Promise<DbEndpoint> {
  const cluster = getCluster(LAB_CLUSTER);
  const node = cluster.db?.node ?? labDbNode(cluster.nodes.length);
  const session = openClusterSession(cluster);
  try {
    return await deployDatabase(session, {
      node,
      port: cluster.db?.port ?? DB_PORT,
      onProgress: (p) => onProgress(`database on ${node}: ${p.note}`),
    });
  } finally {
    await session.close();
  }
}

/**
 * A lab that is ready for virtual clusters with no further step: nodes, then the cluster
 * database (idempotent: an existing one is kept with its credentials).
 */
export function startLab(opts: Omit<LabUpOptions, 'afterNodesUp'>, onProgress: Progress = () => {}): Promise<LabStatus> {
  return labUp({ ...opts, afterNodesUp: async () => { await deployLabDatabase(onProgress); } }, onProgress);
}

/**
 * A revived node starts with an empty /run and nothing running, as after a power cut; the
 * database node gets its PostgreSQL started again (same data, same credentials).
 */
export async function reviveLabNode(name: string, onProgress: Progress = () => {}): Promise<LabNodeStatus> {
  const status = await labRevive(name);
  if (getCluster(LAB_CLUSTER).db?.node === name) await deployLabDatabase(onProgress);
  return status;
}
