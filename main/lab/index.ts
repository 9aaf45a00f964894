import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCluster, loadStore, putCluster, removeCluster } from '../config/clusters.js';
import { NODE_ETC, NODE_LIB, SHARED_ROOT, labDir } from '../config/paths.js';
import { VlxError } from '../errors.js';
import { replaceKnownHost } from '../ssh/knownHosts.js';
import { checkName } from '../util/names.js';
import {
  BRIDGE, CLUSTER_NAME, CLUSTER_NETWORK, HOST_ADDRESS, checkLabDir, checkLabOptions, labNodes, labPaths, netnsIndexOf,
  nodeIndexOf, nodeLayout, nodePaths, type LabNodeLayout, type LabOptions, type LabPaths,
} from './layout.js';
import { deleteLink, deleteNetns, ensureBridge, ensureOutside, hostLinks, listNetns, nodeWired, powerOnLink, removeOutside, setHostLink, wireNodes, type HostLink } from './net.js';
import { killNode, nodePids, sshdPid, startNode, waitForSshd } from './node.js';
import { findPostmasters, stopPatronis, stopPostmaster } from './postgres.js';
import { buildManifest, renderHostsFile, renderNodeJson, renderSshdConfig, renderStartScript } from './render.js';
import { ensureTools } from './tools.js';
import { holdLabLock as holdLock, readLabState, withLabLock, writeLabState } from './state.js';

export type Progress = (msg: string) => void;

export interface LabUpOptions {
  nodes?: number | string;
  cores?: number | string;
  memMb?: number | string;
  /** Runs once every node answers, still under the lab lock (the lead deploys the DB here). */
  afterNodesUp?: () => Promise<void>;
}

export interface LabNodeStatus {
  name: string;
  address: string;
  netns: boolean;
  link: 'up' | 'down' | 'absent';
  sshd: boolean;
  pid?: number;
}

export interface LabStatus {
  state: 'up' | 'down' | 'degraded';
  labDir: string;
  bridge: boolean;
  hostAddress: string;
  network: string;
  cores?: number;
  memMb?: number;
  nodes: LabNodeStatus[];
}

export interface LabDownResult {
  namespaces: string[];
  links: string[];
  mountpoints: string[];
  processes: number[];
  purged: boolean;
}

/** Host directories that node mounts land on (a node's /run is a tmpfs of its own: nothing there). */
const HOST_MOUNTPOINTS = [SHARED_ROOT, NODE_LIB, NODE_ETC];

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new VlxError('not-root', 'the lab needs root (network namespaces, mounts)', 'run it as root, e.g. `sudo vlx lab up`');
  }
}

function paths(): LabPaths {
  return labPaths(checkLabDir(labDir()));
}

export async function labUp(raw: LabUpOptions = {}, onProgress: Progress = () => {}): Promise<LabStatus> {
  // Everything is checked before anything is made.
  const opts = checkLabOptions(raw);
  const lp = paths();
  requireRoot();
  await ensureTools(onProgress);
  return withLabLock(lp.lockFile, async () => {
    const nodes = labNodes(opts.nodes);
    const [links, netns] = await Promise.all([hostLinks(), listNetns()]);
    const prev = readLabState(lp.stateFile);
    const running = netns.map(netnsIndexOf).filter((i): i is number => i !== undefined).sort((a, b) => a - b);
    if (running.length > 0 && !prev) {
      throw new VlxError('conflict', `lab namespaces are running (${running.map((i) => `n${i}`).join(', ')}) that ${lp.root} does not describe`, 'another VLX_LAB_DIR may own them; run `vlx lab down` first');
    }
    if (running.length > 0) {
      const size = prev?.nodes ?? Math.max(...running);
      if (size !== opts.nodes) {
        throw new VlxError('conflict', `a lab of ${size} nodes is running; asked for ${opts.nodes}`, 'run `vlx lab down` first to change the number of nodes');
      }
    }

    prepareFiles(lp, nodes, opts);
    const created = new Set((prev?.createdMountpoints ?? []).filter((m) => HOST_MOUNTPOINTS.includes(m)));
    for (const m of HOST_MOUNTPOINTS) {
      if (!existsSync(m)) {
        mkdirSync(m, { recursive: true, mode: 0o755 });
        created.add(m);
      }
    }
    // Recorded before any namespace exists, so `down` can undo a half-finished `up`.
    const upAt = running.length > 0 && prev ? prev.upAt : new Date().toISOString();
    writeLabState(lp.stateFile, { version: 1, nodes: opts.nodes, cores: opts.cores, memMb: opts.memMb, createdMountpoints: [...created], upAt });

    await ensureBridge(links);
    onProgress(`bridge ${BRIDGE} ${HOST_ADDRESS}/24; ${await ensureOutside()}`);
    const unwired: LabNodeLayout[] = [];
    const wired = await Promise.all(nodes.map((n) => nodeWired(n, links, netns)));
    for (const [i, n] of nodes.entries()) {
      if (wired[i]) {
        if (links.get(n.hostVeth)?.flags.includes('UP') === false) await powerOnLink(n);
      } else {
        await unwire(n, links, netns);
        unwired.push(n);
      }
    }
    await wireNodes(unwired);
    if (unwired.length > 0) onProgress(`namespaces ${unwired.map((n) => n.netns).join(', ')} on ${BRIDGE}`);
    await bootNodes(lp, nodes, onProgress, unwired);
    register(lp, nodes, opts);
    onProgress(`cluster "${CLUSTER_NAME}" registered and selected`);
    if (raw.afterNodesUp) await raw.afterNodesUp();
    return readStatus(lp);
  });
}

