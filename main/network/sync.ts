import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sh } from '../util/quote.js';
import { VlxError } from '../errors.js';
import { withAnyNode } from '../ssh/session.js';
import { ACTIVE_VM_STATES, allVms, listVcRows } from '../cluster/repo.js';
import { desiredRoutes, diffRoutes, parseRoutes, ROUTE_LIST_ARGV, type HostedVm, type Route, type RouteChange } from './routes.js';
import { renderNodeFirewall, type NftVm } from './nft.js';
import { tapName } from '../domain/addressing.js';
import { managementNetworksOf, runScript, type VcEnv } from '../cluster/env.js';
import type { Manifest } from '../domain/manifest.js';
import type { NodeExecResult } from '../ssh/session.types.js';
import { readManifestVia } from '../cluster/manifest.js';
import { renderVmHosts, renderVmHostsScript } from './vmNames.js';
import { parseNfsLine, renderNfsScript, type NfsShare } from './sharedNfs.js';

const run = promisify(execFile);

/** Where the extra host (the lab's workstation) appears in the route plan. */
export const WORKSTATION = 'workstation';

export interface ExtraTap {
  vc: string;
  vm: string;
  node: string;
}

export interface NetworkSyncResult {
  /** Route changes applied, per host. */
  changes: Record<string, number>;
  /** Nodes that did not answer (they get their routes when they come back and a workflow syncs again). */
  skipped: string[];
  /**
   * When the last host that answered had its routes (ms since the epoch). The sync itself
   * returns later when a dead node's answer times out; the live ones do not wait for it.
   */
  appliedAt: number;
}

/**
 * Makes routes and firewalls on every node (and, for a lab, on this workstation, which sits
 * on the lab bridge) match the DB: every active VM's /32 to its tap on its node and via its
 * node everywhere else; each node's `vlx` nft tables rendered from all VCs and the VMs on
 * it; each node's NFS exports of the VCs' shared directories (main/vc/sharedNfs). Computed
 * from the whole cluster's state rather than patched per VC, so it is idempotent and a
 * re-run after any crash converges. Runs under one cluster-wide advisory
 * lock: two VC workflows never interleave their read-then-apply.
 *
 * `extraTaps` puts a VM's anti-spoofing rules on a node before the DB maps it there
 * (the target of a live migration). `tapsPending`: the sync runs before the VMs' taps are
 * made, so a route to a missing tap is expected and not logged.
 */
