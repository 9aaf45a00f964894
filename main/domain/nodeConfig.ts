import type { InstallPlan, PlannedNode } from './installConfig.js';

/**
 * A disk-less node's own configuration, applied at every boot: iPXE loads it as a second
 * initrd (a cpio the kernel unpacks over the first), and the initrd copies CONFIG_DIR into
 * the root once it is mounted. So nothing is written into a root overlay (no root
 * privileges, no nbd.ko, no guestfish appliance per node on the workstation), a reset
 * overlay gets the same host name, addresses and SSH host keys on its next boot, and
 * `restore --rebuild-config` only rewrites these archives. Pure: names, modes and texts.
 */
export const CONFIG_DIR = 'vlx-node';

export interface ConfigFile { path: string; mode: number; text: string }

/** The node's SSH host key pair, generated once into cluster/<container>/keys/node<N>/. */
export interface HostKeys { ed25519: string; ed25519Pub: string }

export const HOST_KEY_FILES = ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub'] as const;

/**
 * Where a node's host keys are kept, under its container's directory on shared storage:
 * the install makes them there once, and a workstation trusts the public one it reads there.
 */
export function hostKeyDir(clusterDir: string, ordinal: number): string {
  return `${clusterDir}/keys/node${ordinal}`;
}

/**
 * The initramfs-tools hook the node's initrd runs after mounting its root (init-bottom):
 * given here so the image builder and this module agree on CONFIG_DIR.
 */
export function renderApplyConfigHook(): string {
  return [
    '#!/bin/sh',
    '# copies the node configuration that vlx install serves as a second initrd into the root',
    'case "$1" in prereqs) echo; exit 0;; esac',
    `[ -d /${CONFIG_DIR} ] || exit 0`,
    `cp -a /${CONFIG_DIR}/. "\${rootmnt:-/root}/"`,
    '',
  ].join('\n');
}

export function nodeConfigFiles(plan: InstallPlan, n: PlannedNode, keys: HostKeys): ConfigFile[] {
  const c = plan.config;
  const domain = c.gateway.domain;
  const fqdn = (h: string) => (domain ? `${h}.${domain} ${h}` : h);
  const hosts = [
    '127.0.0.1 localhost',
    `127.0.1.1 ${fqdn(n.hostname)}`,
    ...plan.nodes.map((o) => `${o.bootIp} ${fqdn(o.hostname)}`),
    '',
  ].join('\n');
  const dns = c.gateway.dns.length > 0 ? c.gateway.dns : [plan.primary, plan.backup].filter((a, i, all) => all.indexOf(a) === i);
  const resolv = [...(domain ? [`search ${domain}`] : []), ...dns.map((d) => `nameserver ${d}`), ''].join('\n');
  const node = {
    container: c.container, ordinal: n.ordinal, hostname: n.hostname, mac: n.mac,
    bootIp: n.bootIp, bootNetwork: plan.bootNetwork, storageIp: n.storageIp, storageNetwork: plan.storageNetwork,
    gateway: plan.spare, storageServer: plan.storageIp, export: n.exportName,
  };
  return [
    { path: 'etc/hostname', mode: 0o644, text: `${n.hostname}\n` },
    { path: 'etc/hosts', mode: 0o644, text: hosts },
    { path: 'etc/resolv.conf', mode: 0o644, text: resolv },
    { path: 'etc/virtualinux/node.json', mode: 0o644, text: JSON.stringify(node, null, 2) + '\n' },
    { path: 'etc/ssh/ssh_host_ed25519_key', mode: 0o600, text: keys.ed25519 },
    { path: 'etc/ssh/ssh_host_ed25519_key.pub', mode: 0o644, text: keys.ed25519Pub },
    { path: 'root/.ssh/authorized_keys', mode: 0o600, text: c.sshKeys.join('\n') + '\n' },
  ];
}
