import { labRevive, labUp, type LabNodeStatus, type LabStatus, type LabUpOptions, type Progress } from '../lab/index.js';
import { getCluster } from '../config/clusters.js';
import { openClusterSession } from '../cluster/session.js';
import { deployDatabase } from '../db/deploy.js';
import { deployWatchdogs, startWatchdog } from '../ha/watchdogDeploy.js';
import { bootMemberScript } from '../db/haScripts.js';
import { memberStatuses } from '../db/haStatus.js';
import { VlxError } from '../errors.js';
import type { DbEndpoint } from '../config/clusters.js';

export const LAB_CLUSTER = 'lab';
const DB_PORT = 5432;
/** How long a revived database member may take to run again (Patroni starts PostgreSQL, which replays its WAL). */
const MEMBER_BACK_MS = 90_000;
/** Then how long it waits for the members to have a primary (a leader key runs out in TTL seconds, then one is elected). */
const PRIMARY_BACK_MS = 30_000;

/** The database members: n1..n3 (etcd's quorum needs three to survive one loss); fewer on a smaller lab. */
export function labDbNodes(nodeCount: number): string[] {
  return ['n1', 'n2', 'n3'].slice(0, Math.max(1, Math.min(3, nodeCount)));
}

async function deployLabDatabase(onProgress: Progress): Promise<DbEndpoint> {
  const cluster = getCluster(LAB_CLUSTER);
  const nodes = labDbNodes(cluster.nodes.length);
  const session = openClusterSession(cluster);
  try {
    const ep = await deployDatabase(session, {
      nodes,
      port: cluster.db?.port ?? DB_PORT,
      onProgress: (p) => onProgress(`database on ${nodes.join(',')}: ${p.note}`),
    });
    // Every node's self-fencing watchdog (HA restart), as `vlx db deploy` puts it.
    await deployWatchdogs(session, ep, (note) => onProgress(note));
    return ep;
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
 * A revived node starts with an empty /run and nothing running, as after a power cut; a
 * database member gets its etcd and Patroni started again, and Patroni makes it a standby
 * of whichever member is primary now (same data, rewound if it diverged).
 */
export async function reviveLabNode(name: string, onProgress: Progress = () => {}): Promise<LabNodeStatus> {
  const status = await labRevive(name);
  const cluster = getCluster(LAB_CLUSTER);
  const db = cluster.db;
  {
    // Power on brings the node's watchdog back, as its systemd unit would on a real node.
    const session = openClusterSession(cluster);
    try {
      onProgress(`${name}: ${await startWatchdog(session, name)}`);
    } finally {
      await session.close();
    }
  }
  if (db && (db.members ?? [{ node: db.node }]).some((m) => m.node === name)) {
    // This node alone: another member may still be down, and the cluster's set is unchanged.
    const session = openClusterSession(cluster);
    try {
      const out = await (await session.node(name)).run(bootMemberScript(), { timeoutMs: 60_000 });
      for (const line of out.split('\n').filter((l) => l.startsWith('started '))) onProgress(`${name}: database member: ${line}`);
    } finally {
      await session.close();
    }
    // Back means back as a member: its Patroni answers with its PostgreSQL running (a standby
    // that follows the primary, or the primary again if none was elected meanwhile).
    const self = (db.members ?? [{ node: db.node, host: db.host }]).find((m) => m.node === name)!;
    const deadline = Date.now() + MEMBER_BACK_MS;
    for (;;) {
      const [m] = await memberStatuses([{ node: name, address: self.host }], db.haTls);
      if (m && m.role !== 'unreachable' && /^(running|streaming)$/.test(m.state)) break;
      if (Date.now() > deadline) {
        throw new VlxError('timeout', `${name}: its database member is not running ${MEMBER_BACK_MS / 1000} s after the revive (${m?.role ?? '?'}, ${m?.state ?? '?'})`, 'see `vlx db status`');
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    onProgress(`${name}: database member running`);
    // And the database usable again: a primary among the members (the revived one may still
    // hold the leader key it had, or a standby is promoted once that key expires). Without
    // etcd's quorum none is elected: then the revive says so and returns all the same.
    const all = (db.members ?? [{ node: db.node, host: db.host }]).map((m) => ({ node: m.node, address: m.host }));
    const primaryBy = Date.now() + PRIMARY_BACK_MS;
    for (;;) {
      const primary = (await memberStatuses(all, db.haTls)).find((m) => m.role === 'primary');
      if (primary) { onProgress(`database primary: ${primary.node}`); break; }
      if (Date.now() > primaryBy) { onProgress(`no database primary ${PRIMARY_BACK_MS / 1000} s after the revive (see \`vlx db status\`)`); break; }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return status;
}