export async function syncNetwork(env: VcEnv, opts: { extraTaps?: ExtraTap[]; tapsPending?: boolean; log?: (l: string) => void } = {}): Promise<NetworkSyncResult> {
  return env.db.withAdvisoryLock('net', async (q) => {
    const rows = await listVcRows(q);
    const vcs = rows.map((v) => ({ name: v.name, subnet: v.subnet }));
    // A VC being made has no shared directory yet; one being destroyed loses it next.
    const shares: NfsShare[] = rows.filter((v) => v.state !== 'creating' && v.state !== 'destroying')
      .map((v) => ({ vc: v.name, subnet: v.subnet, shareId: v.shareId, dir: env.paths.vcShared(v.name) }));
    const nfsScript = renderNfsScript(shares);
    const active = new Set<string>(ACTIVE_VM_STATES);
    const everything = await allVms(q);
    const vms = everything.filter((v) => v.node && active.has(v.state));
    const hosted: HostedVm[] = vms.map((v) => ({ ip: v.ip, node: v.node as string, tap: tapName(v.ip) }));
    const nodes = env.session.nodes();
    // Every node lists its routes at once; the manifest is read through the first to answer.
    // The node the command was using may have died unnoticed, and asking it first would hold
    // every live node's routes back by its channel timeout (a moved VM unreachable meanwhile).
    const listings = nodes.map(({ name }) => env.session.onNodes([name], sh(...ROUTE_LIST_ARGV), { timeoutMs: 10_000 }).then(([r]) => r!));
    const manifest = await readManifestFromFirst(env, listings);
    const managementNetworks = managementNetworksOf(manifest, nodes).map((r) => r.cidr);
    const publicAddresses = manifest?.gateway?.public ? [manifest.gateway.public.ip] : [];
    const hostsScript = renderVmHostsScript(renderVmHosts(everything.map((v) => ({ vc: v.vc, name: v.name, ip: v.ip })), manifest?.services?.dns?.domain));
    const extraHosts = env.cluster.lab ? [WORKSTATION] : [];
    const desired = desiredRoutes(hosted, nodes, extraHosts);

    const skipped: string[] = [];
    const changes: Record<string, number> = {};
    let appliedAt = Date.now();

    // Each node lists and applies on its own: a dead node's timeout does not hold the live
    // ones' routes back (a moved VM is unreachable from elsewhere until they change).
    let localDone = 0;
    const local = env.cluster.lab ? syncLocalRoutes(desired[WORKSTATION] ?? []).then((n) => { localDone = Date.now(); return n; }) : undefined;
    local?.catch(() => undefined); // awaited below; a node's failure first must not leave it unhandled
    await Promise.all(listings.map(async (listing) => {
      const r = await listing;
      if (r.code !== 0) {
        skipped.push(r.node);
        return;
      }
      const diff = diffRoutes(parseRoutes(r.stdout), desired[r.node] ?? []);
      const onNode: NftVm[] = vms.filter((v) => v.node === r.node).map((v) => ({ vc: v.vc, ip: v.ip, mac: v.mac, tap: tapName(v.ip) }));
      for (const x of opts.extraTaps ?? []) {
        const row = everything.find((v) => v.vc === x.vc && v.name === x.vm);
        if (x.node !== r.node || !row || onNode.some((v) => v.tap === tapName(row.ip))) continue;
        onNode.push({ vc: row.vc, ip: row.ip, mac: row.mac, tap: tapName(row.ip) });
      }
      const address = nodes.find((n) => n.name === r.node)?.address ?? '';
      const nft = renderNodeFirewall({ vcs, vms: onNode, guard: { managementNetworks, nodeAddress: address, publicAddresses } });
      const script = [
        // A tap that is gone makes `ip route replace … dev TAP` fail: such a route waits for the next sync.
        ...diff.map((c) => `${sh(...c.argv)} || echo ${sh(`route-failed ${c.route.dst}`)}`),
        "nft -f - <<'VLX_NFT_EOF'",
        nft.trimEnd(),
        'VLX_NFT_EOF',
        nfsScript.trimEnd(),
        hostsScript.trimEnd(),
      ].join('\n') + '\n';
      let out: string;
      try {
        out = await runScript(await env.session.node(r.node), script, 30_000);
      } catch (e) {
        // Answered the listing, then died: like a node that never answered, it is skipped and
        // converges at the next sync after it is back. The workflow goes on with the live nodes.
        if (e instanceof VlxError && e.code === 'unreachable') {
          skipped.push(r.node);
          return;
        }
        throw e;
      }
      if (!opts.tapsPending) for (const line of out.split('\n').filter((l) => l.startsWith('route-failed'))) opts.log?.(`${r.node}: ${line}`);
      const nfs = parseNfsLine(out);
      if (nfs && nfs.action !== 'kept' && nfs.action !== 'absent') {
        opts.log?.(`${r.node}: shared storage server ${nfs.action}${nfs.detail ? `: ${nfs.detail}` : ''}`);
      }
      changes[r.node] = diff.length;
      appliedAt = Date.now();
    }));

    if (local) {
      changes[WORKSTATION] = await local;
      appliedAt = Math.max(appliedAt, localDone);
    }
    // Nodes finish in any order: the log and the result name them in the cluster's order.
    skipped.sort((a, b) => nodes.findIndex((n) => n.name === a) - nodes.findIndex((n) => n.name === b));
    if (skipped.length) opts.log?.(`network: nodes not reachable, skipped: ${skipped.join(', ')}`);
    return { changes, skipped, appliedAt };
  }, { wait: true });
}

/** The node whose answer settles first with success, or undefined when none answers. */
export function firstAnswering(listings: Promise<NodeExecResult>[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    let left = listings.length;
    if (left === 0) resolve(undefined);
    const missed = () => { if (--left === 0) resolve(undefined); };
    for (const p of listings) p.then((r) => (r.code === 0 ? resolve(r.node) : missed()), missed);
  });
}

async function readManifestFromFirst(env: VcEnv, listings: Promise<NodeExecResult>[]): Promise<Manifest | undefined> {
  const via = await firstAnswering(listings);
  if (via !== undefined) {
    try {
      return await readManifestVia(await env.session.node(via), env.paths.root);
    } catch (e) {
      // It answered, then died: any other live node will do.
      if (!(e instanceof VlxError && e.code === 'unreachable')) throw e;
    }
  }
  return withAnyNode(env.session, (c) => readManifestVia(c, env.paths.root));
}

/** The workstation's own routes to VMs (lab only: it is on the lab bridge). argv, no shell. */
async function syncLocalRoutes(desired: Route[]): Promise<number> {
  const { stdout } = await run(ROUTE_LIST_ARGV[0], ROUTE_LIST_ARGV.slice(1));
  const diff: RouteChange[] = diffRoutes(parseRoutes(stdout), desired);
  for (const c of diff) {
    try {
      await run(c.argv[0], c.argv.slice(1));
    } catch (e) {
      throw new VlxError('remote-failed', `workstation: ${c.argv.join(' ')} failed: ${(e as { stderr?: string }).stderr ?? String(e)}`,
        'the lab needs root on this machine to route to its VMs');
    }
  }
  return diff.length;
}