/** Whatever is left of a half-built node goes, so it can be wired from scratch. */
async function unwire(n: LabNodeLayout, links: Map<string, HostLink>, netns: string[]): Promise<void> {
  if (netns.includes(n.netns)) {
    await killNode(n.netns);
    await deleteNetns(n.netns);
  }
  if (links.has(n.hostVeth)) await deleteLink(n.hostVeth);
}

/** Keys, configs and private directories of every node; existing keys are kept (same identity). */
function prepareFiles(lp: LabPaths, nodes: LabNodeLayout[], opts: LabOptions): void {
  mkdirSync(lp.root, { recursive: true, mode: 0o700 });
  mkdirSync(lp.shared, { recursive: true, mode: 0o755 });
  if (!existsSync(lp.key)) keygen(lp.key, 'vlx-lab');
  const authorized = readFileSync(lp.publicKey, 'utf8');
  for (const n of nodes) {
    const p = nodePaths(lp.root, n.name);
    for (const d of [p.dir, p.run, p.lib, p.etc, join(p.home, '.ssh')]) mkdirSync(d, { recursive: true, mode: 0o755 });
    chmodSync(join(p.home, '.ssh'), 0o700);
    if (!existsSync(p.hostKey)) keygen(p.hostKey, `root@${n.name}`);
    writeIfChanged(p.sshdConfig, renderSshdConfig(n, p));
    writeIfChanged(p.startScript, renderStartScript({ node: n, paths: p, shared: lp.shared }));
    // World-readable like a real /etc/hosts: PostgreSQL (as postgres) resolves "localhost" from it,
    // and an unreadable file sent it to DNS for 10 s on every start.
    writeIfChanged(p.hosts, renderHostsFile(nodes), 0o644);
    writeIfChanged(join(p.home, '.ssh', 'authorized_keys'), authorized);
    writeIfChanged(join(p.etc, 'node.json'), renderNodeJson(n, opts));
  }
}

