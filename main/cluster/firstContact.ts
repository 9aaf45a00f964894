import { z } from 'zod';
import { VlxError } from '../errors.js';
import type { ClusterConfig } from '../config/clusters.js';
import { parseManifest } from '../domain/manifest.js';
import { SHARED_ROOT } from '../config/paths.js';
import { checkAddress, checkName } from '../util/names.js';
import { quote } from '../util/quote.js';
import { NodeConnection } from '../ssh/connection.js';
import { readInstalledNodes, type InstalledNode } from './installedNodes.js';

/**
 * How a cluster is learned from the one address a person gives: log in there, read the
 * node's hostname and the manifest on shared storage. Shared by `vlx cluster add` and the
 * Connect screen, so both faces learn the same nodes.
 */
const MARK = '--vlx-manifest--';

export interface Learned {
  nodes: ClusterConfig['nodes'];
  fromManifest: boolean;
  /** The disk-less nodes of the manifest's installation (also in nodes), with the host keys the install made. */
  installed?: InstalledNode[];
}

function manifestTextOf(stdout: string): string {
  const at = stdout.indexOf(MARK);
  return at < 0 ? '' : stdout.slice(at + MARK.length).trim();
}

/** Node list from the first node's answer: the manifest if the shared storage has one, else that node alone. */
export function nodesFromFirstContact(address: string, stdout: string): Learned {
  const at = stdout.indexOf(MARK);
  const host = (at < 0 ? stdout : stdout.slice(0, at)).trim().split('\n')[0]?.split('.')[0]?.toLowerCase() ?? '';
  const manifestText = manifestTextOf(stdout);
  if (manifestText) {
    const m = parseManifest(manifestText, `${SHARED_ROOT}/manifest.json on ${address}`);
    const nodes = m.nodes.map((n) => ({ name: checkName('node', n.name, 'manifest node name'), address: checkAddress(n.address, 'manifest node address') }));
    return { nodes, fromManifest: true };
  }
  let name = host.replace(/[^a-z0-9-]/g, '-');
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) name = 'node1';
  return { nodes: [{ name, address }], fromManifest: false };
}

/**
 * Reach `address` (its host key must already be trusted) and learn the cluster's nodes.
 * Nothing is saved here: the caller stores the cluster only once this answered.
 */
export async function firstContact(address: string, login: { user: string; port: number; keyFile?: string }): Promise<Learned> {
  const first = new NodeConnection({ name: address, address }, {
    user: login.user, port: login.port, connectTimeoutMs: 5000, ...(login.keyFile ? { keyFile: login.keyFile } : {}),
  });
  try {
    const out = await first.run(`hostname; echo ${quote(MARK)}; cat ${quote(`${SHARED_ROOT}/manifest.json`)} 2>/dev/null || true`, { timeoutMs: 20_000 });
    const learned = nodesFromFirstContact(address, out);
    if (!learned.fromManifest) return learned;
    // The disk-less nodes an install made are nodes too; their keys come over this verified link.
    const installed = (await readInstalledNodes(first, parseManifest(manifestTextOf(out), `${SHARED_ROOT}/manifest.json on ${address}`)))
      .filter((n) => !learned.nodes.some((x) => x.name === n.name || x.address === n.address));
    return installed.length ? { nodes: [...learned.nodes, ...installed.map((n) => ({ name: n.name, address: n.address }))], fromManifest: true, installed } : learned;
  } finally {
    await first.close();
  }
}
