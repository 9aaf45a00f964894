import { NODE_ETC, NODE_LIB, NODE_RUN, SHARED_ROOT } from '../config/paths.js';
import { Manifest } from '../domain/manifest.js';
import { sh } from '../util/quote.js';
import { CLUSTER_NAME, CLUSTER_NETWORK, type LabNodeLayout, type LabOptions, type NodePaths } from './layout.js';
import { OUTSIDE_ADDRESS, OUTSIDE_NETMASK, PUBLIC_ADDRESS } from './outside.js';

/** The node's own sshd: key-only root login, forwarding on (QMP, serial and DB go through it). */
export function renderSshdConfig(node: LabNodeLayout, p: NodePaths): string {
  return [
    `# lab node ${node.name}: written by vlx lab up`,
    `ListenAddress ${node.address}`,
    'Port 22',
    `HostKey ${p.hostKey}`,
    `PidFile ${p.pidFile}`,
    'UsePAM no',
    // The lab dir may sit under a group-writable parent; the keys are ours anyway.
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'AllowTcpForwarding yes',
    'AllowStreamLocalForwarding yes',
    // Many parallel channels per pooled connection, many connections in a burst (benchmarks).
    'MaxSessions 64',
    'MaxStartups 100:30:200',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

export interface StartScriptInput {
  node: LabNodeLayout;
  paths: NodePaths;
  shared: string;
}

/**
 * Runs as the first process of the node, already inside its network namespace and a fresh
 * UTS + mount namespace: gives it its hostname and private directories, then becomes sshd.
 * Every value goes through sh(), although checkLabDir already keeps paths plain.
 */
export function renderStartScript({ node, paths, shared }: StartScriptInput): string {
  const binds: [string, string][] = [
    [shared, SHARED_ROOT],
    [paths.run, NODE_RUN],
    [paths.lib, NODE_LIB],
    [paths.etc, NODE_ETC],
    // A root home of its own: the host root's .bashrc would run for every remote command.
    [paths.home, '/root'],
    // Daemons look up their own node's name (NFS-Ganesha waits 10 s per failed lookup).
    [paths.hosts, '/etc/hosts'],
  ];
  return [
    '#!/bin/sh',
    `# lab node ${node.name}: written by vlx lab up; started under ip netns exec + unshare`,
    'set -e',
    // /proc/sys/kernel/hostname is per UTS namespace, /proc/sys/net per network namespace.
    sh('echo', node.name) + ' > /proc/sys/kernel/hostname',
    'echo 1 > /proc/sys/net/ipv4/ip_forward',
    // A /run of its own, as a real node's tmpfs: daemons that keep pid files and sockets at
    // fixed paths (sshd, keepalived, PostgreSQL) can then run on several nodes at once.
    sh('mount', '-t', 'tmpfs', '-o', 'mode=0755,nosuid,nodev,size=64m', 'vlx-run', '/run'),
    sh('mkdir', '-p', NODE_RUN, '/run/sshd', '/run/lock'),
    sh('chmod', '1777', '/run/lock'),
    // What postgresql-common's tmpfiles.d would create at boot on a real node.
    'if id postgres >/dev/null 2>&1; then ' + sh('install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '2775', '/run/postgresql') + '; fi',
    ...binds.map(([from, to]) => sh('mount', '--bind', from, to)),
    sh('exec', '/usr/sbin/sshd', '-D', '-e', '-f', paths.sshdConfig),
    '',
  ].join('\n');
}

/** The lab's /etc/hosts: loopback and every node by name. */
export function renderHostsFile(nodes: readonly LabNodeLayout[]): string {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...nodes.map((n) => `${n.address}\t${n.name}`), ''].join('\n');
}

/** Declared capacity, read by the app as the node's /etc/virtualinux/node.json. */
export function renderNodeJson(node: LabNodeLayout, opts: LabOptions): string {
  return JSON.stringify({ name: node.name, cores: opts.cores, memMb: opts.memMb }, null, 2) + '\n';
}

/** The lab's manifest; a DB endpoint recorded by an earlier deploy (and the VC pool) are kept. */
export function buildManifest(nodes: LabNodeLayout[], opts: LabOptions, previous?: unknown): Manifest {
  const prev = Manifest.safeParse(previous);
  const keepDb = prev.success && prev.data.db && nodes.some((n) => n.name === prev.data.db?.node) ? prev.data.db : undefined;
  return Manifest.parse({
    version: 1,
    name: CLUSTER_NAME,
    sharedRoot: SHARED_ROOT,
    nodes: nodes.map((n) => ({ name: n.name, address: n.address, mac: n.mac, cores: opts.cores, memMb: opts.memMb })),
    ...(keepDb ? { db: keepDb } : {}),
    ...(prev.success ? { vcSubnetPool: prev.data.vcSubnetPool } : {}),
    clusterNetwork: CLUSTER_NETWORK,
    // The outside namespace (outside.ts) is the public network: `vlx services deploy` sets it up.
    gateway: { public: { ip: PUBLIC_ADDRESS, netmask: OUTSIDE_NETMASK, router: OUTSIDE_ADDRESS } },
  });
}