function keygen(file: string, comment: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  // Synchronous on purpose: a few ms each, and the callers are sequential anyway.
  const r = spawnSyncChecked('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  if (r !== 0) throw new VlxError('internal', `ssh-keygen failed for ${file}`);
}

function spawnSyncChecked(cmd: string, args: string[]): number {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status ?? 1;
}

function writeIfChanged(file: string, content: string, mode = 0o600): void {
  if (!existsSync(file) || readFileSync(file, 'utf8') !== content) writeFileSync(file, content, { mode });
  if ((statSync(file).mode & 0o777) !== mode) chmodSync(file, mode);
}

/**
 * Start the sshd of every node that has none, then wait until all of them answer.
 * `fresh` nodes were just wired: nothing can run in them yet.
 */
async function bootNodes(lp: LabPaths, nodes: LabNodeLayout[], onProgress: Progress, fresh: LabNodeLayout[] = []): Promise<void> {
  const toStart = nodes.filter((n) => !sshdPid(nodePaths(lp.root, n.name)));
  await Promise.all(toStart.map(async (n) => {
    const p = nodePaths(lp.root, n.name);
    // A node with nothing running was powered off: like a real node's tmpfs, its /run starts empty.
    if (fresh.includes(n) || (await nodePids(n.netns)).length === 0) clearDir(p.run);
    rmSync(p.pidFile, { force: true });
    startNode(n, p);
  }));
  if (toStart.length > 0) onProgress(`starting sshd on ${toStart.map((n) => n.name).join(', ')}`);
  await Promise.all(nodes.map((n) => waitForSshd(n, nodePaths(lp.root, n.name))));
  onProgress(`${nodes.length} nodes answer on ssh`);
}

function clearDir(dir: string): void {
  for (const e of readdirSync(dir)) rmSync(join(dir, e), { recursive: true, force: true });
}

/** The lab is a cluster like any other for the app; its host keys are ours, so trusting them is sound. */
function register(lp: LabPaths, nodes: LabNodeLayout[], opts: LabOptions): void {
  const lines: string[] = [];
  for (const n of nodes) {
    const [keyType, keyBase64] = readFileSync(nodePaths(lp.root, n.name).hostKeyPub, 'utf8').trim().split(/\s+/);
    if (!keyType || !keyBase64) throw new VlxError('internal', `unreadable host key of lab node ${n.name}`);
    replaceKnownHost(n.address, 22, { keyType, keyBase64 });
    lines.push(`${n.address} ${keyType} ${keyBase64}`);
  }
  // For `ssh -o UserKnownHostsFile=…` by hand and in tests, with no app code involved.
  writeIfChanged(lp.knownHosts, lines.join('\n') + '\n');

  const manifestFile = join(lp.shared, 'manifest.json');
  let previous: unknown;
  try {
    previous = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch {
    previous = undefined;
  }
  writeIfChanged(manifestFile, JSON.stringify(buildManifest(nodes, opts, previous), null, 2) + '\n');

  const existing = findCluster(loadStore(), CLUSTER_NAME);
  putCluster({
    name: CLUSTER_NAME,
    nodes: nodes.map((n) => ({ name: n.name, address: n.address })),
    user: 'root',
    port: 22,
    keyFile: lp.key,
    lab: true,
    // A DB deployed earlier on this lab stays known (its password lives only here).
    ...(existing?.lab && existing.db && nodes.some((n) => n.name === existing.db?.node) ? { db: existing.db } : {}),
  }, true);
}

/**
 * Keep every other process from changing the lab until release(); this process, and children
 * started with `VLX_LAB_LOCK=<token>`, go on. For test files that take the lab down and up.
 */
export function holdLabLock(): Promise<{ token: string; release: () => void }> {
  return holdLock(paths().lockFile);
}

export async function labStatus(): Promise<LabStatus> {
  return readStatus(paths());
}

async function readStatus(lp: LabPaths): Promise<LabStatus> {
  const [links, netns] = await Promise.all([hostLinks(), listNetns()]);
  const st = readLabState(lp.stateFile);
  const found = netns.map(netnsIndexOf).filter((i): i is number => i !== undefined);
  const count = st?.nodes ?? (found.length ? Math.max(...found) : 0);
  const nodes = labNodes(count).map((n): LabNodeStatus => {
    const link = links.get(n.hostVeth);
    const pid = sshdPid(nodePaths(lp.root, n.name));
    return {
      name: n.name,
      address: n.address,
      netns: netns.includes(n.netns),
      link: !link ? 'absent' : link.flags.includes('UP') ? 'up' : 'down',
      sshd: pid !== undefined,
      ...(pid ? { pid } : {}),
    };
  });
  const bridge = links.has(BRIDGE);
  const healthy = nodes.filter((n) => n.netns && n.link === 'up' && n.sshd).length;
  const anything = bridge || nodes.some((n) => n.netns || n.link !== 'absent');
  return {
    state: !anything ? 'down' : bridge && nodes.length > 0 && healthy === nodes.length ? 'up' : 'degraded',
    labDir: lp.root,
    bridge,
    hostAddress: HOST_ADDRESS,
    network: CLUSTER_NETWORK,
    ...(st ? { cores: st.cores, memMb: st.memMb } : {}),
    nodes,
  };
}

/** A lab node named by the user: checked as a name first, then against the running lab. */
function labNode(lp: LabPaths, name: unknown): LabNodeLayout {
  const checked = checkName('node', name, 'NODE');
  const i = nodeIndexOf(checked);
  const st = readLabState(lp.stateFile);
  if (i === undefined || !st || i > st.nodes) {
    throw new VlxError('not-found', `"${checked}" is not a node of the lab${st ? ` (n1..n${st.nodes})` : ' (the lab is down)'}`, st ? undefined : 'start it with `vlx lab up`');
  }
  return nodeLayout(i);
}

function nodeStatusOf(s: LabStatus, name: string): LabNodeStatus {
  const n = s.nodes.find((x) => x.name === name);
  if (!n) throw new VlxError('internal', `node ${name} missing from lab status`);
  return n;
}

/** A power failure of one node: its link is cut first (no goodbye packets), then everything it ran dies. */
export async function labCrash(name: string): Promise<LabNodeStatus> {
  const lp = paths();
  checkName('node', name, 'NODE');
  requireRoot();
  const n = labNode(lp, name);
  return withLabLock(lp.lockFile, async () => {
    if ((await hostLinks()).has(n.hostVeth)) await setHostLink(n, 'down');
    await killNode(n.netns);
    return nodeStatusOf(await readStatus(lp), n.name);
  });
}

/** Power back on: same namespace, address, MAC, host key and private disks; an empty /run, none of the gateway's addresses. */
export async function labRevive(name: string): Promise<LabNodeStatus> {
  const lp = paths();
  checkName('node', name, 'NODE');
  requireRoot();
  const n = labNode(lp, name);
  return withLabLock(lp.lockFile, async () => {
    const [links, netns] = await Promise.all([hostLinks(), listNetns()]);
    if (!links.has(BRIDGE)) throw new VlxError('conflict', 'the lab network is gone', 'run `vlx lab up`');
    if (await nodeWired(n, links, netns)) {
      await powerOnLink(n);
    } else {
      await unwire(n, links, netns);
      await wireNodes([n]);
    }
    await bootNodes(lp, [n], () => {});
    return nodeStatusOf(await readStatus(lp), n.name);
  });
}

export async function labDown(opts: { purge?: boolean } = {}, onProgress: Progress = () => {}): Promise<LabDownResult> {
  const lp = paths();
  requireRoot();
  const result: LabDownResult = { namespaces: [], links: [], mountpoints: [], processes: [], purged: false };
  await withLabLock(lp.lockFile, async () => {
    const owned = (await listNetns()).filter((x) => netnsIndexOf(x) !== undefined).sort((a, b) => netnsIndexOf(a)! - netnsIndexOf(b)!);
    // A shutdown, not a power cut: databases stop cleanly before their node goes.
    await Promise.all(owned.map((ns) => stopDatabases(ns, onProgress)));
    for (const ns of owned) {
      await killNode(ns);
      await deleteNetns(ns);
      result.namespaces.push(ns);
    }
    result.namespaces.push(...(await removeOutside()));
    // Deleting a namespace takes its eth0 and so the veth pair; anything left is removed here.
    for (const l of (await hostLinks()).keys()) {
      await deleteLink(l);
      result.links.push(l);
    }
    result.processes = killStrays(lp.root);
    const st = readLabState(lp.stateFile);
    // Only directories the lab still uses as mountpoints: anything else may serve others now.
    for (const m of (st?.createdMountpoints ?? []).filter((x) => HOST_MOUNTPOINTS.includes(x))) {
      try {
        rmdirSync(m);
        result.mountpoints.push(m);
      } catch (e) {
        // Something else put files there since: leave it, and say so.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onProgress(`left ${m} in place: ${(e as Error).message}`);
      }
    }
    rmSync(lp.stateFile, { force: true });
    const reg = findCluster(loadStore(), CLUSTER_NAME);
    if (reg?.lab) removeCluster(CLUSTER_NAME);
  });
  if (opts.purge) {
    rmSync(lp.root, { recursive: true, force: true });
    result.purged = true;
  }
  onProgress(`lab down: ${result.namespaces.length} namespaces, ${result.links.length} links removed`);
  return result;
}

async function stopDatabases(netns: string, onProgress: Progress): Promise<void> {
  const node = `n${netnsIndexOf(netns)}`;
  const patronis = await stopPatronis(await nodePids(netns));
  if (patronis.length) onProgress(`Patroni on ${node} stopped its PostgreSQL`);
  for (const pm of findPostmasters(await nodePids(netns))) {
    const r = await stopPostmaster(pm);
    onProgress(r.clean
      ? `PostgreSQL on ${node} stopped (${(r.ms / 1000).toFixed(1)} s)`
      : `PostgreSQL on ${node} (pid ${pm.pid}) did not stop cleanly${r.detail ? `: ${r.detail}` : ''}; killing it`);
  }
}

/** Anything still running from the lab dir outside a namespace (a node that failed half-way). */
function killStrays(root: string): number[] {
  const killed: number[] = [];
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.split('\0').some((a) => a === root || a.startsWith(root + '/'))) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // gone already
      }
    }
  }
  return killed;
}
