import { z } from 'zod';
import { VlxError } from '../errors.js';
import type { Manifest } from '../domain/manifest.js';
import { readManifestVia } from '../cluster/manifest.js';
import { SHARED_ROOT } from '../config/paths.js';
import type { ClusterSession, NodeExecResult } from '../ssh/session.types.js';
import { sh } from '../util/quote.js';
import { planServices, type NodeFacts, type ServicesPlan } from './plan.js';
import { renderNodeFiles } from './render.js';
import {
  deployScript, parseDeploy, parseProbe, parseStatus, parseStop, probeScript, statusScript, stopScript,
  type NodeServicesReport, type ServiceDeployResult, type ServiceName,
} from './scripts.js';

/**
 * The effectful shell around plan/render/scripts: one probe round, then every live node
 * configured and (re)started in parallel, each in one SSH command. Idempotent: a node whose
 * files and daemons already match is left running untouched.
 */

export type ServicesStep = 'probe' | 'plan' | 'configure' | 'verify';

export interface ServicesProgress {
  step: ServicesStep;
  /** The node concerned, or absent for cluster-wide steps. */
  node?: string;
  note: string;
}

export interface NodeDeployResult {
  node: string;
  address: string;
  ok: boolean;
  /** Unreachable, or the script could not run at all. */
  error?: { code: string; message: string };
  written: string[];
  services: ServiceDeployResult[];
}

export interface ServicesDeployResult {
  cluster: string;
  vip: string;
  network: string;
  dhcpHosts: ServicesPlan['dhcpHosts'];
  nodesWithoutMac: string[];
  skipped: string[];
  nodes: NodeDeployResult[];
  /** Who holds the VIP right after the deploy (elections take a few adverts: may be empty). */
  status: ServicesStatus;
}

const PROBE_TIMEOUT_MS = 10_000;
const DEPLOY_TIMEOUT_MS = 30_000;

/** The cluster manifest from shared storage, through any live node. */
export async function readManifest(session: ClusterSession): Promise<Manifest> {
  const conn = await session.any();
  const m = await readManifestVia(conn, SHARED_ROOT, PROBE_TIMEOUT_MS);
  if (!m) throw new VlxError('not-found', `no manifest at ${SHARED_ROOT}/manifest.json on node ${conn.name}`, 'a cluster install (or `vlx lab up`) writes it');
  return m;
}

function unreachable(r: NodeExecResult): { code: string; message: string } | undefined {
  return r.error ?? (r.code !== 0 ? { code: 'remote-failed', message: `exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}` } : undefined);
}

/** The manifest's nodes this session can reach by name (it learned them from the same manifest). */
function sessionNodes(session: ClusterSession, m: Manifest): { name: string; address: string }[] {
  const known = new Set(session.nodes().map((n) => n.name));
  return m.nodes.filter((n) => known.has(n.name)).map((n) => ({ name: n.name, address: n.address }));
}

export async function probeNodes(session: ClusterSession, m: Manifest): Promise<{ facts: NodeFacts[]; down: string[] }> {
  const nodes = sessionNodes(session, m);
  const results = await Promise.all(nodes.map(async (n) => (await session.onNodes([n.name], probeScript(n.address), { timeoutMs: PROBE_TIMEOUT_MS }))[0]));
  const facts: NodeFacts[] = [];
  const down: string[] = [];
  for (const r of results) {
    if (unreachable(r)) down.push(r.node);
    else facts.push(parseProbe(r.node, r.stdout));
  }
  return { facts, down };
}

