import { posix } from 'node:path';
import { invalid } from '../errors.js';
import { checkName } from '../util/names.js';
import { sh } from '../util/quote.js';
import { checkMac, checkPath } from '../vm/qemuArgs.js';

/**
 * The per-VM NoCloud seed: the convention cloud-init reads from a small volume labelled
 * "cidata" holding meta-data, user-data and network-config. A new instance-id makes
 * cloud-init treat the VM as a new instance, which regenerates its sshd host keys: every
 * overlay of one template would otherwise share the template's keys.
 */
export interface SeedInput {
  /** Unique per VM incarnation: cloud-init re-runs its per-instance steps when it changes. */
  instanceId: string;
  hostname: string;
  mac: string;
  /** address/prefix, e.g. 10.200.3.4/24 */
  address: string;
  gateway?: string;
  nameservers?: string[];
  /** Public keys allowed to log in as root (the app's key). */
  sshKeys: string[];
  /** An NFS export to mount (the VC's shared storage), as ADDRESS:/path. */
  nfsMount?: { source: string; target: string; options: string };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const SSH_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( [\x21-\x7e ]{0,200})?$/;

function checkSeed(s: SeedInput): void {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(s.instanceId)) throw invalid('instanceId', 'must be 1-64 letters, digits, ".", "_" or "-"', s.instanceId);
  checkName('vm', s.hostname, 'hostname');
  checkMac(s.mac, 'mac');
  const [ip, prefix, extra] = s.address.split('/');
  if (extra !== undefined || !IPV4.test(ip ?? '') || !/^\d{1,2}$/.test(prefix ?? '') || Number(prefix) > 32 || Number(prefix) < 1) {
    throw invalid('address', 'must be IPv4/prefix, e.g. 10.200.3.4/24', s.address);
  }
  if (s.gateway !== undefined && !IPV4.test(s.gateway)) throw invalid('gateway', 'must be an IPv4 address', s.gateway);
  for (const n of s.nameservers ?? []) if (!IPV4.test(n)) throw invalid('nameservers', 'must be IPv4 addresses', n);
  for (const k of s.sshKeys) if (!SSH_KEY.test(k.trim())) throw invalid('sshKeys', 'must be OpenSSH public keys (type, base64, optional comment)', k.slice(0, 40));
  if (s.nfsMount) {
    const m = s.nfsMount;
    const [host, ...rest] = m.source.split(':');
    if (!IPV4.test(host ?? '') || !/^\/[A-Za-z0-9._/-]*$/.test(rest.join(':'))) throw invalid('nfsMount.source', 'must be IPv4:/path', m.source);
    if (!/^\/[A-Za-z0-9._/-]+$/.test(m.target)) throw invalid('nfsMount.target', 'must be an absolute path of letters, digits, ".", "_", "-" and "/"', m.target);
    if (!/^[A-Za-z0-9_=.,-]+$/.test(m.options)) throw invalid('nfsMount.options', 'must be comma-separated mount options', m.options);
  }
}

/** YAML scalars we emit are validated above to need no quoting, except key comments: JSON strings are valid YAML. */
export function renderMetaData(s: SeedInput): string {
  checkSeed(s);
  return `instance-id: ${s.instanceId}\nlocal-hostname: ${s.hostname}\n`;
}

export function renderUserData(s: SeedInput): string {
  checkSeed(s);
  const keys = s.sshKeys.map((k) => `  - ${JSON.stringify(k.trim())}`).join('\n');
  return [
    '#cloud-config',
    `hostname: ${s.hostname}`,
    'preserve_hostname: false',
    'manage_etc_hosts: true',
    'disable_root: false',
    'ssh_pwauth: false',
    // Per-instance host keys: delete the template's, make new ones.
    'ssh_deletekeys: true',
    'ssh_genkeytypes: [ed25519, ecdsa, rsa]',
    ...(keys ? ['ssh_authorized_keys:', keys] : []),
    // _netdev waits for the network; nofail lets the VM boot (and say so) if the share is not served.
    ...(s.nfsMount ? ['mounts:', `  - [ "${s.nfsMount.source}", "${s.nfsMount.target}", nfs, "${s.nfsMount.options},_netdev,nofail", "0", "0" ]`] : []),
    '',
  ].join('\n');
}

/** Network config v2, matched by MAC so the guest's interface name does not matter. */
export function renderNetworkConfig(s: SeedInput): string {
  checkSeed(s);
  const lines = [
    'version: 2',
    'ethernets:',
    '  vlx0:',
    '    match:',
    `      macaddress: "${s.mac}"`,
    '    set-name: eth0',
    `    addresses: [${s.address}]`,
  ];
  if (s.gateway) {
    // on-link: in the routed design the gateway is the hosting node's tap, whatever the prefix.
    lines.push('    routes:', '      - to: 0.0.0.0/0', `        via: ${s.gateway}`, '        on-link: true');
  }
  if (s.nameservers?.length) lines.push('    nameservers:', `      addresses: [${s.nameservers.join(', ')}]`);
  return lines.join('\n') + '\n';
}

/**
 * One shell command that writes the seed volume at `seedPath` on a node: a 1 MiB FAT
 * image made with mkfs.vfat and filled with mcopy, so no loop device and no mount is
 * needed. Built under a temporary name and renamed, so a half-made seed is never used.
 */
export function seedCommand(seedPath: string, s: SeedInput): string {
  checkPath(seedPath, 'seedPath');
  const files: [string, string][] = [
    ['meta-data', renderMetaData(s)],
    ['user-data', renderUserData(s)],
    ['network-config', renderNetworkConfig(s)],
  ];
  const tmp = `${seedPath}.tmp`;
  const dir = `${seedPath}.d`;
  return [
    `rm -rf ${sh(dir)} ${sh(tmp)}`,
    sh('mkdir', '-p', dir, posix.dirname(seedPath)),
    ...files.map(([name, body]) => `printf '%s' ${sh(body)} > ${sh(`${dir}/${name}`)}`),
    `${sh('mkfs.vfat', '-C', '-n', 'CIDATA', tmp, '1024')} >/dev/null`,
    sh('mcopy', '-o', '-i', tmp, ...files.map(([name]) => `${dir}/${name}`), '::'),
    sh('rm', '-rf', dir),
    sh('mv', '-f', tmp, seedPath),
  ].join(' && ');
}
