import { findCluster, loadStore, putCluster } from '../config/clusters.js';
import { lookupHost, replaceKnownHost, type KnownKey } from '../ssh/knownHosts.js';
import type { NodeConn } from '../ssh/types.js';
import type { Manifest } from '../domain/manifest.js';
import { storagePaths } from '../domain/storagePaths.js';
import { HOST_KEY_FILES, hostKeyDir } from '../domain/nodeConfig.js';
import { NAME_RULES } from '../util/names.js';
import { sh } from '../util/quote.js';

/**
 * The disk-less nodes of an installation, joined to this workstation as a real admin's app
 * needs them: each becomes a node of the app's cluster config (its host name at its boot
 * address), and the host key the install made for it (kept across resets, see
 * install/scripts renderKeysScript) is trusted as read from shared storage, over a link to a
 * node whose own host key was verified. So a node booted from a fresh or reset root is
 * reached with no first-contact prompt, and any other key it shows is refused as changed.
 */
export interface InstalledNode {
  name: string;
  address: string;
  /** Absent when the install has not made the node's keys yet. */
  key?: KnownKey;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const KEY_LINE = /^(\d+) (ssh-ed25519) ([A-Za-z0-9+/]+={0,3})(?: .*)?$/;

/** The installation's nodes with their public host keys, in one round trip. */
export async function readInstalledNodes(conn: Pick<NodeConn, 'exec'>, m: Manifest): Promise<InstalledNode[]> {
  const inst = m.install;
  if (!inst || inst.nodes.length === 0) return [];
  const root = typeof inst.config.sharedRoot === 'string' ? inst.config.sharedRoot : m.sharedRoot;
  const dir = storagePaths(root).clusterDir(inst.container);
  const script = inst.nodes.map((n) =>
    `printf '%s ' ${n.ordinal}; head -n 1 ${sh(`${hostKeyDir(dir, n.ordinal)}/${HOST_KEY_FILES[1]}`)} 2>/dev/null || echo`).join('\n');
  const r = await conn.exec('sh', { stdin: script + '\n', timeoutMs: 15_000 });
  const keys = new Map<number, KnownKey>();
  for (const line of r.stdout.split('\n')) {
    const k = KEY_LINE.exec(line.trim());
    if (k) keys.set(Number(k[1]), { keyType: k[2]!, keyBase64: k[3]! });
  }
  // Names and addresses reach the config and known_hosts: only well-formed ones.
  return inst.nodes.filter((n) => NAME_RULES.node.re.test(n.hostname) && IPV4.test(n.ip)).map((n) => {
    const key = keys.get(n.ordinal);
    return { name: n.hostname, address: n.ip, ...(key ? { key } : {}) };
  });
}

export interface JoinResult {
  /** Nodes new to the cluster config. */
  added: string[];
  /** Nodes whose host key was not trusted yet (or was another one) and is now. */
  trusted: string[];
  /** Names the config already gives another address: left as they are. */
  conflicts: string[];
}

/** Adds the nodes to the stored cluster and trusts their keys; a no-op when both are there already. */
export function joinInstalledNodes(cluster: string, nodes: InstalledNode[]): JoinResult {
  const out: JoinResult = { added: [], trusted: [], conflicts: [] };
  const c = findCluster(loadStore(), cluster);
  if (!c) return out;
  const next = [...c.nodes];
  for (const n of nodes) {
    const have = next.find((x) => x.name === n.name);
    if (have && have.address !== n.address) { out.conflicts.push(n.name); continue; }
    if (!have) { next.push({ name: n.name, address: n.address }); out.added.push(n.name); }
  }
  out.trusted = trustInstalledKeys(nodes.filter((n) => !out.conflicts.includes(n.name)), c.port);
  if (out.added.length > 0) putCluster({ ...c, nodes: next });
  return out;
}

/** Each node's key as the install made it, replacing any other this workstation had for its address; returns the nodes changed. */
export function trustInstalledKeys(nodes: InstalledNode[], port: number): string[] {
  const changed: string[] = [];
  for (const n of nodes) {
    if (!n.key || lookupHost(n.address, port).some((k) => k.keyType === n.key!.keyType && k.keyBase64 === n.key!.keyBase64)) continue;
    replaceKnownHost(n.address, port, n.key);
    changed.push(n.name);
  }
  return changed;
}

export function describeJoin(r: JoinResult): string {
  const parts = [
    r.added.length ? `added ${r.added.join(', ')} to this workstation's cluster config` : 'every node already in this workstation\'s cluster config',
    ...(r.trusted.length ? [`trusts the host key the install made for ${r.trusted.join(', ')}`] : []),
    ...(r.conflicts.length ? [`left alone (the config has another address under that name): ${r.conflicts.join(', ')}`] : []),
  ];
  return parts.join('; ');
}