export async function deployServices(
  session: ClusterSession,
  manifest: Manifest,
  onProgress: (p: ServicesProgress) => void = () => {},
): Promise<ServicesDeployResult> {
  onProgress({ step: 'probe', note: `asking ${manifest.nodes.length} node(s) for their interfaces and tools` });
  const { facts, down } = await probeNodes(session, manifest);
  if (facts.length === 0) throw new VlxError('unreachable', `no node of cluster ${manifest.name} answered`, 'check that the nodes are up');
  for (const f of facts) {
    const missing = (['dnsmasq', 'keepalived', 'nft'] as const).filter((t) => !f.tools[t]);
    if (missing.length > 0) {
      throw new VlxError('missing-tool', `node ${f.node} lacks ${missing.join(', ')}`, 'install dnsmasq-base, keepalived and nftables on every node');
    }
  }
  const plan = planServices(manifest, facts);
  onProgress({
    step: 'plan',
    note: `VIP ${plan.vip} on ${plan.network}, ${plan.dhcpHosts.length} DHCP entr${plan.dhcpHosts.length === 1 ? 'y' : 'ies'}` +
      (down.length > 0 ? `; down, left alone: ${down.join(', ')}` : '') +
      (plan.nodesWithoutMac.length > 0 ? `; no MAC known for ${plan.nodesWithoutMac.join(', ')} (add nodes[].mac to the manifest)` : ''),
  });

  const keepClock = session.config.lab;
  const nodes = await Promise.all(plan.nodes.map(async (n): Promise<NodeDeployResult> => {
    onProgress({ step: 'configure', node: n.name, note: 'writing configs and starting daemons' });
    const script = deployScript({
      files: renderNodeFiles(plan, n), tftpRoot: plan.tftpRoot, vip: plan.vip, prefix: plan.prefix, iface: n.iface, ntp: n.ntp, keepClock,
      ...(plan.public && n.publicIface ? { public: { address: `${plan.public.ip}/${plan.public.prefix}`, iface: n.publicIface } } : {}),
    });
    const [r] = await session.onNodes([n.name], script, { timeoutMs: DEPLOY_TIMEOUT_MS });
    const err = r.error ?? (r.code !== 0 ? { code: 'remote-failed', message: `exit ${r.code}: ${r.stderr.trim()}` } : undefined);
    const out = parseDeploy(r.stdout);
    const expected: ServiceName[] = n.ntp ? ['dnsmasq', 'keepalived', 'chronyd', 'ganesha'] : ['dnsmasq', 'keepalived', 'ganesha'];
    const reported = expected.every((s) => out.services.some((x) => x.service === s));
    const ok = !err && reported && out.services.every((s) => s.action !== 'failed');
    const result: NodeDeployResult = { node: n.name, address: n.address, ok, written: out.written, services: out.services, ...(err ? { error: err } : {}) };
    onProgress({ step: 'configure', node: n.name, note: out.services.map((s) => `${s.service} ${s.action}${s.message ? `: ${s.message}` : ''}`).join(', ') || (err?.message ?? 'no report') });
    return result;
  }));

  onProgress({ step: 'verify', note: 'reading every node\'s services back' });
  const status = await servicesStatus(session);
  for (const n of nodes) {
    const st = status.nodes.find((s) => s.node === n.node);
    const notRunning = (n.services.map((s) => s.service)).filter((svc) => st?.services.find((x) => x.service === svc)?.state !== 'running');
    if (notRunning.length > 0 && n.ok) {
      n.ok = false;
      n.error = { code: 'remote-failed', message: `not running after the deploy: ${notRunning.join(', ')}` };
    }
  }
  const failed = nodes.filter((n) => !n.ok);
  if (failed.length > 0) {
    const lines = failed.map((n) => `  ${n.node}: ${n.error?.message ?? n.services.filter((s) => s.action === 'failed').map((s) => `${s.service}: ${s.message}`).join('; ')}`);
    throw new VlxError('remote-failed', `services failed on ${failed.length} node(s):\n${lines.join('\n')}`, 'see /run/virtualinux/keepalived.log, dnsmasq.log, services-nfs.out and /var/lib/virtualinux/nfs/ganesha.log on the node', { nodes: failed.map((n) => n.node) });
  }
  return {
    cluster: plan.cluster, vip: plan.vip, network: plan.network, dhcpHosts: plan.dhcpHosts,
    nodesWithoutMac: plan.nodesWithoutMac, skipped: [...down, ...plan.skipped.filter((s) => !down.includes(s))], nodes, status,
  };
}

export interface NodeServicesStatus extends NodeServicesReport {
  node: string;
  address: string;
  reachable: boolean;
  error?: { code: string; message: string };
}

export interface ServicesStatus {
  /** The VIP as deployed (read from the nodes), if any node has been deployed. */
  vip?: string;
  /** Live nodes holding the VIP now: one in a healthy cluster, none while an election runs. */
  holders: string[];
  /** Live nodes holding the storage address (the root server of disk-less nodes): one, or none during a take-over. */
  storageHolders: string[];
  /** Live nodes holding the gateway's public address: one with a public side, none while an election runs. */
  publicHolders: string[];
  nodes: NodeServicesStatus[];
}

const EMPTY: NodeServicesReport = { deployed: false, services: [], holdsVip: false, nat: false };

/** Every node's services, or only those named (a poll that should not wait on a dead node). */
export async function servicesStatus(session: ClusterSession, only?: string[]): Promise<ServicesStatus> {
  const results = await session.onNodes(only ?? 'all', statusScript(), { timeoutMs: PROBE_TIMEOUT_MS });
  const nodes = results.map((r): NodeServicesStatus => {
    const err = unreachable(r);
    if (err) return { node: r.node, address: r.address, reachable: !r.error, error: err, ...EMPTY };
    return { node: r.node, address: r.address, reachable: true, ...parseStatus(r.stdout) };
  });
  const vip = nodes.find((n) => n.vip)?.vip;
  return {
    ...(vip ? { vip } : {}),
    holders: nodes.filter((n) => n.holdsVip).map((n) => n.node),
    storageHolders: nodes.filter((n) => n.storage?.holds).map((n) => n.node),
    publicHolders: nodes.filter((n) => n.public?.holds).map((n) => n.node),
    nodes,
  };
}

export interface NodeStopResult {
  node: string;
  reachable: boolean;
  error?: { code: string; message: string };
  stopped: ServiceName[];
}

export async function stopServices(session: ClusterSession): Promise<NodeStopResult[]> {
  const results = await session.onNodes('all', stopScript(), { timeoutMs: DEPLOY_TIMEOUT_MS });
  return results.map((r) => {
    const err = unreachable(r);
    return {
      node: r.node,
      reachable: !r.error,
      ...(err ? { error: err } : {}),
      stopped: parseStop(r.stdout).filter((s) => s.stopped).map((s) => s.service),
    };
  });
}
