import { join } from 'node:path';
import { invalid } from '../errors.js';
import { checkInt } from '../util/names.js';
import { LAB_DEFAULTS, LAB_LIMITS } from '../domain/labLimits.js';

/**
 * Where every piece of the lab lives: names, addresses and paths are computed here from
 * the node index, so the rest of the lab module never formats a name of its own.
 */
export const BRIDGE = 'vlxlab0';
export const HOST_ADDRESS = '10.77.0.254';
export const PREFIX_LEN = 24;
export const CLUSTER_NETWORK = '10.77.0.0/24';
export const CLUSTER_NAME = 'lab';
export const NETNS_PREFIX = 'vlx-n';
export const VETH_PREFIX = 'vlxn';
export const MAX_NODES = LAB_LIMITS.nodes.max;

export interface LabOptions {
  nodes: number;
  cores: number;
  memMb: number;
}

export { LAB_DEFAULTS };

/** Options arrive as CLI strings or GUI numbers; both are checked before anything is made. */
export function checkLabOptions(raw: { nodes?: unknown; cores?: unknown; memMb?: unknown }): LabOptions {
  return {
    nodes: raw.nodes === undefined ? LAB_DEFAULTS.nodes : checkInt(raw.nodes, 'nodes', LAB_LIMITS.nodes.min, MAX_NODES),
    cores: raw.cores === undefined ? LAB_DEFAULTS.cores : checkInt(raw.cores, 'cores', LAB_LIMITS.cores.min, LAB_LIMITS.cores.max),
    memMb: raw.memMb === undefined ? LAB_DEFAULTS.memMb : checkInt(raw.memMb, 'memMb', LAB_LIMITS.memMb.min, LAB_LIMITS.memMb.max),
  };
}

export interface LabNodeLayout {
  index: number;
  name: string;
  address: string;
  netns: string;
  /** Host end of the veth pair, enslaved to the bridge; the node end is eth0 in the namespace. */
  hostVeth: string;
  /** Locally administered, fixed per index so a revived node keeps its MAC as well as its IP. */
  mac: string;
}

export function nodeLayout(index: number): LabNodeLayout {
  if (!Number.isInteger(index) || index < 1 || index > MAX_NODES) throw invalid('node index', `must be a whole number from 1 to ${MAX_NODES}`, index);
  return {
    index,
    name: `n${index}`,
    address: `10.77.0.${index}`,
    netns: `${NETNS_PREFIX}${index}`,
    hostVeth: `${VETH_PREFIX}${index}`,
    mac: `52:54:4d:00:00:${index.toString(16).padStart(2, '0')}`,
  };
}

export function labNodes(count: number): LabNodeLayout[] {
  return Array.from({ length: count }, (_, i) => nodeLayout(i + 1));
}

/** `n7` → 7; anything else that is not a lab node name → undefined. */
export function nodeIndexOf(name: string): number | undefined {
  const m = /^n([1-9]\d?)$/.exec(name);
  if (!m) return undefined;
  const i = Number(m[1]);
  return i <= MAX_NODES ? i : undefined;
}

/** `vlx-n3` → 3 for namespaces the lab owns (used by `down` to find leftovers of any size). */
export function netnsIndexOf(netns: string): number | undefined {
  return netns.startsWith(NETNS_PREFIX) ? nodeIndexOf('n' + netns.slice(NETNS_PREFIX.length)) : undefined;
}

// The lab dir ends up in sshd_config, a shell script and mount arguments; a plain path keeps
// every one of those free of quoting rules of its own.
const PLAIN_PATH = /^\/[A-Za-z0-9._/-]*$/;

export function checkLabDir(dir: string): string {
  if (!PLAIN_PATH.test(dir) || dir.split('/').includes('..') || dir === '/') {
    throw invalid('VLX_LAB_DIR', 'must be an absolute path of letters, digits, ".", "_", "-" and "/"', dir);
  }
  return dir.replace(/\/+$/, '');
}

export interface LabPaths {
  root: string;
  stateFile: string;
  lockFile: string;
  key: string;
  publicKey: string;
  knownHosts: string;
  shared: string;
  nodesDir: string;
}

export function labPaths(dir: string): LabPaths {
  return {
    root: dir,
    stateFile: join(dir, 'lab.json'),
    lockFile: join(dir, 'lock'),
    key: join(dir, 'id_ed25519'),
    publicKey: join(dir, 'id_ed25519.pub'),
    knownHosts: join(dir, 'known_hosts'),
    shared: join(dir, 'shared'),
    nodesDir: join(dir, 'nodes'),
  };
}

export interface NodePaths {
  dir: string;
  hostKey: string;
  hostKeyPub: string;
  sshdConfig: string;
  startScript: string;
  /** Bind-mounted over the node's /etc/hosts: every lab node's name, as a cluster's DNS would give. */
  hosts: string;
  pidFile: string;
  log: string;
  /** Bind-mounted over the node's /run/virtualinux, /var/lib/virtualinux, /etc/virtualinux and /root. */
  run: string;
  lib: string;
  etc: string;
  home: string;
}

export function nodePaths(dir: string, name: string): NodePaths {
  const d = join(dir, 'nodes', name);
  return {
    dir: d,
    hostKey: join(d, 'ssh_host_ed25519_key'),
    hostKeyPub: join(d, 'ssh_host_ed25519_key.pub'),
    sshdConfig: join(d, 'sshd_config'),
    startScript: join(d, 'start.sh'),
    hosts: join(d, 'hosts'),
    pidFile: join(d, 'sshd.pid'),
    log: join(d, 'node.log'),
    run: join(d, 'run'),
    lib: join(d, 'lib'),
    etc: join(d, 'etc'),
    home: join(d, 'home'),
  };
}
