import { VlxError } from '../errors.js';
import { getCluster, type ClusterConfig } from '../config/clusters.js';
import { openClusterSession } from './session.js';
import type { ClusterSession } from '../ssh/session.types.js';
import type { NodeConn } from '../ssh/types.js';
import { openClusterDb, type Db, type Queryable } from '../db/client.js';
import { readManifestVia } from './manifest.js';
import { reservedNetworksOf, type Manifest } from '../domain/manifest.js';
import { storagePaths, type StoragePaths } from '../domain/storagePaths.js';
import { sh } from '../util/quote.js';
import { checkName, isIPv4 } from '../util/names.js';
import { listNodeRows, nodeUsage, upsertNodes, type NodeRow } from './repo.js';
import type { PlaceNode } from '../placement/place.js';

/** What every VC workflow works with: the cluster over SSH, its database and its shared storage. */
export interface VcEnv {
  cluster: ClusterConfig;
  session: ClusterSession;
  db: Db;
  paths: StoragePaths;
}

export function openVcEnv(clusterName?: string, parts: Partial<Pick<VcEnv, 'session' | 'db'>> = {}): VcEnv {
  const cluster = getCluster(clusterName);
  return {
    cluster,
    session: parts.session ?? openClusterSession(cluster),
    db: parts.db ?? openClusterDb(cluster),
    paths: storagePaths(),
  };
}

export async function closeVcEnv(env: VcEnv): Promise<void> {
  await Promise.allSettled([env.session.close(), env.db.close()]);
}

/** A generated script runs as `sh -e` reading stdin: no argv length limit, one round trip. */
export async function runScript(conn: NodeConn, script: string, timeoutMs = 120_000): Promise<string> {
  return conn.run('sh -e', { stdin: script, timeoutMs });
}

/**
 * The networks no VC subnet may overlap: the management networks below, and the gateway's
 * public network (which VMs do reach, through the NAT: it is no management network).
 */
export async function vcSubnetReserved(env: VcEnv): Promise<{ cidr: string; label: string }[]> {
  const m = await readManifestVia(await env.session.any(), env.paths.root);
  return m ? reservedNetworksOf(m) : reservedNetworks(env);
}

/** The cluster's management networks, closed to VMs: the cluster network from the manifest, else the nodes' /24s. */
export async function reservedNetworks(env: VcEnv): Promise<{ cidr: string; label: string }[]> {
  return managementNetworksOf(await readManifestVia(await env.session.any(), env.paths.root), env.session.nodes());
}

export function managementNetworksOf(m: Pick<Manifest, 'clusterNetwork'> | undefined, nodes: { address: string }[]): { cidr: string; label: string }[] {
  if (m) return [{ cidr: m.clusterNetwork, label: 'the cluster network' }];
  const nets = new Set<string>();
  for (const n of nodes) {
    if (isIPv4(n.address)) nets.add(`${n.address.split('.').slice(0, 3).join('.')}.0/24`);
  }
  return [...nets].map((cidr) => ({ cidr, label: 'the cluster network' }));
}

export async function vcSubnetPool(env: VcEnv): Promise<string> {
  const m = await readManifestVia(await env.session.any(), env.paths.root);
  return m?.vcSubnetPool ?? '10.200.0.0/16';
}

/**
 * Every node's declared capacity (/etc/virtualinux/node.json, one parallel round) into
 * the nodes table; a node that does not answer is recorded down and keeps its last
 * known capacity. Returns the rows as they are now.
 */
export async function refreshNodes(env: VcEnv): Promise<(NodeRow & { alive: boolean })[]> {
  const cmd = sh('cat', '/etc/virtualinux/node.json');
  const first = await env.session.onNodes('all', cmd, { timeoutMs: 5000 });
  // A node that misses one short deadline (a loaded node, a connection being re-made) is asked
  // once more before placement treats it as down: dropping a live node changes the mapping.
  const missed = first.filter((r) => r.code !== 0).map((r) => r.node);
  const again = missed.length > 0 ? await env.session.onNodes(missed, cmd, { timeoutMs: 15000 }) : [];
  const results = first.map((r) => again.find((a) => a.node === r.node) ?? r);
  const known = new Map((await listNodeRows(env.db)).map((n) => [n.name, n]));
  const rows: (NodeRow & { alive: boolean })[] = [];
  for (const r of results) {
    const alive = r.code === 0;
    let cores = known.get(r.node)?.cores;
    let memMb = known.get(r.node)?.memMb;
    if (alive) {
      try {
        const j = JSON.parse(r.stdout) as { cores?: number; memMb?: number };
        cores = j.cores ?? cores;
        memMb = j.memMb ?? memMb;
      } catch { /* a node without a readable node.json keeps what the DB had */ }
    }
    if (!cores || !memMb) {
      if (!alive) continue;
      throw new VlxError('not-found', `node ${r.node} declares no capacity`, 'write {"cores":N,"memMb":M} to /etc/virtualinux/node.json on it');
    }
    rows.push({ name: r.node, address: r.address, cores, memMb, state: alive ? 'up' : 'down', alive });
  }
  await upsertNodes(env.db, rows);
  return rows;
}

/** Nodes as the placement function sees them: capacity, what running VMs already use, alive. */
export async function placementNodes(env: VcEnv, q: Queryable, exceptVc?: string): Promise<PlaceNode[]> {
  const nodes = await refreshNodes(env);
  const usage = await nodeUsage(q, exceptVc);
  // A node in maintenance or being evacuated takes no new VMs (main/health).
  // Read through to_jsonb so a database not yet at migration 003 (no admin_state) holds nothing
  // instead of failing the query, and with it the transaction placement may run in.
  const held = new Set((await q.query<{ name: string }>(
    `select name from nodes where coalesce(to_jsonb(nodes) ->> 'admin_state', 'active') <> 'active'`,
  )).rows.map((r) => r.name));
  const order = env.session.nodes().map((n) => n.name);
  return nodes
    .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
    .map((n) => ({
      name: n.name,
      cores: n.cores,
      memMb: n.memMb,
      usedCores: usage.get(n.name)?.cores ?? 0,
      usedMemMb: usage.get(n.name)?.memMb ?? 0,
      alive: n.alive && !held.has(n.name),
    }));
}

export function nodeAddress(env: VcEnv, node: string): string {
  checkName('node', node);
  const n = env.session.nodes().find((x) => x.name === node);
  if (!n) throw new VlxError('not-found', `cluster ${env.cluster.name} has no node "${node}"`);
  return n.address;
}

/** Run `fn` on each group in parallel and collect failures into one error naming each. */
export async function eachParallel<T>(items: T[], fn: (item: T) => Promise<void>, label: (item: T) => string): Promise<void> {
  const results = await Promise.allSettled(items.map(fn));
  const failed = results
    .map((r, i) => (r.status === 'rejected' ? `${label(items[i])}: ${(r.reason as Error)?.message ?? String(r.reason)}` : undefined))
    .filter((x): x is string => x !== undefined);
  if (failed.length === 1) {
    const r = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    if (r.reason instanceof VlxError) throw new VlxError(r.reason.code, `${failed[0]}`, r.reason.hint, r.reason.details);
  }
  if (failed.length > 0) throw new VlxError('remote-failed', failed.join('\n'));
}
